"""Internal writes on one ticket, shared by the public actions and the automation engine.

These do no permission checks and fire no automations: callers (``actions``, ``automation``, the reconciler) do
both. Each writes change rows for what it changed and keeps the SLA clocks in step, and returns the set of field
names that changed so the caller can fire ``ticket.updated`` rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from omnidesk.accounts import queries as accounts_queries
from omnidesk.accounts.models import StaffUser, TeamMember
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.actor import Actor
from omnidesk.core.db import CrossTenantWrite, ReadOnlySession, UnscopedSession, utcnow
from omnidesk.core.errors import Conflict, InvalidInput
from omnidesk.customers.models import Customer
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import TicketEscalated, TicketUpdated
from omnidesk.i18n import translate
from omnidesk.tickets import clocks, history, notify, queries
from omnidesk.tickets.models import Survey, Ticket, TicketMessage, TicketSettings, TicketType, TicketWatcher
from omnidesk.tickets.states import OPEN_STATES, Priority, Status, check_transition, raised

_RETARGET_LATER = "omnidesk_retarget_later"


@contextmanager
def retarget_in_one_go(session: Session) -> Iterator[None]:
    """Within the block, priority changes re-target their tickets' SLA clocks together at the end: one flush and
    one clock query for the whole batch instead of both per ticket (the reconciler escalates many tickets a tick)."""
    pending: dict[uuid.UUID, Ticket] = {}
    session.info[_RETARGET_LATER] = pending
    try:
        yield
    finally:
        session.info.pop(_RETARGET_LATER, None)
    flush(session)
    clocks.retarget_many(session, list(pending.values()))


def flush(session: Session) -> None:
    """Flush, turning a lost optimistic-concurrency race into a clear 409."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("the ticket was changed by someone else at the same time; reload and try again") from exc


def write_in_bulk(session: Session, tickets: Iterable[Ticket]) -> int:
    """Write the pending changes of many tickets in one executemany UPDATE per set of changed columns.

    The ORM writes a versioned row one statement at a time (it checks each row count), which made the reconciler
    spend a round trip per escalated ticket. Here each row still matches only at the version it was loaded with and
    the summed row count is checked, so a concurrent change is the same clear 409 as ``flush``; the written values
    then become the objects' committed state (version included), so the later flush has nothing left to write.
    Returns how many tickets were written.
    """
    if session.info.get("read_only"):
        raise ReadOnlySession("a read transaction tried to write")
    tenant_id = session.info.get("tenant_id")
    platform = bool(session.info.get("platform"))
    table: Table = Ticket.__table__  # type: ignore[assignment]
    groups: dict[tuple[str, ...], list[tuple[Ticket, dict[str, Any]]]] = {}
    for ticket in dict.fromkeys(tickets):
        state = inspect(ticket)
        if state.persistent is False or state.deleted:
            continue
        # The checks the flush makes for ORM writes (core.db), since this UPDATE bypasses the flush.
        if not platform and tenant_id is None:
            raise UnscopedSession("Ticket written from a session without a tenant")
        if not platform and ticket.tenant_id != tenant_id:
            raise CrossTenantWrite("Ticket of another tenant")
        # committed_state holds the loaded value of each attribute set since the load: keep those now different.
        current = state.dict
        changes = {
            key: current[key]
            for key, loaded in state.committed_state.items()
            if key != "version" and key in current and current[key] != loaded
        }
        if changes:
            groups.setdefault(tuple(sorted(changes)), []).append((ticket, changes))
    written = 0
    for keys, rows in groups.items():
        statement = (
            update(table)
            .where(
                and_(
                    table.c.id == bindparam("b_id"),
                    table.c.tenant_id == bindparam("b_tenant"),
                    table.c.version == bindparam("b_version"),
                )
            )
            .values({**{k: bindparam(f"v_{k}") for k in keys}, "version": bindparam("v_version")})
        )
        params = [
            {
                "b_id": t.id,
                "b_tenant": t.tenant_id,
                "b_version": t.version,
                "v_version": t.version + 1,
                **{f"v_{k}": v for k, v in changes.items()},
            }
            for t, changes in rows
        ]
        result = session.connection().execute(statement, params)
        if result.rowcount != len(rows):
            raise Conflict("the ticket was changed by someone else at the same time; reload and try again")
        for ticket, changes in rows:
            for key, value in changes.items():
                set_committed_value(ticket, key, value)
            set_committed_value(ticket, "version", ticket.version + 1)
        written += len(rows)
    return written


def check_version(ticket: Ticket, version: int) -> None:
    if version != ticket.version:
        raise Conflict(
            f"ticket #{ticket.number} changed since you loaded it (now version {ticket.version}, yours {version});"
            " reload to see the other change, then try again"
        )


def touch(ticket: Ticket, now: datetime | None = None) -> None:
    ticket.updated_at = now or utcnow()


def active_staff(session: Session, staff_id: uuid.UUID) -> StaffUser:
    person = accounts_queries.get_staff(session, staff_id)
    if not person.is_active:
        raise InvalidInput("that staff user is deactivated")
    return person


def pick_assignee(session: Session, team_id: uuid.UUID) -> uuid.UUID | None:
    """The active team member with the fewest open tickets (ties: the earliest member)."""
    load = (
        select(func.count(Ticket.id))
        .where(Ticket.assignee_id == StaffUser.id, Ticket.status.in_([s.value for s in OPEN_STATES]))
        .correlate(StaffUser)
        .scalar_subquery()
    )
    row = session.execute(
        select(StaffUser.id)
        .join(TeamMember, TeamMember.user_id == StaffUser.id)
        .where(
            TeamMember.team_id == team_id,
            StaffUser.is_active.is_(True),
            StaffUser.role.in_(["agent", "supervisor"]),
        )
        .order_by(load, TeamMember.created_at)
        .limit(1)
    ).first()
    return row[0] if row else None


def set_fields(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    changes: dict[str, Any],
    *,
    rule_id: uuid.UUID | None = None,
    note: str = "",
) -> set[str]:
    """Apply simple field changes (priority, category, team, assignee, subject, description, tags, custom.*)."""
    changed: set[str] = set()
    retarget = False
    for field, new in changes.items():
        if field.startswith("custom."):
            key = field.removeprefix("custom.")
            template = queries.get_type(session, ticket.type_key).fields
            merged = {**ticket.custom_fields, key: new}
            valid = _validate_custom(template, merged, ticket)
            old = ticket.custom_fields.get(key)
            if valid.get(key) == old:
                continue
            ticket.custom_fields = valid
            history.record(session, actor, ticket, field, old, valid.get(key), rule_id=rule_id, note=note)
            changed.add(field)
            continue
        old = getattr(ticket, field)
        if field in ("team_id", "responsible_team_id") and new is not None:
            new = accounts_queries.get_team(session, uuid.UUID(str(new))).id
        if field == "assignee_id" and new is not None:
            new = active_staff(session, uuid.UUID(str(new))).id
        if field == "priority":
            new = Priority(new).value
        if field == "tags":
            new = list(dict.fromkeys(new))
        if old == new:
            continue
        setattr(ticket, field, new)
        if field == "assignee_id" and new is not None:
            ticket.last_handler_id = new
        history.record(session, actor, ticket, field, old, new, rule_id=rule_id, note=note)
        changed.add(field)
        retarget = retarget or field == "priority"
    if changed:
        touch(ticket)
        later: dict[uuid.UUID, Ticket] | None = session.info.get(_RETARGET_LATER)
        if retarget and later is not None:
            later[ticket.id] = ticket
        elif retarget:
            flush(session)
            clocks.on_retarget(session, ticket)
    return changed


def _validate_custom(template: list[dict[str, Any]], values: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    from omnidesk.tickets.fields import validate_values

    return validate_values(template, values, enforce_required=ticket.type_key != "complaint")


def set_status(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    new: Status,
    *,
    rule_id: uuid.UUID | None = None,
    note: str = "",
    now: datetime | None = None,
) -> set[str]:
    """Move through the lifecycle (refusing illegal moves), keeping clocks, timestamps and handlers in step."""
    now = now or utcnow()
    old = Status(ticket.status)
    check_transition(old, new)
    if new == Status.CLOSED:
        missing = [f for f in ("resolution", "root_cause", "prevention") if not getattr(ticket, f)]
        if missing:
            raise InvalidInput(
                "closing needs a resolution, a root cause and a prevention note; missing: " + ", ".join(missing),
                errors=[{"field": f, "message": "required to close"} for f in missing],
            )
    ticket.status = new.value
    ticket.status_changed_at = now
    changed = {"status"}
    history.record(session, actor, ticket, "status", old.value, new.value, rule_id=rule_id, note=note)
    if new == Status.RESOLVED:
        ticket.resolved_at = now
    elif new == Status.CLOSED:
        ticket.closed_at = now
    elif new == Status.REOPENED:
        ticket.reopen_count += 1
        ticket.second_handling = True
        ticket.resolved_at = None
        ticket.closed_at = None
        history.record(session, actor, ticket, "second_handling", False, True, rule_id=rule_id, note=note)
        if ticket.last_handler_id and ticket.assignee_id != ticket.last_handler_id:
            history.record(
                session,
                actor,
                ticket,
                "assignee_id",
                ticket.assignee_id,
                ticket.last_handler_id,
                rule_id=rule_id,
                note="back to the last handler",
            )
            ticket.assignee_id = ticket.last_handler_id
            changed.add("assignee_id")
        changed |= {"reopen_count", "second_handling"}
    touch(ticket, now)
    flush(session)
    clocks.on_status(session, ticket, old, new, now)
    if new == Status.RESOLVED:
        send_survey(session, actor, ticket)
    return changed


def announce_update(session: Session, ticket: Ticket, fields: Iterable[str], status: str | None = None) -> None:
    """The ``ticket.update`` event of a change (the names of the fields that changed), sent after commit."""
    publish_on_commit(
        session,
        TicketUpdated(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, fields=sorted(fields), status=status
        ),
    )


def ensure_settings(session: Session, tenant_id: uuid.UUID) -> TicketSettings:
    """Store the tenant's ticket settings and built-in types if they are not stored yet (the first write that needs
    them: a ticket number, a type or policy edit); reads use ``queries.ticket_settings`` and never store."""
    stored: TicketSettings | None = session.scalar(select(TicketSettings))
    if stored is not None:
        return stored
    row = queries.default_settings(tenant_id)
    session.add(row)
    existing = set(session.scalars(select(TicketType.key)))
    for key in queries.BUILTIN_TYPES:
        if key not in existing:
            session.add(queries.builtin_type(tenant_id, key))
    session.flush()
    return row


def escalate(session: Session, actor: Actor, ticket: Ticket, *, rule_id: uuid.UUID | None, note: str) -> set[str]:
    """Mark the ticket escalated and raise its priority one step. Only the first escalation raises: a second
    breached metric on an already escalated ticket alerts again but does not climb the priority ladder."""
    if ticket.escalated:
        return set()
    ticket.escalated = True
    history.record(session, actor, ticket, "escalated", False, True, rule_id=rule_id, note=note)
    changed = {"escalated"}
    higher = raised(Priority(ticket.priority))
    # Both columns change in one UPDATE: set_fields flushes once for the re-targeting of the clocks.
    changed |= set_fields(session, actor, ticket, {"priority": higher.value}, rule_id=rule_id, note=note)
    touch(ticket)
    publish_on_commit(
        session,
        TicketEscalated(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, priority=ticket.priority
        ),
    )
    return changed


def add_watcher(session: Session, ticket: Ticket, staff_id: uuid.UUID) -> bool:
    if session.scalar(
        select(TicketWatcher.id).where(TicketWatcher.ticket_id == ticket.id, TicketWatcher.staff_id == staff_id)
    ):
        return False
    session.add(TicketWatcher(tenant_id=ticket.tenant_id, ticket_id=ticket.id, staff_id=staff_id))
    return True


def add_message(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    body: str,
    *,
    public: bool,
    author_type: str | None = None,
    source: str = "agent",
    now: datetime | None = None,
    counts_as_response: bool | None = None,
) -> TicketMessage:
    """Store a message. A public reply reaches the customer: through the linked conversation, or by e-mail for
    e-mail tickets. Only a person's public reply is the first response (stopping that clock, and so what the SLA
    report counts): an automatic acknowledgement is not, unless the caller says so (``counts_as_response``: a
    rule the tenant marked ``counts_as_first_response``)."""
    now = now or utcnow()
    author = author_type or ("system" if actor.id is None else actor.kind.value)
    if counts_as_response is None:
        counts_as_response = author != "system" and source != "automation"
    message = TicketMessage(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        public=public,
        author_type=author,
        author_id=actor.id,
        body=body,
        source=source,
        created_at=now,
    )
    session.add(message)
    if public and author != "customer":
        if ticket.first_responded_at is None and counts_as_response:
            ticket.first_responded_at = now
            clocks.on_first_response(session, ticket, now)
        _deliver(session, actor, ticket, body)
    touch(ticket, now)
    return message


def _deliver(session: Session, actor: Actor, ticket: Ticket, body: str) -> None:
    if ticket.conversation_id is not None:
        conversation = session.get(Conversation, ticket.conversation_id)
        if conversation is not None:
            conversation_actions.do_post_message(
                session,
                actor,
                conversation,
                body=body,
                sender_type=SenderType.AGENT,
                sender_id=actor.staff_id,
                payload={"ticket_id": str(ticket.id)},
            )
            return
    if ticket.customer_id is not None and ticket.channel == "email":
        email = session.scalar(select(Customer.email).where(Customer.id == ticket.customer_id))
        if email:
            notify.queue_mail(session, ticket.tenant_id, email, f"[#{ticket.number}] {ticket.subject}", body)


def send_survey(session: Session, actor: Actor, ticket: Ticket) -> None:
    """On resolve: the survey goes out on the customer's channel (linked conversation) or else by e-mail."""
    settings = queries.ticket_settings(session, ticket.tenant_id)
    if not settings.survey_enabled or ticket.customer_id is None:
        return
    customer = session.get(Customer, ticket.customer_id)
    if customer is None:
        return
    language = getattr(customer, "language", None) or "zh-CN"
    text = translate("tickets.survey.body", language, number=ticket.number, subject=ticket.subject)
    if ticket.conversation_id is not None and ticket.channel != "email":
        channel = ticket.channel
        add_message(session, actor, ticket, text, public=True, source="survey")
    elif customer.email:
        channel = "email"
        notify.queue_mail(
            session,
            ticket.tenant_id,
            customer.email,
            translate("tickets.survey.subject", language, number=ticket.number),
            text,
        )
    else:
        return
    session.add(Survey(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel=channel))
