"""Read helpers of the routing slice: agents' load and presence, the queue, a customer's place in it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser, Team, TeamMember
from omnidesk.conversations.models import Conversation
from omnidesk.core.db import utcnow
from omnidesk.routing import engine
from omnidesk.routing.models import AgentPresence, QueueEntry, RoutingPolicy, RoutingQueue
from omnidesk.routing.schemas import WallQueueOut
from omnidesk.routing.strategy import Candidate, Presence, QueueState, queue_order_key

ACTIVE_STATUSES = ("open", "pending")


def policy(session: Session) -> RoutingPolicy:
    """The tenant's policy, or the defaults (not stored until someone changes them)."""
    return session.scalar(select(RoutingPolicy)) or RoutingPolicy(
        strategy="round_robin", accept_timeout_seconds=60, missed_offers_limit=3, reoffer_unanswered_minutes=0
    )


def loads(session: Session) -> dict[uuid.UUID, int]:
    """Open conversations per assignee plus outstanding offers: an offer reserves capacity until it lapses."""
    counts: dict[uuid.UUID, int] = {}
    rows = session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.is_not(None), Conversation.status.in_(ACTIVE_STATUSES))
        .group_by(Conversation.assignee_id)
    )
    for staff_id, n in rows:
        if staff_id is not None:
            counts[staff_id] = n
    offers = session.execute(
        select(QueueEntry.offered_to, func.count())
        .where(QueueEntry.state == QueueState.OFFERED.value)
        .group_by(QueueEntry.offered_to)
    )
    for staff_id, n in offers:
        if staff_id is not None:
            counts[staff_id] = counts.get(staff_id, 0) + n
    return counts


def candidates(session: Session, connected: frozenset[uuid.UUID] | None) -> list[Candidate]:
    """Every active agent with their presence and load; ``connected=None`` means liveness is not tracked."""
    presence = {p.staff_id: p for p in session.scalars(select(AgentPresence))}
    teams: dict[uuid.UUID, set[uuid.UUID]] = {}
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        teams.setdefault(user_id, set()).add(team_id)
    load = loads(session)
    out = []
    for user in session.scalars(select(StaffUser).where(StaffUser.is_active.is_(True))):
        p = presence.get(user.id)
        out.append(
            Candidate(
                staff_id=user.id,
                team_ids=frozenset(teams.get(user.id, ())),
                presence=Presence(p.status) if p else Presence.OFFLINE,
                connected=connected is None or user.id in connected,
                load=load.get(user.id, 0),
                capacity=user.max_concurrent,
                last_offered_at=p.last_offered_at if p else None,
            )
        )
    return out


def waiting_entries(session: Session) -> list[QueueEntry]:
    """Entries still waiting for a person (not on offer), in service order."""
    rows = list(session.scalars(select(QueueEntry).where(QueueEntry.state == QueueState.WAITING.value)))
    return sorted(rows, key=lambda e: queue_order_key(e.priority, e.waiting_since))


def open_entries(session: Session) -> list[QueueEntry]:
    """Waiting and offered entries in service order: the supervisor's queue."""
    rows = list(
        session.scalars(
            select(QueueEntry).where(QueueEntry.state.in_((QueueState.WAITING.value, QueueState.OFFERED.value)))
        )
    )
    return sorted(rows, key=lambda e: queue_order_key(e.priority, e.waiting_since))


def entry_for(session: Session, conversation_id: uuid.UUID) -> QueueEntry | None:
    return session.scalar(select(QueueEntry).where(QueueEntry.conversation_id == conversation_id))


def recent_waits(session: Session, limit: int = 20) -> list[timedelta]:
    rows = session.execute(
        select(QueueEntry.waiting_since, QueueEntry.assigned_at)
        .where(QueueEntry.assigned_at.is_not(None))
        .order_by(QueueEntry.assigned_at.desc())
        .limit(limit)
    )
    return [assigned - since for since, assigned in rows if assigned is not None]


def offers_for(session: Session, staff_id: uuid.UUID) -> list[QueueEntry]:
    return list(
        session.scalars(
            select(QueueEntry).where(QueueEntry.state == QueueState.OFFERED.value, QueueEntry.offered_to == staff_id)
        )
    )


# ---- ACD: the facts the engine needs ---------------------------------------------------------------------------

TEAM_QUEUE_NAMESPACE = uuid.UUID("6f1d6f51-9d0e-4a8e-9a57-3a0c5e7d2b11")
EVERYONE_QUEUE_ID = uuid.uuid5(TEAM_QUEUE_NAMESPACE, "everyone")


def implicit_queue_id(team_id: uuid.UUID | None) -> uuid.UUID:
    """Entries without a configured queue wait in an implicit one per team (everyone's when no team): the
    behaviour before queues existed (any agent of the team, longest idle first)."""
    return uuid.uuid5(TEAM_QUEUE_NAMESPACE, str(team_id)) if team_id else EVERYONE_QUEUE_ID


def queue_rows(session: Session) -> list[RoutingQueue]:
    return list(session.scalars(select(RoutingQueue).order_by(RoutingQueue.name)))


def engine_queue(row: RoutingQueue) -> engine.Queue:
    steps = (
        tuple(
            engine.Step(
                min_proficiency=int(s.get("min_proficiency", 0)),
                timeout_seconds=s.get("timeout_seconds"),
                overflow=bool(s.get("overflow", False)),
            )
            for s in row.steps
        )
        or engine.DEFAULT_STEPS
    )
    return engine.Queue(
        id=row.id,
        name=row.name,
        skills=frozenset(row.skills),
        steps=steps,
        selection=engine.Selection(row.selection),
        overflow_queue_id=row.overflow_queue_id,
        paused=row.paused,
        sticky_seconds=row.sticky_seconds,
        aging_seconds=row.aging_seconds,
    )


def entry_queue_id(entry: QueueEntry) -> uuid.UUID:
    return entry.queue_id or implicit_queue_id(entry.team_id)


def routing_facts(
    session: Session, entries: list[QueueEntry], connected: frozenset[uuid.UUID] | None
) -> tuple[dict[uuid.UUID, engine.Queue], list[engine.Agent], dict[uuid.UUID, uuid.UUID | None]]:
    """Queues (configured and implicit), every active agent as the engine sees them, and each configured or
    implicit queue's team (None: everyone)."""
    rows = queue_rows(session)
    queues = {r.id: engine_queue(r) for r in rows}
    team_of: dict[uuid.UUID, uuid.UUID | None] = {r.id: r.team_id for r in rows}
    for entry in entries:
        if entry.queue_id is None or entry.queue_id not in queues:
            qid = implicit_queue_id(entry.team_id)
            queues.setdefault(qid, engine.Queue(id=qid, name="", aging_seconds=0))
            team_of[qid] = entry.team_id
    presence = {p.staff_id: p for p in session.scalars(select(AgentPresence))}
    teams: dict[uuid.UUID, set[uuid.UUID]] = {}
    team_skills: dict[uuid.UUID, list[str]] = {}
    for team in session.scalars(select(Team)):
        team_skills[team.id] = list(team.skills)
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        teams.setdefault(user_id, set()).add(team_id)
    units = load_units(session)
    counts = loads(session)
    agents = []
    for user in session.scalars(select(StaffUser).where(StaffUser.is_active.is_(True))):
        p = presence.get(user.id)
        mine = teams.get(user.id, set())
        skills: dict[str, int] = {}
        for team_id in mine:
            for s in team_skills.get(team_id, ()):
                skills[s] = max(skills.get(s, 0), 1)  # a team's skill: the member knows it at least a little
        for s in user.skills:
            skills[s] = max(skills.get(s, 0), 3)
        for s, level in (user.skill_levels or {}).items():
            skills[s] = int(level)
        agents.append(
            engine.Agent(
                id=user.id,
                queue_ids=frozenset(q for q, team in team_of.items() if team is None or team in mine),
                skills=skills,
                available=bool(p and p.status == Presence.ONLINE.value) and (connected is None or user.id in connected),
                load_units=units.get(user.id, 0),
                active=counts.get(user.id, 0),
                max_concurrent=user.max_concurrent,
                idle_since=p.last_offered_at if p else None,
            )
        )
    return queues, agents, team_of


def load_units(session: Session, costs: engine.Costs | None = None) -> dict[uuid.UUID, int]:
    """Capacity units in use per agent: each open conversation and outstanding offer costs its channel's units."""
    costs = costs or engine.Costs()
    units: dict[uuid.UUID, int] = {}
    rows = session.execute(
        select(Conversation.assignee_id, Conversation.channel, func.count())
        .where(Conversation.assignee_id.is_not(None), Conversation.status.in_(ACTIVE_STATUSES))
        .group_by(Conversation.assignee_id, Conversation.channel)
    )
    offers = session.execute(
        select(QueueEntry.offered_to, QueueEntry.channel, func.count())
        .where(QueueEntry.state == QueueState.OFFERED.value)
        .group_by(QueueEntry.offered_to, QueueEntry.channel)
    )
    for staff_id, channel, n in [*rows, *offers]:
        if staff_id is not None:
            units[staff_id] = units.get(staff_id, 0) + costs.of(channel) * n
    return units


def handled_per_minute(session: Session, queue_id: uuid.UUID | None, window: timedelta) -> float | None:
    """The queue's measured handling rate: contacts taken by an agent per minute over the recent window (None
    when fewer than 3 were, too few to measure). The one source for position-based waits."""
    since = utcnow() - window
    query = select(func.count()).where(QueueEntry.assigned_at.is_not(None), QueueEntry.assigned_at >= since)
    if queue_id is not None:
        query = query.where(QueueEntry.queue_id == queue_id)
    n = session.scalar(query) or 0
    if n < 3:
        return None
    return n / (window.total_seconds() / 60)


def queue_wall(s: Session, connected: frozenset[uuid.UUID] | None) -> list[WallQueueOut]:
    """The live queue wall: per queue, who waits, the longest wait, agents available and with free capacity."""
    entries = open_entries(s)
    queues, agents, _ = routing_facts(s, entries, connected)
    now = utcnow()
    out = []
    for qid, queue in queues.items():
        mine = [e for e in entries if entry_queue_id(e) == qid]
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
