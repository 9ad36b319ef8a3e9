"""Read helpers of the routing slice: agents' load and presence, the queue, a customer's place in it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser, TeamMember
from omnidesk.conversations.models import Conversation
from omnidesk.routing.models import AgentPresence, QueueEntry, RoutingPolicy
from omnidesk.routing.strategy import Candidate, Presence, QueueState, queue_order_key

ACTIVE_STATUSES = ("open", "pending")


def policy(session: Session) -> RoutingPolicy:
    """The tenant's policy, or the defaults (not stored until someone changes them)."""
    return session.scalar(select(RoutingPolicy)) or RoutingPolicy(strategy="round_robin", accept_timeout_seconds=60)


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
