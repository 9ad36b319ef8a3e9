"""Actions of the routing slice: queue a conversation for a person, offer it, accept / decline, presence.

Seam for the assistant: a conversation enters the queue only through :func:`enqueue` (the widget calls it when no
bot holds the conversation; the bot will call it on hand-over). Routing only ever offers queue entries, so a
conversation the bot is handling is never offered to an agent.

Concurrency: queue entries carry a version column; two processes routing at once make one UPDATE fail with a
stale-data error instead of offering one conversation twice (the reconciler retries the loser next tick).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts import queries as accounts_queries
from omnidesk.compliance import audit
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import ConversationUpdate
from omnidesk.conversations.states import Status
from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.customers.models import Customer
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import OfferAdded, OfferRemoved, PresenceUpdated, QueueAdded, Scope
from omnidesk.routing import engine, queries
from omnidesk.routing.models import AgentPresence, QueueEntry, RoutingPolicy
from omnidesk.routing.strategy import Presence, QueueState
from omnidesk.security.permissions import Perm


def enqueue(session: Session, actor: Actor, conversation: Conversation) -> QueueEntry:
    """Put ``conversation`` in the queue for a person (idempotent: an open entry is kept, a closed one reopened).

    Its queue (the team's configured queue, else the default queue, else the team's implicit one), requirements
    (skills and raised priority, ``engine.classify``) and the customer's previous agent are fixed here."""
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
    _classify(session, entry, conversation, now)
    session.flush()
    audit.record(
        session,
        actor,
        "routing.enqueue",
        "conversation",
        conversation.id,
        {"team_id": _s(entry.team_id), "queue_id": _s(entry.queue_id), "priority": entry.priority},
    )
    publish_on_commit(
        session, QueueAdded(tenant_id=conversation.tenant_id, scope=Scope.of(conversation), state=entry.state)
    )
    return entry


def _classify(session: Session, entry: QueueEntry, conversation: Conversation, now: datetime) -> None:
    rows = queries.queue_rows(session)
    queue = next((q for q in rows if conversation.team_id and q.team_id == conversation.team_id), None)
    queue = queue or next((q for q in rows if q.is_default), None)
    entry.queue_id = queue.id if queue else None
    entry.queued_at = now
    entry.channel = conversation.channel
    customer = session.get(Customer, conversation.customer_id)
    attrs = conversation.attributes or {}
    cattrs = (customer.attributes if customer else None) or {}
    tags = [t.lower() for t in (customer.tags if customer else [])]
    vip = cattrs.get("tier") or cattrs.get("vip_tier") or ("vip" if "vip" in tags else None)
    text = " ".join(
        session.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation.id, Message.sender_type == "customer")
            .order_by(Message.seq.desc())
            .limit(3)
        )
    )
    req = engine.classify(
        channel=conversation.channel,
        priority=conversation.priority,
        language=attrs.get("language") or (customer.language if customer else None),
        default_language="zh-CN",
        intent=attrs.get("intent"),
        # An intent's skill is the intent's own name ("refund" needs an agent skilled in "refund").
        intent_skills={str(attrs["intent"]): str(attrs["intent"])} if attrs.get("intent") else {},
        vip_tier=str(vip) if vip else None,
        sentiment=attrs.get("sentiment"),
        text=f"{conversation.subject} {text}",
        queue_skills=queue.skills if queue else (),
    )
    entry.priority = req.priority
    entry.requirements = {"skills": sorted(req.skills), "reasons": list(req.reasons)}
    entry.previous_agent_id = session.scalar(
        select(Conversation.assignee_id)
        .where(
            Conversation.customer_id == conversation.customer_id,
            Conversation.id != conversation.id,
            Conversation.assignee_id.is_not(None),
        )
        .order_by(Conversation.updated_at.desc())
        .limit(1)
    )


def route_waiting(session: Session, *, connected: frozenset[uuid.UUID] | None) -> list[QueueEntry]:
    """Offer waiting conversations to agents as the ACD engine decides (``routing.engine``); return the entries
    offered. Each decision's trace is stored on the entry for supervisors.

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
    now = utcnow()
    # Entries whose conversation was assigned or resolved some other way leave the queue (one query, not one each).
    status = {
        cid: (st, assignee)
        for cid, st, assignee in session.execute(
            select(Conversation.id, Conversation.status, Conversation.assignee_id).where(
                Conversation.id.in_([e.conversation_id for e in waiting])
            )
        )
    }
    live: list[QueueEntry] = []
    for entry in waiting:
        st, assignee = status.get(entry.conversation_id, (None, None))
        if st is None or st == Status.RESOLVED.value or assignee:
            _close(session, entry, QueueState.ASSIGNED if assignee else QueueState.CANCELLED)
        else:
            live.append(entry)
    if not live:
        return []
    queues, agents, _ = queries.routing_facts(session, live, connected)
    if not any(a.available for a in agents):
        return []
    by_id = {e.id: e for e in live}
    contacts = [contact_of(e) for e in live]
    decisions = engine.route(contacts, agents, queues, now)
    tenant_id = live[0].tenant_id
    system = system_actor(tenant_id)
    policy = queries.policy(session)
    presences = {p.staff_id: p for p in session.scalars(select(AgentPresence))}
    offered: list[QueueEntry] = []
    for decision in decisions:
        entry = by_id[decision.contact_id]
        if decision.agent_id is None:
            # Store a waiting trace only when its gist changed: rewriting 10,000 rows every tick would cost more
            # than the routing itself and bump every entry's version.
            old = entry.last_trace or {}
            if (old.get("step"), old.get("why"), old.get("outcome")) != (
                decision.trace.get("step"),
                decision.trace.get("why"),
                decision.trace.get("outcome"),
            ):
                entry.last_trace = decision.trace
            continue
        if decision.reset_declined:
            entry.declined_by = []
        entry.state = QueueState.OFFERED.value
        entry.offered_to = decision.agent_id
        entry.offer_expires_at = now + timedelta(seconds=policy.accept_timeout_seconds)
        entry.last_trace = decision.trace
        presence = presences.get(decision.agent_id)
        if presence is not None:
            presence.last_offered_at = now
        offered.append(entry)
    if not offered:
        session.flush()
        return []
    session.flush()
    conversations = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.id.in_([e.conversation_id for e in offered])))
    }
    for entry in offered:
        audit.record(
            session,
            system,
            "routing.offer",
            "conversation",
            entry.conversation_id,
            {"offered_to": str(entry.offered_to), "step": entry.last_trace.get("step")},
        )
        assert entry.offered_to is not None and entry.offer_expires_at is not None
        publish_on_commit(
            session,
            OfferAdded(
                tenant_id=tenant_id,
                scope=Scope.of(conversations[entry.conversation_id]),
                offered_to=entry.offered_to,
                expires_at=entry.offer_expires_at,
            ),
        )
    return offered


def contact_of(entry: QueueEntry) -> engine.Contact:
    requirements = entry.requirements or {}
    return engine.Contact(
        id=entry.id,
        queue_id=queries.entry_queue_id(entry),
        channel=entry.channel,
        priority=entry.priority,
        waiting_since=entry.waiting_since,
        queued_at=entry.queued_at or entry.waiting_since,
        required_skills=frozenset(requirements.get("skills", ())),
        previous_agent=entry.previous_agent_id,
        declined=frozenset(uuid.UUID(x) for x in entry.declined_by),
    )


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
        lapsed = entry.offered_to
        _return_to_queue(session, entry, "routing.offer_expired")
        count += 1
        if lapsed is not None:
            _missed(session, entry.tenant_id, lapsed)
    return count


def _missed(session: Session, tenant_id: uuid.UUID, staff_id: uuid.UUID) -> None:
    """Count a lapsed offer; at the tenant's limit in a row the agent is set away (they are likely not at the
    desk, and every further offer would cost another customer the accept timeout)."""
    presence = session.scalar(select(AgentPresence).where(AgentPresence.staff_id == staff_id))
    if presence is None:
        return
    presence.missed_offers += 1
    limit = queries.policy(session).missed_offers_limit
    if limit and presence.missed_offers >= limit and presence.status == Presence.ONLINE.value:
        _change_presence(session, system_actor(tenant_id), presence, Presence.AWAY, "routing.auto_away")


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


def reoffer_unanswered(session: Session) -> int:
    """Return to the queue each chat accepted more than the tenant's ``reoffer_unanswered_minutes`` ago that its
    agent has not answered (Chatwoot #14508): it is unassigned, keeps the customer's wait, and that agent is
    skipped for it this round. Only entries assigned within the last 10 minutes past the limit are looked at, so
    the pass does not grow with history (the reconciler runs every 2 s)."""
    minutes = queries.policy(session).reoffer_unanswered_minutes
    if not minutes:
        return 0
    now = utcnow()
    cutoff = now - timedelta(minutes=minutes)
    entries = list(
        session.scalars(
            select(QueueEntry).where(
                QueueEntry.state == QueueState.ASSIGNED.value,
                QueueEntry.assigned_at <= cutoff,
                QueueEntry.assigned_at > cutoff - timedelta(minutes=10),
            )
        )
    )
    count = 0
    for entry in entries:
        conversation = session.get(Conversation, entry.conversation_id)
        if conversation is None or conversation.assignee_id is None or conversation.status != Status.OPEN.value:
            continue
        answered = session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation.id,
                Message.sender_type == "agent",
                Message.created_at >= entry.assigned_at,
            )
            .limit(1)
        )
        if answered is not None:
            continue
        agent, waited_since = conversation.assignee_id, entry.waiting_since
        system = system_actor(entry.tenant_id)
        conversation_actions.update_conversation(session, system, conversation.id, ConversationUpdate(assignee_id=None))
        enqueue(session, system, conversation)
        entry.waiting_since = waited_since  # the customer's wait goes on; it did not start again
        entry.declined_by = [str(agent)]
        session.flush()
        audit.record(
            session, system, "routing.reoffer_unanswered", "conversation", conversation.id, {"staff_id": str(agent)}
        )
        count += 1
    return count


def withdraw_offer(session: Session, entry: QueueEntry) -> None:
    """Take an open offer back (a supervisor moved or reassigned the contact); not counted as a miss."""
    _return_to_queue(session, entry, "routing.offer_withdrawn")


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
    presence = session.scalar(select(AgentPresence).where(AgentPresence.staff_id == actor.staff_id))
    if presence is not None:
        presence.missed_offers = 0
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
    return _set_presence_of(session, actor, actor.staff_id, status, "routing.presence")


def set_agent_state(session: Session, actor: Actor, staff_id: uuid.UUID, status: Presence) -> AgentPresence:
    """A supervisor changes an agent's state (e.g. sets a missing agent away so offers stop going to them)."""
    actor.require(Perm.ROUTING_SUPERVISE)
    accounts_queries.get_staff(session, staff_id)  # tenant-scoped: 404 for someone else's staff
    return _set_presence_of(session, actor, staff_id, status, "routing.agent_state")


def _set_presence_of(
    session: Session, actor: Actor, staff_id: uuid.UUID, status: Presence, action: str
) -> AgentPresence:
    row = session.scalar(select(AgentPresence).where(AgentPresence.staff_id == staff_id))
    if row is None:
        row = AgentPresence(tenant_id=actor.tenant_id, staff_id=staff_id, status=Presence.OFFLINE.value)
        session.add(row)
        session.flush()
        if status == Presence.OFFLINE:
            return row
    elif row.status == status.value:
        return row
    _change_presence(session, actor, row, status, action)
    return row


def _change_presence(session: Session, actor: Actor, row: AgentPresence, status: Presence, action: str) -> None:
    before = row.status
    row.status = status.value
    row.changed_at = utcnow()
    if status == Presence.ONLINE:
        row.missed_offers = 0
    session.flush()
    if status != Presence.ONLINE:
        for entry in queries.offers_for(session, row.staff_id):
            _return_to_queue(session, entry, "routing.offer_withdrawn")
    audit.record(session, actor, action, "staff", row.staff_id, {"status": status.value, "before": before})
    publish_on_commit(session, PresenceUpdated(tenant_id=row.tenant_id, staff_id=row.staff_id, status=status.value))


def update_policy(
    session: Session,
    actor: Actor,
    *,
    accept_timeout_seconds: int,
    missed_offers_limit: int | None = None,
    reoffer_unanswered_minutes: int | None = None,
) -> RoutingPolicy:
    actor.require(Perm.TENANT_SETTINGS)
    row = session.scalar(select(RoutingPolicy))
    if row is None:
        row = RoutingPolicy(tenant_id=actor.tenant_id, missed_offers_limit=3, reoffer_unanswered_minutes=0)
        session.add(row)
    fields = ("accept_timeout_seconds", "missed_offers_limit", "reoffer_unanswered_minutes")
    before = {f: getattr(row, f) for f in fields}
    row.accept_timeout_seconds = accept_timeout_seconds
    if missed_offers_limit is not None:
        row.missed_offers_limit = missed_offers_limit
    if reoffer_unanswered_minutes is not None:
        row.reoffer_unanswered_minutes = reoffer_unanswered_minutes
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "routing.policy_update",
        "routing_policy",
        row.id,
        audit.diff(before, {f: getattr(row, f) for f in fields}),
    )
    return row


def _s(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None
