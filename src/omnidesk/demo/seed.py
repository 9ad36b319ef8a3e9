"""Seeding the demo tenant through the same actions a person would use, so the demo is real data.

Idempotent: seeding an existing demo tenant changes nothing. Later slices (knowledge, bot, tickets) add their own
``seed_*`` step reading their section of ``data/skylark.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import select

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.models import StaffUser, Tenant
from omnidesk.accounts.schemas import StaffCreate, TeamCreate, TenantCreate
from omnidesk.bot.brains import Brains
from omnidesk.bot.demo import repoint_connectors, seed_bot
from omnidesk.channels.widget.demo import seed_live
from omnidesk.conversations import actions as conversations
from omnidesk.conversations.schemas import ConversationCreate, ConversationUpdate, SenderType
from omnidesk.conversations.states import Priority, Status
from omnidesk.core.actor import Actor, ActorKind, system_actor
from omnidesk.core.db import Database
from omnidesk.customers import actions as customers
from omnidesk.customers.schemas import CustomerCreate
from omnidesk.knowledge.demo import seed_knowledge
from omnidesk.quality.demo import seed_quality
from omnidesk.security import passwords
from omnidesk.security.permissions import Role
from omnidesk.tickets.demo import seed_tickets


@dataclass
class DemoLogin:
    role: str
    email: str
    password: str


@dataclass
class DemoResult:
    created: bool
    tenant_slug: str
    logins: list[DemoLogin] = field(default_factory=list)


def demo_data() -> dict[str, Any]:
    text = resources.files("omnidesk.demo").joinpath("data/skylark.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def seed_demo(db: Database, *, orders_base: str = "http://127.0.0.1:8765", brains: Brains | None = None) -> DemoResult:
    data = demo_data()
    spec = data["tenant"]
    logins = [DemoLogin(s["role"], s["email"], s["password"]) for s in data["staff"]]
    with db.platform_transaction() as s:
        existing = s.scalar(select(Tenant.id).where(Tenant.slug == spec["slug"]))
    if existing is not None:
        # Seeded by an earlier run, whose order service may have listened on another port.
        repoint_connectors(db, existing, orders_base)
        return DemoResult(created=False, tenant_slug=spec["slug"], logins=logins)
    with db.platform_transaction() as s:
        tenant, admin, _ = accounts.create_tenant(
            s,
            TenantCreate(
                slug=spec["slug"],
                name=spec["name"],
                admin_email=data["staff"][0]["email"],
                default_language=spec["default_language"],
                time_zone=spec["time_zone"],
            ),
        )
        admin.display_name = data["staff"][0]["display_name"]
        admin.password_hash = passwords.hash_password(data["staff"][0]["password"])
        admin.must_change_password = False  # the demo's published password, not a one-time one
        tenant_id = tenant.id
    system = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        first_admin = s.scalar(select(StaffUser).where(StaffUser.email == data["staff"][0]["email"]))
        assert first_admin is not None, "create_tenant made the first admin in the transaction above"
        staff = {data["staff"][0]["key"]: first_admin}
        for item in data["staff"][1:]:
            user, _ = accounts.do_create_staff(
                s,
                system,
                StaffCreate(
                    email=item["email"],
                    display_name=item["display_name"],
                    role=Role(item["role"]),
                    language=item["language"],
                    password=item["password"],
                    max_concurrent=item.get("max_concurrent", 5),
                ),
            )
            staff[item["key"]] = user
        teams = {}
        for item in data["teams"]:
            team = accounts.create_team(
                s,
                system,
                TeamCreate(name=item["name"], description=item["description"], skills=item["skills"]),
            )
            teams[item["key"]] = team
            for member in item["members"]:
                accounts.add_team_member(s, system, team.id, staff[member].id)
        seed_quality(s, system)  # before the seeded conversations are resolved: their scores are queued
        people = {}
        for item in data["customers"]:
            people[item["key"]] = customers.create_customer(
                s,
                system,
                CustomerCreate.model_validate({k: v for k, v in item.items() if k != "key"}),
            )
        for item in data["conversations"]:
            customer = people[item["customer"]]
            conversation = conversations.open_conversation(
                s,
                system,
                ConversationCreate(
                    customer_id=customer.id,
                    channel=item["channel"],
                    subject=item["subject"],
                    team_id=teams[item["team"]].id,
                    priority=Priority(item.get("priority", "normal")),
                    tags=item["tags"],
                ),
            )
            agent = staff.get(item.get("assignee", ""))
            agent_actor = (
                Actor(tenant_id=tenant_id, kind=ActorKind.STAFF, id=agent.id, role=Role(agent.role))
                if agent
                else system
            )
            for sender, body in item["messages"]:
                if sender == "customer":
                    conversations.relay_customer_message(s, system, conversation, body)
                    continue
                conversations.do_post_message(
                    s,
                    agent_actor if sender == "agent" else system,
                    conversation,
                    body=body,
                    sender_type=SenderType(sender),
                    sender_id=agent.id if agent else None,
                )
            for note in item.get("notes", []):
                conversations.do_post_message(
                    s,
                    agent_actor,
                    conversation,
                    body=note,
                    sender_type=SenderType.AGENT,
                    sender_id=agent_actor.id,
                    internal=True,
                )
            update = ConversationUpdate(
                assignee_id=agent.id if agent else None,
                status=Status(item["status"]) if item["status"] != "open" else None,
            )
            if agent or item["status"] != "open":
                s.flush()
                conversations.update_conversation(s, system, conversation.id, update)
    seed_knowledge(db, tenant_id)
    seed_bot(db, tenant_id, orders_base, brains)
    seed_tickets(db, tenant_id, data)
    seed_live(db, tenant_id)
    return DemoResult(created=True, tenant_slug=spec["slug"], logins=logins)
