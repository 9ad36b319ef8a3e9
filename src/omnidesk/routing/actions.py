"""Actions of the routing slice: queue a conversation for a person, offer it, accept / decline, presence.

Seam for the assistant: a conversation enters the queue only through :func:`enqueue` (the widget calls it when no
bot holds the conversation; the bot will call it on hand-over). Routing only ever offers queue entries, so a
conversation the bot is handling is never offered to an agent.

Concurrency: queue entries carry a version column; two processes routing at once make one UPDATE fail with a
stale-data error instead of offering one conversation twice (the reconciler retries the loser next tick).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import ConversationUpdate
from omnidesk.conversations.states import Status
from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import OfferAdded, OfferRemoved, PresenceUpdated, QueueAdded, Scope
from omnidesk.routing import queries
from omnidesk.routing.models import AgentPresence, QueueEntry, RoutingPolicy
from omnidesk.routing.strategy import Candidate, Presence, QueueState, pick_round_robin
from omnidesk.security.permissions import Perm


def enqueue(session: Session, actor: Actor, conversation: Conversation) -> QueueEntry:
    """Put ``conversation`` in the queue for a person (idempotent: an open entry is kept, a closed one reopened)."""
    entry = queries.entry_for(session, conversation.id)
    now = utcnow()
    if entry is None:
        entry = QueueEntry(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.id,
            team_id=conversation.team_id,
            priority=conversation.priority,
            waiting_since=now,
        )
        session.add(entry)
    elif entry.state in (QueueState.WAITING.value, QueueState.OFFERED.value):
        return entry
    else:
        entry.state = QueueState.WAITING.value
        entry.waiting_since = now
        entry.offered_to = None
        entry.offer_expires_at = None
        entry.declined_by = []
        entry.assigned_at = None
        entry.team_id = conversation.team_id
    session.flush()
    audit.record(session, actor, "routing.enqueue", "conversation", conversation.id, {"team_id": _s(entry.team_id)})
    publish_on_commit(
        session, QueueAdded(tenant_id=conversation.tenant_id, scope=Scope.of(conversation), state=entry.state)
    )
    return entry


def route_waiting(session: Session, *, connected: frozenset[uuid.UUID] | None) -> list[QueueEntry]:
    """Offer each waiting conversation to an eligible agent, in service order; return the entries offered.

    ``connected`` is the set of agents with a live workspace socket (``None``: do not check liveness).
    """
    if connected is not None and not connected:
        return []  # nobody has the workspace open: no offer can be made, skip the queries
    online = select(AgentPresence.staff_id).where(AgentPresence.status == Presence.ONLINE.value)
    if connected is not None:
        online = online.where(AgentPresence.staff_id.in_(connected))
    if session.scalar(online.limit(1)) is None:
        # Nobody online (an admin watching the console is connected but not taking chats): one indexed probe
        # instead of loading every waiting entry on each new conversation, which grew with the queue.
        return []
    waiting = queries.waiting_entries(session)
    if not waiting:
        return []
    pool = queries.candidates(session, connected)
    if not any(c.presence == Presence.ONLINE and c.connected and c.load < c.capacity for c in pool):
        return []
    tenant_id = waiting[0].tenant_id
    system = system_actor(tenant_id)
    policy = queries.policy(session)
    presences = {p.staff_id: p for p in session.scalars(select(AgentPresence))}
    offered: list[QueueEntry] = []
    now = utcnow()
    for entry in waiting:
        conversation = session.get(Conversation, entry.conversation_id)
        if conversation is None or conversation.status == Status.RESOLVED.value or conversation.assignee_id:
            _close(
                session,
                entry,
                QueueState.CANCELLED if conversation is None or not conversation.assignee_id else QueueState.ASSIGNED,
            )
            continue
        declined = frozenset(uuid.UUID(x) for x in entry.declined_by)
        choice = pick_round_robin(pool, team_id=entry.team_id, declined=declined)
        if choice is None and declined:
            # Everyone eligible already let it lapse once: start a new round rather than strand the customer.
            entry.declined_by = []
            choice = pick_round_robin(pool, team_id=entry.team_id)
        if choice is None:
            continue
        entry.state = QueueState.OFFERED.value
        entry.offered_to = choice.staff_id
        entry.offer_expires_at = now + timedelta(seconds=policy.accept_timeout_seconds)
        presence = presences.get(choice.staff_id)
        if presence is not None:
            presence.last_offered_at = now
        pool = [c if c.staff_id != choice.staff_id else _bumped(c, now) for c in pool]
        session.flush()
        audit.record(
            session,
            system,
            "routing.offer",
            "conversation",
            entry.conversation_id,
            {"offered_to": str(choice.staff_id)},
        )
        publish_on_commit(
            session,
            OfferAdded(
                tenant_id=tenant_id,
                scope=Scope.of(conversation),
                offered_to=choice.staff_id,
                expires_at=entry.offer_expires_at,
            ),
        )
        offered.append(entry)
    return offered


def _bumped(candidate: Candidate, now: datetime) -> Candidate:
    """The same agent after receiving an offer in this pass: one more in load, offered just now."""
    return replace(candidate, load=candidate.load + 1, last_offered_at=now)


def _close(session: Session, entry: QueueEntry, state: QueueState) -> None:
    entry.state = state.value
    entry.offered_to = None
    entry.offer_expires_at = None
    if state == QueueState.ASSIGNED and entry.assigned_at is None:
        entry.assigned_at = utcnow()
    session.flush()


def expire_offers(session: Session) -> int:
    """Return lapsed offers to the queue; the agent who let one lapse is skipped for it next round."""
    now = utcnow()
    count = 0
    for entry in session.scalars(select(QueueEntry).where(QueueEntry.state == QueueState.OFFERED.value)):
        if entry.offer_expires_at is None or entry.offer_expires_at > now:
            continue
        _return_to_queue(session, entry, "routing.offer_expired")
        count += 1
    return count


def _return_to_queue(session: Session, entry: QueueEntry, action: str) -> None:
    lapsed = entry.offered_to
    entry.state = QueueState.WAITING.value
    entry.declined_by = [*entry.declined_by, str(lapsed)] if lapsed else entry.declined_by
    entry.offered_to = None
    entry.offer_expires_at = None
    session.flush()
    conversation = session.get(Conversation, entry.conversation_id)
    audit.record(
        session, system_actor(entry.tenant_id), action, "conversation", entry.conversation_id, {"staff_id": _s(lapsed)}
    )
    if conversation is not None:
        publish_on_commit(
            session, OfferRemoved(tenant_id=entry.tenant_id, scope=Scope.of(conversation), offered_to=lapsed)
        )


def accept_offer(session: Session, actor: Actor, conversation_id: uuid.UUID) -> Conversation:
    """The offered agent takes the conversation: it is assigned to them and leaves the queue."""
    actor.require(Perm.CONVERSATIONS_WRITE)
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state != QueueState.OFFERED.value or entry.offered_to != actor.staff_id:
        raise NotFound("no offer of this conversation is open for you (it may have lapsed or gone to someone else)")
    if entry.offer_expires_at is not None and entry.offer_expires_at <= utcnow():
        _return_to_queue(session, entry, "routing.offer_expired")
        raise Conflict("this offer has lapsed; the conversation went back to the queue")
    _close(session, entry, QueueState.ASSIGNED)
    conversation = conversation_actions.update_conversation(
        session, actor, conversation_id, ConversationUpdate(assignee_id=actor.staff_id)
    )
    audit.record(session, actor, "routing.accept", "conversation", conversation_id, {})
    return conversation


def decline_offer(session: Session, actor: Actor, conversation_id: uuid.UUID) -> None:
    actor.require(Perm.CONVERSATIONS_WRITE)
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state != QueueState.OFFERED.value or entry.offered_to != actor.staff_id:
        raise NotFound("no offer of this conversation is open for you")
    _return_to_queue(session, entry, "routing.decline")


def assign(
    session: Session,
    actor: Actor,
    conversation_id: uuid.UUID,
    *,
    assignee_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    note: str = "",
) -> Conversation:
    """Assign or transfer to an agent and/or a team, with an optional internal note for the receiver.

    A transfer to a team without an agent puts the conversation back in the queue for that team.
    """
    actor.require(Perm.CONVERSATIONS_ASSIGN)
    current = conversation_queries.get_conversation(session, actor, conversation_id)
    if assignee_id is None and team_id is None:
        raise InvalidInput("name an agent (assignee_id), a team (team_id), or both")
    # The note is written first, while the sender still sees the conversation: a transfer to a colleague of
    # another team takes it out of the sender's view, and a note added after it would answer 404.
    if note:
        conversation_actions.add_note(session, actor, conversation_id, note)
    update = ConversationUpdate(assignee_id=assignee_id, team_id=team_id or current.team_id)
    conversation = conversation_actions.update_conversation(session, actor, conversation_id, update)
    entry = queries.entry_for(session, conversation_id)
    if assignee_id is not None:
        if entry is not None and entry.state != QueueState.ASSIGNED.value:
            _close(session, entry, QueueState.ASSIGNED)
    else:
        enqueue(session, actor, conversation)
        entry = queries.entry_for(session, conversation_id)
        if entry is not None:
            entry.team_id = team_id
            session.flush()
    return conversation


def set_presence(session: Session, actor: Actor, status: Presence) -> AgentPresence:
    """An agent says whether they take work; going online may trigger offers (done by the caller's routing pass)."""
    actor.require(Perm.CONVERSATIONS_WRITE)
    if actor.staff_id is None:
        raise InvalidInput("only a signed-in staff member has a presence")
    row = session.scalar(select(AgentPresence).where(AgentPresence.staff_id == actor.staff_id))
    if row is None:
        row = AgentPresence(tenant_id=actor.tenant_id, staff_id=actor.staff_id, status=status.value)
        session.add(row)
    elif row.status == status.value:
        return row
    row.status = status.value
    row.changed_at = utcnow()
    session.flush()
    if status != Presence.ONLINE:
        for entry in queries.offers_for(session, actor.staff_id):
            _return_to_queue(session, entry, "routing.offer_withdrawn")
    audit.record(session, actor, "routing.presence", "staff", actor.staff_id, {"status": status.value})
    assert actor.staff_id is not None
    publish_on_commit(session, PresenceUpdated(tenant_id=actor.tenant_id, staff_id=actor.staff_id, status=status.value))
    return row


def update_policy(session: Session, actor: Actor, *, accept_timeout_seconds: int) -> RoutingPolicy:
    actor.require(Perm.TENANT_SETTINGS)
    row = session.scalar(select(RoutingPolicy))
    if row is None:
        row = RoutingPolicy(tenant_id=actor.tenant_id)
        session.add(row)
    before = {"accept_timeout_seconds": row.accept_timeout_seconds}
    row.accept_timeout_seconds = accept_timeout_seconds
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "routing.policy_update",
        "routing_policy",
        row.id,
        audit.diff(before, {"accept_timeout_seconds": accept_timeout_seconds}),
    )
    return row


def _s(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None
