"""Pure routing decisions: who gets the next waiting conversation, and what a waiting customer is told.

No database here: the actions gather the facts into plain values and store what these functions decide.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class QueueState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CANCELLED = "cancelled"


PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True)
class Candidate:
    """An agent as routing sees them at one moment."""

    staff_id: uuid.UUID
    team_ids: frozenset[uuid.UUID]
    presence: Presence
    connected: bool
    load: int
    capacity: int
    last_offered_at: datetime | None


def eligible(candidate: Candidate, *, team_id: uuid.UUID | None, declined: frozenset[uuid.UUID]) -> bool:
    """Online, connected right now, with free capacity, in the conversation's team (if it has one), and not
    someone who already let this conversation's offer lapse."""
    return (
        candidate.presence == Presence.ONLINE
        and candidate.connected
        and candidate.load < candidate.capacity
        and (team_id is None or team_id in candidate.team_ids)
        and candidate.staff_id not in declined
    )


def pick_round_robin(
    candidates: list[Candidate], *, team_id: uuid.UUID | None, declined: frozenset[uuid.UUID] = frozenset()
) -> Candidate | None:
    """The eligible agent offered work longest ago (never-offered first); ties go to the lighter load, then the
    id, so the choice is deterministic."""
    pool = [c for c in candidates if eligible(c, team_id=team_id, declined=declined)]
    if not pool:
        return None
    return min(
        pool,
        key=lambda c: (c.last_offered_at is not None, c.last_offered_at or datetime.min, c.load, str(c.staff_id)),
    )


def queue_order_key(priority: str, waiting_since: datetime) -> tuple[int, datetime]:
    """Urgent before high before normal before low; within a priority, first come first served."""
    return (PRIORITY_RANK.get(priority, 2), waiting_since)


def expected_wait(
    position: int, *, recent_waits: list[timedelta], agents_available: int, default: timedelta
) -> timedelta:
    """A plain estimate: the average recent wait for a person, scaled by how many are ahead of you and shared
    among the agents on duty. ``position`` counts from 1 (next in line)."""
    average = sum(recent_waits, timedelta()) / len(recent_waits) if recent_waits else default
    return average * position / max(agents_available, 1)


def remaining_wait(
    position: int,
    *,
    waited: timedelta,
    recent_waits: list[timedelta],
    agents_online: int,
    default: timedelta,
) -> timedelta | None:
    """What a waiting customer may honestly be told: ``None`` (no estimate) when no agent is online, or when the
    customer has already waited longer than the estimate (an estimate that keeps saying "1 minute" after 25 is
    a lie); otherwise the estimate less the time already waited."""
    if agents_online <= 0:
        return None
    left = expected_wait(position, recent_waits=recent_waits, agents_available=agents_online, default=default) - waited
    return left if left > timedelta(0) else None
