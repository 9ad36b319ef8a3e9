"""Seeding the demo tenant's tickets (Skylark Mall) through the tickets actions, from ``demo/data/tickets.json``."""

from __future__ import annotations

import json
import uuid
from importlib import resources
from typing import Any

from sqlalchemy import select

from omnidesk.accounts.models import StaffUser, Team, TeamMember
from omnidesk.core.actor import Actor, ActorKind, system_actor
from omnidesk.core.db import Database
from omnidesk.customers.models import Customer
from omnidesk.security.permissions import Role
from omnidesk.tickets import actions, admin, ops
from omnidesk.tickets.schemas import (
    FieldDef,
    MessageIn,
    PolicyIn,
    RuleIn,
    SettingsIn,
    TicketCreate,
    TransferIn,
    Transition,
    TypeCreate,
)
from omnidesk.tickets.states import Priority, Status


def ticket_data() -> dict[str, Any]:
    text = resources.files("omnidesk.demo").joinpath("data/tickets.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def seed_tickets(db: Database, tenant_id: uuid.UUID, base: dict[str, Any]) -> None:
    """Seed the demo tickets into the demo tenant whose teams, staff and customers ``base`` (the demo's own data,
    handed over by ``demo.seed``, which sits above every slice) describes."""
    data = ticket_data()
    system = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        teams = {t["key"]: s.scalar(select(Team.id).where(Team.name == t["name"])) for t in base["teams"]}
        staff = {
            p["key"]: s.scalars(select(StaffUser).where(StaffUser.email == p["email"])).one() for p in base["staff"]
        }
        customers = {
            c["key"]: s.scalar(select(Customer.id).where(Customer.name == c["name"])) for c in base["customers"]
        }
        for policy in data["policies"]:
            admin.put_policy(s, system, PolicyIn.model_validate(policy))
        rules = [
            {**{k: v for k, v in r.items() if k != "team"}, "team_id": str(teams[r["team"]])}
            for r in data["routing_rules"]
        ]
        admin.update_settings(
            s,
            system,
            SettingsIn(
                calendar=data["calendar"],
                refund_threshold=data["refund_threshold"],
                complaint_team_id=teams[data["complaint_team"]],
                routing_rules=rules,
            ),
        )
        for spec in data["types"]:
            admin.create_type(
                s,
                system,
                TypeCreate(
                    key=spec["key"],
                    name=spec["name"],
                    default_team_id=teams[spec["team"]],
                    default_priority=Priority(spec["default_priority"]),
                    fields=[FieldDef.model_validate(f) for f in spec["fields"]],
                ),
            )
        for rule in data["automations"]:
            admin.save_rule(s, system, RuleIn.model_validate(rule))
        for item in data["tickets"]:
            person = staff[item["by"]]
            member_of = frozenset(s.scalars(select(TeamMember.team_id).where(TeamMember.user_id == person.id)))
            actor = Actor(
                tenant_id=tenant_id, kind=ActorKind.STAFF, id=person.id, role=Role(person.role), team_ids=member_of
            )
            concerned = staff[item["concerned"]].id if item.get("concerned") else None
            ticket = actions.create_ticket(
                s,
                actor,
                TicketCreate(
                    type=item["type"],
                    subject=item["subject"],
                    description=item["description"],
                    customer_id=customers[item["customer"]],
                    channel=item["channel"],
                    custom_fields=item.get("custom_fields", {}),
                    major=item.get("major", False),
                    concerned_staff_id=concerned,
                ),
                source="workspace",
            )
            for step in item["steps"]:
                if step[0] in ("reply", "comment"):
                    actions.post_message(s, actor, ticket.id, MessageIn(body=step[1], public=step[0] == "reply"))
                elif step[0] == "status":
                    actions.transition(
                        s,
                        actor,
                        ticket.id,
                        Transition(
                            version=ticket.version,
                            status=Status(step[1]),
                            resolution=step[2] if len(step) > 2 else None,
                        ),
                    )
                else:
                    actions.transfer(s, actor, ticket.id, TransferIn(team_id=teams[step[1]], note=step[2]))
        ops.ensure_settings(s, tenant_id)
