"""Who may receive an event about a conversation: the fields the real-time gateway filters on."""

from __future__ import annotations

import uuid
from typing import Protocol


class Scoped(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def customer_id(self) -> uuid.UUID: ...
    @property
    def assignee_id(self) -> uuid.UUID | None: ...
    @property
    def team_id(self) -> uuid.UUID | None: ...


def event_scope(conversation: Scoped) -> dict[str, str | None]:
    """The gateway filters on these fields alone, without a database query (the customer's sockets; staff by
    assignee, team and role)."""
    return {
        "conversation_id": str(conversation.id),
        "customer_id": str(conversation.customer_id),
        "assignee_id": str(conversation.assignee_id) if conversation.assignee_id else None,
        "team_id": str(conversation.team_id) if conversation.team_id else None,
    }
