"""HTTP handlers of the ACD: queues and their settings, the live queue wall, supervisor controls, the trace."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from omnidesk.core.db import utcnow
from omnidesk.events.presence import PresenceStore
from omnidesk.routing import actions, queries, queue_actions, service
from omnidesk.routing.models import RoutingQueue
from omnidesk.routing.schemas import (
    AgentStateIn,
    MoveIn,
    PauseIn,
    PresenceOut,
    QueueIn,
    QueueOut,
    SkillLevelsIn,
    WallQueueOut,
)
from omnidesk.routing.strategy import Presence, QueueState
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["routing"])


def _presence(request: Request) -> PresenceStore:
    store: PresenceStore = request.app.state.presence
    return store


def queue_out(row: RoutingQueue) -> QueueOut:
    return QueueOut.model_validate(row, from_attributes=True)


@router.get("/routing/queues")
def list_queues(db: DbDep, actor: ActorDep) -> list[QueueOut]:
    actor.require(Perm.ROUTING_SUPERVISE)
    with db.tenant_transaction(actor.tenant_id) as s:
        return [queue_out(r) for r in queries.queue_rows(s)]


@router.post("/routing/queues", status_code=201)
def create_queue(data: QueueIn, db: DbDep, actor: ActorDep) -> QueueOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return queue_out(queue_actions.save_queue(s, actor, None, data.model_dump()))


@router.put("/routing/queues/{queue_id}")
def update_queue(queue_id: uuid.UUID, data: QueueIn, db: DbDep, actor: ActorDep) -> QueueOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return queue_out(queue_actions.save_queue(s, actor, queue_id, data.model_dump()))


@router.post("/routing/queues/{queue_id}/pause")
def pause_queue(queue_id: uuid.UUID, data: PauseIn, db: DbDep, actor: ActorDep, request: Request) -> QueueOut:
    """Pause (or resume) a queue: its contacts keep their place but are not offered."""
    with db.tenant_transaction(actor.tenant_id) as s:
        row = queue_actions.pause_queue(s, actor, queue_id, data.paused)
        if not data.paused:
            service.route_now(_presence(request), s, actor.tenant_id)
        return queue_out(row)


@router.post("/routing/conversations/{conversation_id}/move")
def move_contact(
    conversation_id: uuid.UUID, data: MoveIn, db: DbDep, actor: ActorDep, request: Request
) -> dict[str, Any]:
    """Move a waiting contact to another queue (its steps restart there; its wait is kept)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        entry = queue_actions.move_contact(s, actor, conversation_id, data.queue_id)
        service.route_now(_presence(request), s, actor.tenant_id)
        return {"conversation_id": str(conversation_id), "queue_id": str(entry.queue_id), "state": entry.state}


@router.get("/routing/conversations/{conversation_id}/trace")
def trace(conversation_id: uuid.UUID, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """The last routing decision for this conversation: step, agents considered, why rejected, why chosen."""
    actor.require(Perm.ROUTING_SUPERVISE)
    with db.tenant_transaction(actor.tenant_id) as s:
        entry = queries.entry_for(s, conversation_id)
        if entry is None:
            return {"conversation_id": str(conversation_id), "trace": None}
        return {
            "conversation_id": str(conversation_id),
            "state": entry.state,
            "requirements": entry.requirements,
            "trace": entry.last_trace or None,
        }


@router.put("/routing/agents/{staff_id}/state")
def agent_state(staff_id: uuid.UUID, data: AgentStateIn, db: DbDep, actor: ActorDep, request: Request) -> PresenceOut:
    """A supervisor sets an agent online, away or offline (audited); away withdraws their open offers."""
    with db.tenant_transaction(actor.tenant_id) as s:
        row = actions.set_agent_state(s, actor, staff_id, data.status)
        service.route_now(_presence(request), s, actor.tenant_id)
        return PresenceOut(staff_id=row.staff_id, status=Presence(row.status))


@router.put("/routing/agents/{staff_id}/skills")
def agent_skills(staff_id: uuid.UUID, data: SkillLevelsIn, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Set an agent's proficiency per skill (1–5; 0 removes the skill)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        user = queue_actions.set_skill_levels(s, actor, staff_id, data.levels)
        return {"staff_id": str(user.id), "levels": user.skill_levels}


@router.get("/routing/wall")
def wall(db: DbDep, actor: ActorDep, request: Request) -> list[WallQueueOut]:
    """The live queue wall: per queue, who waits, the longest wait, agents available and with free capacity."""
    actor.require(Perm.ROUTING_SUPERVISE)
    with db.tenant_transaction(actor.tenant_id) as s:
        return queue_wall(s, _presence(request).connected(actor.tenant_id))


def queue_wall(s: Session, connected: frozenset[uuid.UUID] | None) -> list[WallQueueOut]:
    entries = queries.open_entries(s)
    queues, agents, _ = queries.routing_facts(s, entries, connected)
    now = utcnow()
    out = []
    for qid, queue in queues.items():
        mine = [e for e in entries if queries.entry_queue_id(e) == qid]
        members = [a for a in agents if qid in a.queue_ids and a.available]
        waits = [int((now - e.waiting_since).total_seconds()) for e in mine]
        out.append(
            WallQueueOut(
                queue_id=qid,
                name=queue.name,
                paused=queue.paused,
                waiting=sum(1 for e in mine if e.state == QueueState.WAITING.value),
                offered=sum(1 for e in mine if e.state == QueueState.OFFERED.value),
                longest_wait_seconds=max(waits, default=0),
                agents_available=len(members),
                agents_free=sum(1 for a in members if a.active < a.max_concurrent and a.load_units < a.capacity_units),
            )
        )
    out.sort(key=lambda w: (w.name == "", w.name))
    return out
