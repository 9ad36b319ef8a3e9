"""The conversation lifecycle as an explicit state machine: one enum and one transition check."""

from __future__ import annotations

from enum import StrEnum

from omnidesk.core.errors import InvalidInput


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.SNOOZED, Status.RESOLVED}),
    Status.SNOOZED: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN}),
}


def check_transition(current: Status, target: Status) -> None:
    """Refuse a move the lifecycle does not allow; moving to the current state is a no-op, not an error."""
    if current == target:
        return
    if target not in _ALLOWED[current]:
        allowed = ", ".join(sorted(_ALLOWED[current]))
        raise InvalidInput(f"a conversation that is {current} cannot become {target}; allowed: {allowed}")


def allowed_from(current: Status) -> frozenset[Status]:
    return _ALLOWED[current]
