"""A rule's dry run: which of the tenant's most recent tickets its conditions match now, and what each of its
actions would do to them. Reads only: nothing is written, no event leaves, no audit record (it changes nothing).

The trigger is not simulated (whether "ticket.updated on priority" would fire depends on a future change); the
answer is what the rule would do to each ticket if its trigger fired now, the way ``automation.run`` decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.security.permissions import Perm
from omnidesk.tickets import queries
from omnidesk.tickets.automation import facts
from omnidesk.tickets.models import Ticket
from omnidesk.tickets.rules import ActionType, matches, validate_rule
from omnidesk.tickets.schemas import RuleIn

MAX_TICKETS = 500


@dataclass(frozen=True)
class Effect:
    """One action on one ticket: its kind, the field it touches, the value before and after (``None`` when the
    action changes no field, e.g. a notification), and whether it would change anything."""

    kind: str
    target: str
    before: Any = None
    after: Any = None
    changes: bool = True


@dataclass(frozen=True)
class Match:
    ticket_id: uuid.UUID
    number: int
    subject: str
    effects: list[Effect] = field(default_factory=list)


@dataclass(frozen=True)
class DryRun:
    examined: int
    matches: list[Match]


def dry_run(session: Session, actor: Actor, data: RuleIn, last: int) -> DryRun:
    """Validate ``data`` as saving would (fields, operators, actions), then test it on the ``last`` newest tickets."""
    queries.require_perm(session, actor, Perm.TICKETS_ADMIN)
    validate_rule(data.trigger, data.conditions, data.actions, queries.custom_keys(session))
    last = max(1, min(last, MAX_TICKETS))
    tickets = list(
        session.scalars(
            select(Ticket).where(Ticket.deleted_at.is_(None)).order_by(Ticket.created_at.desc(), Ticket.id).limit(last)
        )
    )
    found = []
    for ticket in tickets:
        seen = facts(ticket)
        if matches(data.conditions, seen):
            found.append(Match(ticket.id, ticket.number, ticket.subject, [_effect(a, seen) for a in data.actions]))
    return DryRun(examined=len(tickets), matches=found)


def _effect(act: dict[str, Any], seen: dict[str, Any]) -> Effect:
    kind = ActionType(act["type"])
    if kind == ActionType.SET_FIELD:
        name = act["field"]
        before = seen.get(name)
        return Effect(kind.value, name, before, act["value"], before != act["value"])
    if kind == ActionType.ASSIGN:
        parts = {k: act[k] for k in ("team_id", "assignee_id") if act.get(k)}
        before = {k: seen.get(k) for k in parts}
        return Effect(kind.value, ", ".join(parts), before, parts, before != parts)
    if kind == ActionType.ADD_TAG:
        tags = list(seen.get("tags") or [])
        return Effect(kind.value, "tags", tags, [*tags, act["tag"]] if act["tag"] not in tags else tags,
                      act["tag"] not in tags)  # fmt: skip
    if kind == ActionType.ESCALATE:
        return Effect(kind.value, "escalated", seen.get("escalated"), True)
    if kind == ActionType.NOTIFY:
        return Effect(kind.value, str(act["to"]), None, act.get("message") or None)
    if kind == ActionType.ADD_WATCHER:
        return Effect(kind.value, "watchers", None, act["staff_id"])
    return Effect(kind.value, "reply", None, act["body"])
