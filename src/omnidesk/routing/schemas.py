"""Request and response shapes of the routing API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from omnidesk.core.schemas import Input, Output
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


class PolicyOut(Output):
    strategy: str
    accept_timeout_seconds: int
