"""HTTP handlers of the routing slice: presence, offers, assign / transfer, the supervisor's view, the policy."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.schemas import ConversationOut
from omnidesk.core.db import utcnow
from omnidesk.events.presence import PresenceStore
from omnidesk.routing import actions, queries, queue_actions, service
from omnidesk.routing.models import QueueEntry, RoutingPolicy, RoutingQueue
from omnidesk.routing.schemas import (
    AgentStateIn,
    AgentStateOut,
    AssignIn,
    MoveIn,
    PauseIn,
    PolicyIn,
    PolicyOut,
    PresenceIn,
    PresenceOut,
    QueueEntryOut,
    QueueIn,
    QueueOut,
    SkillLevelsIn,
    SupervisorOut,
    WallQueueOut,
)
from omnidesk.routing.strategy import Presence
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["routing"])


def _presence(request: Request) -> PresenceStore:
    store: PresenceStore = request.app.state.presence
    return store


@router.put("/routing/presence")
def set_presence(data: PresenceIn, db: DbDep, actor: ActorDep, request: Request) -> PresenceOut:
    """Go online (take work), away or offline. Going online may bring offers at once."""
    with db.tenant_transaction(actor.tenant_id) as s:
        row = actions.set_presence(s, actor, data.status)
        service.route_now(_presence(request), s, actor.tenant_id)
        return PresenceOut(staff_id=row.staff_id, status=Presence(row.status))


@router.get("/routing/offers")
def my_offers(db: DbDep, actor: ActorDep) -> list[QueueEntryOut]:
    """Conversations offered to me, waiting for me to accept."""
    actor.require(Perm.CONVERSATIONS_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        return [_entry_out(e) for e in queries.offers_for(s, actor.staff_id)] if actor.staff_id else []


@router.post("/routing/offers/{conversation_id}/accept")
def accept(conversation_id: uuid.UUID, db: DbDep, actor: ActorDep) -> ConversationOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = actions.accept_offer(s, actor, conversation_id)
        s.flush()
        s.refresh(conversation)
        return ConversationOut.model_validate(conversation)


@router.post("/routing/offers/{conversation_id}/decline", status_code=204)
def decline(conversation_id: uuid.UUID, db: DbDep, actor: ActorDep, request: Request) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.decline_offer(s, actor, conversation_id)
        service.route_now(_presence(request), s, actor.tenant_id)


@router.post("/conversations/{conversation_id}/assign")
def assign(conversation_id: uuid.UUID, data: AssignIn, db: DbDep, actor: ActorDep, request: Request) -> ConversationOut:
    """Assign or transfer to an agent and/or a team, with an optional internal note for whoever receives it."""
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = actions.assign(
            s, actor, conversation_id, assignee_id=data.assignee_id, team_id=data.team_id, note=data.note
        )
        if data.assignee_id is None:
            service.route_now(_presence(request), s, actor.tenant_id)
        s.flush()
        s.refresh(conversation)
        return ConversationOut.model_validate(conversation)


@router.get("/routing/supervisor")
def supervisor(db: DbDep, actor: ActorDep, request: Request) -> SupervisorOut:
    """Waiting conversations with their wait, and every agent's presence and load."""
    actor.require(Perm.ROUTING_SUPERVISE)
    with db.tenant_transaction(actor.tenant_id) as s:
        return supervisor_view(s, _presence(request).connected(actor.tenant_id))


def supervisor_view(s: Session, connected: frozenset[uuid.UUID]) -> SupervisorOut:
    names = {u.id: u.display_name for u in s.scalars(select(StaffUser))}
    agents = [
        AgentStateOut(
            staff_id=c.staff_id,
            display_name=names.get(c.staff_id, ""),
            presence=c.presence,
            connected=c.staff_id in connected,
            load=c.load,
            capacity=c.capacity,
        )
        for c in queries.candidates(s, connected)
    ]
    agents.sort(key=lambda a: (a.presence != Presence.ONLINE, a.display_name))
    return SupervisorOut(queue=[_entry_out(e) for e in queries.open_entries(s)], agents=agents)


@router.get("/routing/policy")
def get_policy(db: DbDep, actor: ActorDep) -> PolicyOut:
    actor.require(Perm.ROUTING_SUPERVISE)
    with db.tenant_transaction(actor.tenant_id) as s:
        return _policy_out(queries.policy(s))


@router.put("/routing/policy")
def put_policy(data: PolicyIn, db: DbDep, actor: ActorDep) -> PolicyOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        p = actions.update_policy(
            s,
            actor,
            accept_timeout_seconds=data.accept_timeout_seconds,
            missed_offers_limit=data.missed_offers_limit,
            reoffer_unanswered_minutes=data.reoffer_unanswered_minutes,
        )
        return _policy_out(p)


def _policy_out(p: RoutingPolicy) -> PolicyOut:
    return PolicyOut(
        strategy=p.strategy,
        accept_timeout_seconds=p.accept_timeout_seconds,
        missed_offers_limit=p.missed_offers_limit if p.missed_offers_limit is not None else 3,
        reoffer_unanswered_minutes=p.reoffer_unanswered_minutes or 0,
    )


def _entry_out(entry: QueueEntry) -> QueueEntryOut:
    return QueueEntryOut(
        conversation_id=entry.conversation_id,
        team_id=entry.team_id,
        priority=entry.priority,
        state=entry.state,
        waiting_since=entry.waiting_since,
        wait_seconds=int((utcnow() - entry.waiting_since).total_seconds()),
        offered_to=entry.offered_to,
        offer_expires_at=entry.offer_expires_at,
    )


# ---- ACD: queues, the wall, supervisor controls, the trace ----------------------------------------------------


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
        conversation_queries.get_conversation(s, actor, conversation_id)  # 404 outside the tenant / the actor's view
        entry = queries.entry_for(s, conversation_id)
        if entry is None:
            return {"conversation_id": str(conversation_id), "trace": None}
        return {
            "conversation_id": str(conversation_id),
            "state": entry.state,
            "requirements": entry.requirements,
            "trace": entry.last_trace or None,
        }


@router.put("/routing/agents/{user_id}/state")
def agent_state(user_id: uuid.UUID, data: AgentStateIn, db: DbDep, actor: ActorDep, request: Request) -> PresenceOut:
    """A supervisor sets an agent online, away or offline (audited); away withdraws their open offers."""
    with db.tenant_transaction(actor.tenant_id) as s:
        row = actions.set_agent_state(s, actor, user_id, data.status)
        service.route_now(_presence(request), s, actor.tenant_id)
        return PresenceOut(staff_id=row.staff_id, status=Presence(row.status))


@router.put("/routing/agents/{user_id}/skills")
def agent_skills(user_id: uuid.UUID, data: SkillLevelsIn, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Set an agent's proficiency per skill (1–5; 0 removes the skill)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        user = queue_actions.set_skill_levels(s, actor, user_id, data.levels)
        return {"staff_id": str(user.id), "levels": user.skill_levels}


@router.get("/routing/wall")
def wall(db: DbDep, actor: ActorDep, request: Request) -> list[WallQueueOut]:
    """The live queue wall: per queue, who waits, the longest wait, agents available and with free capacity."""
    actor.require(Perm.ROUTING_SUPERVISE)
    with db.tenant_transaction(actor.tenant_id) as s:
        return queries.queue_wall(s, _presence(request).connected(actor.tenant_id))
