"""Request and response shapes of the routing API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from omnidesk.core.schemas import ONE_LINE, Input, Output
from omnidesk.routing.strategy import Presence


class QueueStatusOut(Output):
    """A waiting customer's place: the one source for the widget's line and the assistant's hand-over sentence."""

    waiting: bool
    position: int | None = Field(default=None, description="1 = next in line")
    ahead: int | None = Field(default=None, description="customers before this one (position - 1)")
    expected_wait_seconds: int | None = Field(
        default=None, description="null when no estimate is honest: no agent online, or waited past the estimate"
    )
    agents_online: int = 0
    handled_per_minute: float | None = Field(
        default=None, description="the queue's measured handling rate (last 30 min); null: too few to measure"
    )
    callback_offered: bool = Field(default=False, description="the wait passes the queue's callback threshold")
    message: str = Field(default="", description="the sentence shown to the customer, in the asked language")


class PresenceIn(Input):
    status: Presence


class PresenceOut(Output):
    staff_id: uuid.UUID
    status: Presence


class AssignIn(Input):
    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] = Field(default="", description="an internal note")


class QueueEntryOut(Output):
    conversation_id: uuid.UUID
    team_id: uuid.UUID | None
    priority: str
    state: str
    waiting_since: datetime
    wait_seconds: int
    offered_to: uuid.UUID | None
    offer_expires_at: datetime | None


class AgentStateOut(Output):
    staff_id: uuid.UUID
    display_name: str
    presence: Presence
    connected: bool
    load: int
    capacity: int


class SupervisorOut(Output):
    queue: list[QueueEntryOut]
    agents: list[AgentStateOut]


class PolicyIn(Input):
    accept_timeout_seconds: int = Field(ge=5, le=3600)
    missed_offers_limit: int | None = Field(default=None, ge=0, le=50, description="0: never set away")
    reoffer_unanswered_minutes: int | None = Field(default=None, ge=0, le=60, description="0: never")


class PolicyOut(Output):
    strategy: str
    accept_timeout_seconds: int
    missed_offers_limit: int = 3
    reoffer_unanswered_minutes: int = 0


class StepIn(Input):
    min_proficiency: int = Field(default=0, ge=0, le=5, description="0: any agent of the queue")
    timeout_seconds: int | None = Field(default=None, ge=1, le=86_400, description="null: the last step")
    overflow: bool = Field(default=False, description="add the overflow queue's agents")


class QueueIn(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True, pattern=ONE_LINE)]
    team_id: uuid.UUID | None = None
    skills: list[Annotated[str, StringConstraints(min_length=1, max_length=60)]] = Field(default=[], max_length=20)
    steps: list[StepIn] = Field(default=[], max_length=10)
    selection: str = Field(default="longest_idle", pattern="^(longest_idle|least_occupied|best_score)$")
    overflow_queue_id: uuid.UUID | None = None
    sticky_seconds: int = Field(default=0, ge=0, le=86_400)
    aging_seconds: int = Field(default=60, ge=0, le=86_400)
    callback_threshold_seconds: int = Field(default=0, ge=0, le=86_400)
    is_default: bool = False


class QueueOut(Output):
    id: uuid.UUID
    name: str
    team_id: uuid.UUID | None
    skills: list[str]
    steps: list[dict[str, Any]]
    selection: str
    overflow_queue_id: uuid.UUID | None
    paused: bool
    sticky_seconds: int
    aging_seconds: int
    callback_threshold_seconds: int
    is_default: bool


class PauseIn(Input):
    paused: bool


class MoveIn(Input):
    queue_id: uuid.UUID


class AgentStateIn(Input):
    status: Presence


class SkillLevelsIn(Input):
    levels: dict[Annotated[str, StringConstraints(min_length=1, max_length=60)], Annotated[int, Field(ge=0, le=5)]]


class WallQueueOut(Output):
    queue_id: uuid.UUID
    name: str
    paused: bool
    waiting: int
    offered: int
    longest_wait_seconds: int
    agents_available: int
    agents_free: int


class CallbackIn(Input):
    phone: Annotated[str, StringConstraints(min_length=5, max_length=32, strip_whitespace=True)]


class CallbackOut(Output):
    id: uuid.UUID
    state: str
    expected_wait_seconds: int | None
