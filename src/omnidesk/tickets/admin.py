"""Tenant configuration of tickets: types and templates, SLA policies, calendar, settings, automation rules,
saved views and temporary permission grants. Admin-only except saved views (anyone who reads tickets)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts import queries as accounts_queries
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.security.permissions import Perm
from omnidesk.tickets import automation, clocks, ops, queries, sla
from omnidesk.tickets.fields import validate_template
from omnidesk.tickets.models import AutomationRule, PermissionGrant, SavedView, SlaPolicy, TicketType
from omnidesk.tickets.rules import Rule, find_cycle, validate_rule
from omnidesk.tickets.schemas import GrantCreate, PolicyIn, RuleIn, SettingsIn, TypeCreate, TypeUpdate, ViewIn
from omnidesk.tickets.states import Priority


def _fields(data: TypeCreate | TypeUpdate) -> list[dict[str, Any]]:
    return validate_template([f.model_dump(exclude_none=True) for f in data.fields or []])


def create_type(session: Session, actor: Actor, data: TypeCreate) -> TicketType:
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    ops.ensure_settings(session, actor.tenant_id)
    if session.scalar(select(TicketType.id).where(TicketType.key == data.key)):
        raise Conflict(f"a ticket type '{data.key}' already exists")
    if data.default_team_id:
        accounts_queries.get_team(session, data.default_team_id)
    row = TicketType(
        tenant_id=actor.tenant_id,
        key=data.key,
        name=data.name,
        fields=_fields(data),
        default_team_id=data.default_team_id,
        default_priority=data.default_priority.value,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "ticket_type.create", "ticket_type", row.id, {"key": row.key})
    return row


def update_type(session: Session, actor: Actor, key: str, data: TypeUpdate) -> TicketType:
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    ops.ensure_settings(session, actor.tenant_id)
    row = session.scalar(select(TicketType).where(TicketType.key == key))
    if row is None:
        raise NotFound(f"no ticket type '{key}'")
    given = data.model_dump(exclude_unset=True)
    if "fields" in given:
        row.fields = _fields(data)
    if "name" in given and data.name:
        row.name = data.name
    if "default_team_id" in given:
        row.default_team_id = (
            accounts_queries.get_team(session, data.default_team_id).id if data.default_team_id else None
        )
    if data.default_priority is not None:
        row.default_priority = data.default_priority.value
    if data.is_active is not None:
        if row.builtin and not data.is_active:
            raise InvalidInput("built-in types cannot be deactivated")
        row.is_active = data.is_active
    session.flush()
    audit.record(session, actor, "ticket_type.update", "ticket_type", row.id, {"fields": sorted(given)})
    return row


def put_policy(session: Session, actor: Actor, data: PolicyIn) -> SlaPolicy:
    """Create or replace the targets for (type, priority). Existing tickets keep their clocks until they change."""
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    if data.type_key != "*":
        ops.ensure_settings(session, actor.tenant_id)
        queries.get_type(session, data.type_key)
    if data.first_response_minutes > data.resolution_minutes:
        raise InvalidInput("the first-response target cannot be longer than the resolution target")
    row = session.scalar(
        select(SlaPolicy).where(SlaPolicy.type_key == data.type_key, SlaPolicy.priority == data.priority.value)
    )
    if row is None:
        row = SlaPolicy(
            tenant_id=actor.tenant_id,
            type_key=data.type_key,
            priority=data.priority.value,
            first_response_minutes=0,
            resolution_minutes=0,
        )
        session.add(row)
    row.first_response_minutes = data.first_response_minutes
    row.resolution_minutes = data.resolution_minutes
    row.warn_percent = data.warn_percent
    row.business_hours = data.business_hours
    session.flush()
    queries.forget_policies(session)
    audit.record(session, actor, "sla_policy.put", "sla_policy", row.id, data.model_dump(mode="json"))
    return row


def delete_policy(session: Session, actor: Actor, policy_id: uuid.UUID) -> None:
    """Remove the targets for one (type, priority); tickets then fall back to the ``*`` policy or the defaults.
    Existing tickets keep their clocks until they change, as with :func:`put_policy`."""
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.id == policy_id))
    if row is None:
        raise NotFound("no SLA policy with this id")
    facts = {"type_key": row.type_key, "priority": row.priority}
    session.delete(row)
    session.flush()
    queries.forget_policies(session)
    audit.record(session, actor, "sla_policy.delete", "sla_policy", policy_id, facts)


def update_settings(session: Session, actor: Actor, data: SettingsIn) -> Any:
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    row = ops.ensure_settings(session, actor.tenant_id)
    given = data.model_dump(exclude_unset=True)
    if data.calendar is not None:
        row.calendar = sla.calendar_spec(sla.parse_calendar(data.calendar))
        clocks.forget_calendar(session)
    if data.approval_chain is not None:
        row.approval_chain = data.approval_chain
    if data.refund_threshold is not None:
        row.refund_threshold = data.refund_threshold
    if data.routing_rules is not None:
        row.routing_rules = [_routing_rule(session, i, r) for i, r in enumerate(data.routing_rules)]
    if "complaint_team_id" in given:
        row.complaint_team_id = (
            accounts_queries.get_team(session, data.complaint_team_id).id if data.complaint_team_id else None
        )
    if data.survey_enabled is not None:
        row.survey_enabled = data.survey_enabled
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "ticket_settings.update", "ticket_settings", row.id, {"fields": sorted(given)})
    return row


def _routing_rule(session: Session, index: int, rule: dict[str, Any]) -> dict[str, Any]:
    where = f"routing_rules[{index}]"
    extra = set(rule) - {"name", "keywords", "intents", "team_id", "priority", "category"}
    if extra:
        raise InvalidInput(f"{where}: unknown properties {', '.join(sorted(extra))}")
    keywords = rule.get("keywords", [])
    intents = rule.get("intents", [])
    if not isinstance(keywords, list) or not isinstance(intents, list) or not (keywords or intents):
        raise InvalidInput(f"{where}: needs a list of keywords or intents")
    if rule.get("priority") is not None and rule["priority"] not in set(Priority):
        raise InvalidInput(f"{where}: unknown priority")
    team_id = rule.get("team_id")
    if team_id is not None:
        try:
            team_id = str(accounts_queries.get_team(session, uuid.UUID(str(team_id))).id)
        except ValueError:
            raise InvalidInput(f"{where}: team_id is not an id") from None
    return {
        "name": str(rule.get("name") or f"rule {index + 1}")[:120],
        "keywords": [str(k)[:100] for k in keywords],
        "intents": [str(i)[:80] for i in intents],
        "team_id": team_id,
        "priority": rule.get("priority"),
        "category": (str(rule["category"])[:80] if rule.get("category") else None),
    }


def _check_rules(session: Session, candidate: AutomationRule) -> None:
    """Validate one rule against the tenant's fields, then refuse a loop among all enabled rules."""
    validate_rule(candidate.trigger, candidate.conditions, candidate.actions, queries.custom_keys(session))
    if not candidate.enabled:
        return
    others = [r for r in queries.enabled_rules(session) if r.id != candidate.id]
    views = [Rule(r.id, r.name, r.trigger, r.conditions, r.actions) for r in [*others, candidate]]
    cycle = find_cycle(views)
    if cycle:
        raise InvalidInput(
            "these rules would trigger each other in a loop: " + " → ".join(cycle),
            errors=[{"field": "actions", "message": "loop: " + " → ".join(cycle)}],
        )


def save_rule(session: Session, actor: Actor, data: RuleIn, rule_id: uuid.UUID | None = None) -> AutomationRule:
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    ops.ensure_settings(session, actor.tenant_id)
    if rule_id is None:
        row = AutomationRule(tenant_id=actor.tenant_id, id=uuid.uuid4())
    else:
        found = session.scalar(select(AutomationRule).where(AutomationRule.id == rule_id))
        if found is None:
            raise NotFound("no automation rule with this id")
        row = found
    clash = session.scalar(select(AutomationRule.id).where(AutomationRule.name == data.name))
    if clash is not None and clash != row.id:
        raise Conflict(f"a rule named '{data.name}' already exists")
    probe = AutomationRule(
        id=row.id,
        name=data.name,
        enabled=data.enabled,
        trigger=data.trigger,
        conditions=data.conditions,
        actions=data.actions,
    )
    _check_rules(session, probe)
    for name in ("name", "enabled", "position", "trigger", "conditions", "actions"):
        setattr(row, name, getattr(data, name))
    row.updated_at = utcnow()
    if rule_id is None:
        session.add(row)
    session.flush()
    automation.forget_rules(session)
    audit.record(session, actor, "automation.save", "automation_rule", row.id, {"name": row.name})
    return row


def delete_rule(session: Session, actor: Actor, rule_id: uuid.UUID) -> None:
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    row = session.scalar(select(AutomationRule).where(AutomationRule.id == rule_id))
    if row is None:
        raise NotFound("no automation rule with this id")
    session.delete(row)
    automation.forget_rules(session)
    audit.record(session, actor, "automation.delete", "automation_rule", rule_id, {"name": row.name})


def save_view(session: Session, actor: Actor, data: ViewIn) -> SavedView:
    """A view belongs to whoever saved it: a person, or an API key (a key is nobody, so its views are its own and
    not those of every other key)."""
    actor.require(Perm.TICKETS_READ)
    allowed = {"status", "priority", "type_key", "team_id", "assignee", "escalated", "channel", "category", "q"}
    unknown = set(data.filters) - allowed
    if unknown:
        raise InvalidInput(f"unknown filters: {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}")
    if data.shared:
        queries.require_perm(session, actor, Perm.TICKETS_REPORTS)
    row = session.scalar(select(SavedView).where(SavedView.owner_id == actor.id, SavedView.name == data.name))
    created = row is None
    if row is None:
        row = SavedView(tenant_id=actor.tenant_id, owner_id=actor.id, name=data.name)
        session.add(row)
        before: dict[str, Any] = {}
    else:
        before = {"filters": row.filters, "shared": row.shared}
    row.filters = data.filters
    row.shared = data.shared
    session.flush()
    after = {"filters": row.filters, "shared": row.shared}
    action = "ticket_view.create" if created else "ticket_view.update"
    audit.record(session, actor, action, "ticket_view", row.id, {"name": row.name, **audit.diff(before, after)})
    return row


def delete_view(session: Session, actor: Actor, view_id: uuid.UUID) -> None:
    """Its owner deletes a view; a shared view of someone else needs ``tickets.reports`` (who may share views)."""
    actor.require(Perm.TICKETS_READ)
    row = session.scalar(select(SavedView).where(SavedView.id == view_id))
    own = row is not None and row.owner_id == actor.id
    if row is None or not (own or row.shared):
        raise NotFound("no saved view with this id")
    if not own:
        queries.require_perm(session, actor, Perm.TICKETS_REPORTS)
    audit.record(session, actor, "ticket_view.delete", "ticket_view", row.id, {"name": row.name, "shared": row.shared})
    session.delete(row)
    session.flush()


def list_views(session: Session, actor: Actor) -> list[SavedView]:
    actor.require(Perm.TICKETS_READ)
    from sqlalchemy import or_

    return list(
        session.scalars(
            select(SavedView)
            .where(or_(SavedView.owner_id == actor.id, SavedView.shared.is_(True)))
            .order_by(SavedView.name)
        )
    )


GRANTABLE = frozenset({Perm.TICKETS_READ_ALL, Perm.TICKETS_APPROVE, Perm.TICKETS_REPORTS, Perm.TICKETS_ASSIGN})


def grant(session: Session, actor: Actor, data: GrantCreate) -> PermissionGrant:
    """A temporary permission that lapses by itself at ``expires_at`` (checked on every use)."""
    actor.require(Perm.TICKETS_ADMIN)
    if data.permission not in {p.value for p in GRANTABLE}:
        raise InvalidInput(f"grantable permissions: {', '.join(sorted(p.value for p in GRANTABLE))}")
    person = accounts_queries.get_staff(session, data.staff_id)
    row = PermissionGrant(
        tenant_id=actor.tenant_id,
        staff_id=person.id,
        permission=data.permission,
        granted_by=actor.id,
        reason=data.reason,
        expires_at=utcnow() + timedelta(minutes=data.minutes),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "permission.grant",
        "staff",
        person.id,
        {"permission": data.permission, "expires_at": row.expires_at.isoformat()},
    )
    return row
