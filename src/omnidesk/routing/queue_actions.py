"""Actions on ACD queues: their settings, the supervisor's controls (pause, move a contact, skills), callbacks.

Each change is audited with the actor; a queue move restarts the contact's steps (``queued_at``) but keeps its
place in time (``waiting_since``), so a moved customer does not lose their wait.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts import queries as accounts_queries
from omnidesk.accounts.models import StaffUser
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.routing import actions, engine, queries
from omnidesk.routing.models import CallbackRequest, QueueEntry, RoutingQueue
from omnidesk.routing.strategy import QueueState
from omnidesk.security.permissions import Perm

QUEUE_FIELDS = (
    "name",
    "team_id",
    "skills",
    "steps",
    "selection",
    "overflow_queue_id",
    "sticky_seconds",
    "aging_seconds",
    "callback_threshold_seconds",
    "is_default",
)


def access_queue(session: Session, queue_id: uuid.UUID) -> RoutingQueue:
    row = session.scalar(select(RoutingQueue).where(RoutingQueue.id == queue_id))
    if row is None:
        raise NotFound("no queue with this id")
    return row


def _validate_steps(steps: list[dict[str, Any]], overflow_queue_id: uuid.UUID | None) -> list[dict[str, Any]]:
    if not steps:
        return [{"min_proficiency": 0, "timeout_seconds": None, "overflow": False}]
    out = []
    for i, step in enumerate(steps):
        level = int(step.get("min_proficiency", 0))
        timeout = step.get("timeout_seconds")
        overflow = bool(step.get("overflow", False))
        if not 0 <= level <= 5:
            raise InvalidInput("a step's minimum proficiency is 0 (any agent) to 5")
        if timeout is not None and not 1 <= int(timeout) <= 86_400:
            raise InvalidInput("a step's timeout is 1 to 86400 seconds, or empty for the last step")
        if timeout is None and i != len(steps) - 1:
            raise InvalidInput("only the last step may have no timeout")
        if overflow and overflow_queue_id is None:
            raise InvalidInput("an overflow step needs an overflow queue")
        out.append(
            {
                "min_proficiency": level,
                "timeout_seconds": None if timeout is None else int(timeout),
                "overflow": overflow,
            }
        )
    return out


def save_queue(session: Session, actor: Actor, queue_id: uuid.UUID | None, data: dict[str, Any]) -> RoutingQueue:
    """Create (``queue_id`` None) or update a queue; steps, selection and overflow validated, nothing half-saved."""
    actor.require(Perm.TENANT_SETTINGS)
    row = access_queue(session, queue_id) if queue_id else RoutingQueue(tenant_id=actor.tenant_id)
    name = str(data.get("name", row.name or "")).strip()
    if not name or len(name) > 100:
        raise InvalidInput("a queue needs a name of 1 to 100 characters")
    clash = session.scalar(select(RoutingQueue).where(RoutingQueue.name == name, RoutingQueue.id != row.id))
    if clash is not None:
        raise Conflict("another queue has this name")
    selection = str(data.get("selection", row.selection or engine.Selection.LONGEST_IDLE.value))
    if selection not in {s.value for s in engine.Selection}:
        raise InvalidInput("selection is longest_idle, least_occupied or best_score")
    overflow = data.get("overflow_queue_id", row.overflow_queue_id)
    if overflow is not None:
        if queue_id is not None and overflow == queue_id:
            raise InvalidInput("a queue cannot overflow into itself")
        access_queue(session, overflow)
    team_id = data.get("team_id", row.team_id)
    if team_id is not None:
        accounts_queries.get_team(session, team_id)
    before = {f: _plain(getattr(row, f, None)) for f in QUEUE_FIELDS} if queue_id else {}
    row.name = name
    row.team_id = team_id
    row.skills = sorted({str(s).strip() for s in data.get("skills", row.skills or []) if str(s).strip()})
    row.steps = _validate_steps(list(data.get("steps", row.steps or [])), overflow)
    row.selection = selection
    row.overflow_queue_id = overflow
    for field, low, high in (
        ("sticky_seconds", 0, 86_400),
        ("aging_seconds", 0, 86_400),
        ("callback_threshold_seconds", 0, 86_400),
    ):
        value = int(data.get(field, getattr(row, field) or 0))
        if not low <= value <= high:
            raise InvalidInput(f"{field} is {low} to {high}")
        setattr(row, field, value)
    row.is_default = bool(data.get("is_default", row.is_default or False))
    if row.is_default:
        for other in session.scalars(select(RoutingQueue).where(RoutingQueue.id != row.id)):
            other.is_default = False
    row.updated_at = utcnow()
    if queue_id is None:
        session.add(row)
    session.flush()
    after = {f: _plain(getattr(row, f)) for f in QUEUE_FIELDS}
    audit.record(session, actor, "routing.queue_save", "routing_queue", row.id, audit.diff(before, after))
    return row


def pause_queue(session: Session, actor: Actor, queue_id: uuid.UUID, paused: bool) -> RoutingQueue:
    """Stop (or resume) offering this queue's contacts; they keep their place in line."""
    actor.require(Perm.ROUTING_SUPERVISE)
    row = access_queue(session, queue_id)
    if row.paused != paused:
        row.paused = paused
        row.updated_at = utcnow()
        session.flush()
        audit.record(session, actor, "routing.queue_pause", "routing_queue", row.id, {"paused": paused})
    return row


def move_contact(session: Session, actor: Actor, conversation_id: uuid.UUID, queue_id: uuid.UUID) -> QueueEntry:
    """Move a waiting (or offered) contact to another queue: an open offer is withdrawn, the steps restart."""
    actor.require(Perm.ROUTING_SUPERVISE)
    target = access_queue(session, queue_id)
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state not in (QueueState.WAITING.value, QueueState.OFFERED.value):
        raise NotFound("this conversation is not waiting in a queue")
    before = entry.queue_id
    if entry.state == QueueState.OFFERED.value:
        actions.withdraw_offer(session, entry)
    entry.queue_id = target.id
    entry.queued_at = utcnow()
    entry.declined_by = []
    required = set(entry.requirements.get("skills", [])) | set(target.skills)
    entry.requirements = {**entry.requirements, "skills": sorted(required)}
    session.flush()
    audit.record(
        session,
        actor,
        "routing.move",
        "conversation",
        conversation_id,
        {"from_queue": str(before) if before else None, "to_queue": str(target.id)},
    )
    return entry


def set_skill_levels(session: Session, actor: Actor, staff_id: uuid.UUID, levels: dict[str, int]) -> StaffUser:
    """Set an agent's proficiency (1–5) per skill; the skill list follows (a skill at 0 is removed)."""
    actor.require(Perm.TEAMS_MANAGE)
    user = accounts_queries.get_staff(session, staff_id)
    clean: dict[str, int] = {}
    for skill, level in levels.items():
        name = str(skill).strip()
        if not name or len(name) > 60:
            raise InvalidInput("a skill name is 1 to 60 characters")
        if not 0 <= int(level) <= 5:
            raise InvalidInput("a proficiency is 1 to 5 (0 removes the skill)")
        if int(level):
            clean[name] = int(level)
    before = {"skill_levels": dict(user.skill_levels or {}), "skills": list(user.skills)}
    user.skill_levels = clean
    user.skills = sorted(clean)
    session.flush()
    audit.record(
        session,
        actor,
        "routing.skills",
        "staff",
        staff_id,
        audit.diff(before, {"skill_levels": clean, "skills": sorted(clean)}),
    )
    return user


def request_callback(
    session: Session, actor: Actor, conversation_id: uuid.UUID, phone: str, expected_wait_seconds: int | None
) -> CallbackRequest:
    """A waiting customer asks to be called back instead of waiting; the conversation keeps its queue entry
    until an agent takes the callback (they see it on the queue wall)."""
    phone = phone.strip()
    if not 5 <= len(phone) <= 32 or not all(ch.isdigit() or ch in "+- ()" for ch in phone):
        raise InvalidInput("a callback needs a phone number")
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state not in (QueueState.WAITING.value, QueueState.OFFERED.value):
        raise Conflict("this conversation is not waiting; no callback is needed")
    existing = session.scalar(select(CallbackRequest).where(CallbackRequest.conversation_id == conversation_id))
    if existing is not None:
        return existing
    row = CallbackRequest(
        tenant_id=entry.tenant_id,
        conversation_id=conversation_id,
        queue_id=entry.queue_id,
        phone=phone,
        expected_wait_seconds=expected_wait_seconds,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "routing.callback_request", "conversation", conversation_id, {"queue_id": str(entry.queue_id)}
    )
    return row


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value
