"""The ticket lifecycle as an explicit state machine: one enum and one transition check.

new → open → in_progress → pending_customer / pending_third_party → resolved → closed, and resolved/closed →
reopened (which behaves like ``open`` for the SLA and routing). Waiting states pause the SLA clocks.
"""

from __future__ import annotations

from enum import StrEnum

from omnidesk.core.errors import InvalidInput


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    PENDING_CUSTOMER = "pending_customer"
    PENDING_THIRD_PARTY = "pending_third_party"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_RANK: dict[Priority, int] = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}

_WORKING = frozenset({Status.OPEN, Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.PENDING_THIRD_PARTY})
_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.RESOLVED}),
    Status.OPEN: _WORKING - {Status.OPEN} | {Status.RESOLVED},
    Status.IN_PROGRESS: _WORKING - {Status.IN_PROGRESS} | {Status.RESOLVED},
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.IN_PROGRESS, Status.RESOLVED}),
    Status.PENDING_THIRD_PARTY: frozenset({Status.OPEN, Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.REOPENED: frozenset(
        {Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.PENDING_THIRD_PARTY, Status.RESOLVED}
    ),
}

PAUSED = frozenset({Status.PENDING_CUSTOMER, Status.PENDING_THIRD_PARTY})
"""While waiting on the customer or a third party the SLA clocks stand still."""

DONE = frozenset({Status.RESOLVED, Status.CLOSED})
OPEN_STATES = frozenset(Status) - DONE


def check_transition(current: Status, target: Status) -> None:
    """Refuse a move the lifecycle does not allow (moving to the current state is refused too: it means nothing)."""
    if target not in _ALLOWED[current]:
        allowed = ", ".join(sorted(_ALLOWED[current]))
        raise InvalidInput(f"a ticket that is {current} cannot become {target}; allowed: {allowed}")


def allowed_from(current: Status) -> frozenset[Status]:
    return _ALLOWED[current]


def lowered(old: Priority, new: Priority) -> bool:
    return PRIORITY_RANK[new] < PRIORITY_RANK[old]


def raised(priority: Priority) -> Priority:
    """One step up, ``urgent`` stays urgent: what a breach does to a ticket."""
    order = sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__)
    return order[min(PRIORITY_RANK[priority] + 1, len(order) - 1)]
