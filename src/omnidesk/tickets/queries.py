"""Read helpers of the tickets slice, including who may see which ticket."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import Tenant
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import NotFound
from omnidesk.core.pagination import decode_cursor
from omnidesk.security.permissions import Perm
from omnidesk.tickets.models import (
    AutomationRule,
    PermissionGrant,
    SlaClock,
    SlaPolicy,
    Ticket,
    TicketChange,
    TicketMessage,
    TicketSettings,
    TicketType,
    TicketWatcher,
)


def has_perm(session: Session, actor: Actor, perm: Perm) -> bool:
    """The role's permission, or a temporary grant that has not yet expired (expiry needs nobody to act)."""
    if actor.can(perm):
        return True
    if actor.staff_id is None:
        return False
    return (
        session.scalar(
            select(PermissionGrant.id).where(
                PermissionGrant.staff_id == actor.staff_id,
                PermissionGrant.permission == perm.value,
                PermissionGrant.expires_at > utcnow(),
            )
        )
        is not None
    )


def require_perm(session: Session, actor: Actor, perm: Perm) -> None:
    if not has_perm(session, actor, perm):
        actor.require(perm)


def visible_to(session: Session, actor: Actor) -> ColumnElement[bool] | None:
    """Agents see tickets assigned to them, unassigned ones, their teams' and those they watch; others all.

    An API key is nobody: with a role without ``tickets.read_all`` it sees what an agent with no assignments, no
    teams and no watched tickets would see, the unassigned tickets (docs/api.md, "What an API key may see").
    """
    if has_perm(session, actor, Perm.TICKETS_READ_ALL):
        return None
    clauses: list[ColumnElement[bool]] = [Ticket.assignee_id.is_(None)]
    if actor.staff_id is not None:
        clauses.append(Ticket.assignee_id == actor.staff_id)
        clauses.append(
            exists().where(and_(TicketWatcher.ticket_id == Ticket.id, TicketWatcher.staff_id == actor.staff_id))
        )
    if actor.team_ids:
        clauses.append(Ticket.team_id.in_(actor.team_ids))
    return or_(*clauses)


def get_ticket(session: Session, actor: Actor, ticket_id: uuid.UUID, *, include_deleted: bool = False) -> Ticket:
    actor.require(Perm.TICKETS_READ)
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if not include_deleted:
        stmt = stmt.where(Ticket.deleted_at.is_(None))
    scope = visible_to(session, actor)
    if scope is not None:
        stmt = stmt.where(scope)
    ticket = session.scalar(stmt)
    if ticket is None:
        raise NotFound("no ticket with this id")
    return ticket


FILTERS = ("status", "priority", "type_key", "team_id", "customer_id", "channel", "category")


def list_tickets(
    session: Session, actor: Actor, *, filters: dict[str, Any], cursor: str | None, limit: int
) -> tuple[list[Ticket], bool]:
    """Newest first with keyset pagination; ``status`` may be a list; ``open_only`` hides resolved/closed."""
    actor.require(Perm.TICKETS_READ)
    stmt = select(Ticket).where(Ticket.deleted_at.is_(None))
    scope = visible_to(session, actor)
    if scope is not None:
        stmt = stmt.where(scope)
    for name in FILTERS:
        value = filters.get(name)
        if value is None or value == []:
            continue
        column = getattr(Ticket, name)
        stmt = stmt.where(column.in_(value) if isinstance(value, list) else column == value)
    assignee = filters.get("assignee")
    if assignee == "me":
        # An API key is nobody, so nothing is assigned to it ("== None" would mean "unassigned" in SQL).
        stmt = stmt.where(Ticket.assignee_id == actor.staff_id if actor.staff_id is not None else false())
    elif assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif isinstance(assignee, uuid.UUID):
        stmt = stmt.where(Ticket.assignee_id == assignee)
    if filters.get("escalated") is not None:
        stmt = stmt.where(Ticket.escalated.is_(bool(filters["escalated"])))
    if filters.get("q"):
        stmt = stmt.where(Ticket.subject.contains(str(filters["q"]), autoescape=True))
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < row_id)))
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


BUILTIN_TYPES = {
    "inquiry": ("咨询 Inquiry", "normal"),
    "request": ("服务请求 Request", "normal"),
    "fault": ("故障 Fault", "high"),
    "complaint": ("投诉 Complaint", "high"),
}


_BUILTIN_NAMESPACE = uuid.UUID("0b8f3c52-2a1e-4d55-8f0e-6c7d1b6e0a22")


def builtin_type_id(tenant_id: uuid.UUID, key: str) -> uuid.UUID:
    """A built-in type's id, the same before and after its row is stored (listing it stores nothing)."""
    return uuid.uuid5(_BUILTIN_NAMESPACE, f"{tenant_id}:{key}")


def default_settings(tenant_id: uuid.UUID) -> TicketSettings:
    """The settings a tenant has before anyone changed them: an unsaved row (``ops.ensure_settings`` stores it)."""
    return TicketSettings(
        tenant_id=tenant_id,
        calendar={},
        approval_chain=["supervisor", "admin"],
        refund_threshold=500.0,
        routing_rules=[],
        complaint_team_id=None,
        survey_enabled=True,
        last_number=0,
    )


def builtin_type(tenant_id: uuid.UUID, key: str) -> TicketType:
    name, priority = BUILTIN_TYPES[key]
    return TicketType(
        id=builtin_type_id(tenant_id, key),
        tenant_id=tenant_id,
        key=key,
        name=name,
        builtin=True,
        fields=[],
        default_team_id=None,
        default_priority=priority,
        is_active=True,
    )


def ticket_settings(session: Session, tenant_id: uuid.UUID) -> TicketSettings:
    """The tenant's ticket settings; the defaults (unsaved) until an action stores them. A read: never writes."""
    row = session.scalar(select(TicketSettings))
    return row if row is not None else default_settings(tenant_id)


def tenant_time_zone(session: Session, tenant_id: uuid.UUID) -> str:
    tz = session.scalar(select(Tenant.time_zone).where(Tenant.id == tenant_id))
    return tz or "UTC"


def get_type(session: Session, key: str) -> TicketType:
    row = session.scalar(select(TicketType).where(TicketType.key == key, TicketType.is_active.is_(True)))
    if row is None:
        raise NotFound(f"no active ticket type '{key}'")
    return row


def list_types(session: Session, tenant_id: uuid.UUID) -> list[TicketType]:
    """Every type, the built-in ones included even before their rows are stored (as unsaved rows)."""
    rows = list(session.scalars(select(TicketType)))
    stored = {row.key for row in rows}
    rows += [builtin_type(tenant_id, key) for key in BUILTIN_TYPES if key not in stored]
    return sorted(rows, key=lambda t: (not t.builtin, t.key))


def custom_keys(session: Session) -> set[str]:
    """Every custom field key any type defines: what rules may reference as ``custom.<key>``."""
    keys: set[str] = set()
    for fields in session.scalars(select(TicketType.fields)):
        keys |= {f["key"] for f in fields}
    return keys


_POLICIES = "omnidesk_sla_policies"


def policy_for(session: Session, type_key: str, priority: str) -> SlaPolicy | None:
    """The type's own policy for the priority, else the tenant-wide one (``*``), else none (no SLA).

    The tenant's policies are read once per session (a scheduler tick escalates many tickets in one session).
    """
    table: dict[tuple[str, str], SlaPolicy] | None = session.info.get(_POLICIES)
    if table is None:
        table = {(p.type_key, p.priority): p for p in session.scalars(select(SlaPolicy))}
        session.info[_POLICIES] = table
    return table.get((type_key, priority)) or table.get(("*", priority))


def forget_policies(session: Session) -> None:
    session.info.pop(_POLICIES, None)


def list_policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.type_key, SlaPolicy.priority)))


def clocks_of(session: Session, ticket_id: uuid.UUID) -> list[SlaClock]:
    return list(
        session.scalars(
            select(SlaClock).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.metric, SlaClock.cycle)
        )
    )


def current_clocks(session: Session, ticket_id: uuid.UUID) -> dict[str, SlaClock]:
    """The latest cycle of each metric."""
    out: dict[str, SlaClock] = {}
    for clock in clocks_of(session, ticket_id):
        out[clock.metric] = clock
    return out


def current_clocks_of_many(session: Session, ticket_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, SlaClock]]:
    """``current_clocks`` for many tickets in one query."""
    out: dict[uuid.UUID, dict[str, SlaClock]] = {}
    rows = session.scalars(
        select(SlaClock).where(SlaClock.ticket_id.in_(ticket_ids)).order_by(SlaClock.metric, SlaClock.cycle)
    )
    for clock in rows:
        out.setdefault(clock.ticket_id, {})[clock.metric] = clock
    return out


def history(session: Session, ticket_ids: list[uuid.UUID]) -> list[TicketChange]:
    return list(
        session.scalars(
            select(TicketChange)
            .where(TicketChange.ticket_id.in_(ticket_ids))
            .order_by(TicketChange.created_at, TicketChange.id)
        )
    )


def messages(session: Session, ticket_ids: list[uuid.UUID], *, include_internal: bool = True) -> list[TicketMessage]:
    stmt = select(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids))
    if not include_internal:
        stmt = stmt.where(TicketMessage.public.is_(True))
    return list(session.scalars(stmt.order_by(TicketMessage.created_at, TicketMessage.id)))


def merged_sources(session: Session, ticket_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket_id)))


def watchers(session: Session, ticket_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(TicketWatcher.staff_id).where(TicketWatcher.ticket_id == ticket_id)))


def enabled_rules(session: Session) -> list[AutomationRule]:
    return list(
        session.scalars(
            select(AutomationRule)
            .where(AutomationRule.enabled.is_(True))
            .order_by(AutomationRule.position, AutomationRule.created_at)
        )
    )


def tickets_of_conversation(session: Session, actor: Actor, conversation_id: uuid.UUID) -> list[Ticket]:
    """The tickets created from (linked to) a conversation, newest first, for its sidebar.

    The caller has already checked that ``actor`` may read the conversation. Every linked ticket is listed (its
    number, subject and status say no more than the transcript the reader already sees); opening one still goes
    through :func:`get_ticket` and the reader's ticket rights.
    """
    actor.require(Perm.TICKETS_READ)
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.conversation_id == conversation_id, Ticket.deleted_at.is_(None))
            .order_by(Ticket.created_at.desc())
            .limit(20)
        )
    )
