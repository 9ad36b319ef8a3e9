"""Macros: a named set of ticket actions an agent applies in one click.

A macro's actions use the automation rules' vocabulary and validation (:func:`rules.validate_macro_actions`); a
macro may only act on the ticket itself (set a field, assign, add a tag, reply with a template). Applying one runs
each action through the same public action a person would use by hand (``transition``, ``update_ticket``,
``set_team``, ``post_message``), so every change has its history row, audit record and event, inside the caller's
one transaction: any action that cannot apply rolls the whole macro back. Managing macros needs ``tickets.admin``;
applying one needs what each of its actions needs (``tickets.write``; ``tickets.assign`` to assign).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, NotFound
from omnidesk.customers.models import Customer
from omnidesk.security.permissions import Perm
from omnidesk.tickets import actions, automation, ops, queries
from omnidesk.tickets.models import Macro, Ticket
from omnidesk.tickets.rules import ActionType, validate_macro_actions
from omnidesk.tickets.schemas import MacroIn, MessageIn, TicketUpdate, Transition
from omnidesk.tickets.states import Status

PLACEHOLDERS = ("customer.name", "ticket.number", "ticket.subject")


def list_macros(session: Session, actor: Actor) -> list[Macro]:
    actor.require(Perm.TICKETS_READ)
    return list(session.scalars(select(Macro).order_by(Macro.name)))


def get_macro(session: Session, macro_id: uuid.UUID) -> Macro:
    row = session.scalar(select(Macro).where(Macro.id == macro_id))
    if row is None:
        raise NotFound("no macro with this id")
    return row


def _save(session: Session, row: Macro) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a macro named '{row.name}' already exists") from None


def create_macro(session: Session, actor: Actor, data: MacroIn) -> Macro:
    actor.require(Perm.TICKETS_ADMIN)
    validate_macro_actions(data.actions, queries.custom_keys(session))
    row = Macro(
        tenant_id=actor.tenant_id,
        name=data.name,
        description=data.description,
        actions=data.actions,
        created_by=actor.staff_id,
    )
    session.add(row)
    _save(session, row)
    audit.record(session, actor, "macro.create", "macro", row.id, {"name": row.name, "actions": len(row.actions)})
    return row


def update_macro(session: Session, actor: Actor, macro_id: uuid.UUID, data: MacroIn) -> Macro:
    actor.require(Perm.TICKETS_ADMIN)
    row = get_macro(session, macro_id)
    validate_macro_actions(data.actions, queries.custom_keys(session))
    row.name, row.description, row.actions = data.name, data.description, data.actions
    row.updated_at = utcnow()
    _save(session, row)
    audit.record(session, actor, "macro.update", "macro", row.id, {"name": row.name, "actions": len(row.actions)})
    return row


def delete_macro(session: Session, actor: Actor, macro_id: uuid.UUID) -> None:
    actor.require(Perm.TICKETS_ADMIN)
    row = get_macro(session, macro_id)
    audit.record(session, actor, "macro.delete", "macro", row.id, {"name": row.name})
    session.delete(row)
    session.flush()


def render(template: str, ticket: Ticket, customer_name: str) -> str:
    """Fill ``{{customer.name}}``, ``{{ticket.number}}``, ``{{ticket.subject}}`` (spaces inside braces allowed)."""
    values = {"customer.name": customer_name, "ticket.number": str(ticket.number), "ticket.subject": ticket.subject}
    out = template
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
    return out


def apply_macro(
    session: Session, actor: Actor, ticket_id: uuid.UUID, macro_id: uuid.UUID, *, version: int | None = None
) -> Ticket:
    """Apply every action of the macro to the ticket, in order, as the actor; all or nothing.

    ``version``: the ticket version the agent saw; a stale one (a double click, a retried request) gets 409 and
    changes nothing, so a macro is not applied twice."""
    actor.require(Perm.TICKETS_WRITE)
    macro = get_macro(session, macro_id)
    ticket = queries.get_ticket(session, actor, ticket_id)
    if version is not None:
        ops.check_version(ticket, version)
    note = f"macro: {macro.name}"
    for act in macro.actions:
        _apply_one(session, actor, ticket, act, note)
    ops.flush(session)
    audit.record(
        session, actor, "ticket.macro_apply", "ticket", ticket.id, {"macro_id": str(macro.id), "name": macro.name}
    )
    return ticket


def _apply_one(session: Session, actor: Actor, ticket: Ticket, act: dict[str, Any], note: str) -> None:
    kind = ActionType(act["type"])
    if kind == ActionType.REPLY_TEMPLATE:
        name = ""
        if ticket.customer_id is not None:
            name = session.scalar(select(Customer.name).where(Customer.id == ticket.customer_id)) or ""
        body = render(automation.template_for(session, ticket, act), ticket, name)
        actions.post_message(session, actor, ticket.id, MessageIn(body=body, public=True))
        return
    changes: dict[str, Any] = {}
    if kind == ActionType.SET_FIELD:
        changes = {act["field"]: act["value"]}
    elif kind == ActionType.ASSIGN:
        changes = {k: act[k] for k in ("team_id", "assignee_id") if act.get(k)}
    elif kind == ActionType.ADD_TAG:
        if act["tag"] in ticket.tags:
            return
        changes = {"tags": [*ticket.tags, act["tag"]]}
    if "status" in changes and changes.pop("status") != ticket.status:
        status = Status(act["value"])
        actions.transition(session, actor, ticket.id, Transition(version=ticket.version, status=status, reason=note))
    if "team_id" in changes:
        actions.set_team(session, actor, ticket.id, uuid.UUID(str(changes.pop("team_id"))), note=note)
    custom = {k.removeprefix("custom."): changes.pop(k) for k in list(changes) if k.startswith("custom.")}
    if changes or custom:
        update = TicketUpdate.model_validate(
            {"version": ticket.version, **changes, **({"custom_fields": custom} if custom else {})}
        )
        actions.update_ticket(session, actor, ticket.id, update)
