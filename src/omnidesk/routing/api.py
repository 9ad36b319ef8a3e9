"""HTTP handlers of the routing slice: presence, offers, assign / transfer, the supervisor's view, the policy."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.conversations.schemas import ConversationOut
from omnidesk.core.db import utcnow
from omnidesk.events.presence import PresenceStore
from omnidesk.routing import actions, queries, service
from omnidesk.routing.models import QueueEntry
from omnidesk.routing.schemas import (
    AgentStateOut,
    AssignIn,
    PolicyIn,
    PolicyOut,
    PresenceIn,
    PresenceOut,
    QueueEntryOut,
    SupervisorOut,
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
        p = queries.policy(s)
        return PolicyOut(strategy=p.strategy, accept_timeout_seconds=p.accept_timeout_seconds)


@router.put("/routing/policy")
def put_policy(data: PolicyIn, db: DbDep, actor: ActorDep) -> PolicyOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        p = actions.update_policy(s, actor, accept_timeout_seconds=data.accept_timeout_seconds)
        return PolicyOut(strategy=p.strategy, accept_timeout_seconds=p.accept_timeout_seconds)


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
