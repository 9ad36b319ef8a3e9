"""Request and response shapes of the assistant's API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from omnidesk.core.schemas import Input, Language, Output

Utterance = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Label = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class AnswerRequest(Input):
    text: Utterance
    language: Language | None = None
    state: dict[str, Any] = Field(
        default_factory=dict, description="the `state` of the previous reply, to test multi-turn flows"
    )
    customer_tags: list[Annotated[str, StringConstraints(max_length=40)]] = Field(default=[], max_length=20)


class Button(Output):
    label: str
    value: str
    knowledge_id: str | None = Field(default=None, description="a clarification's FAQ entry (its external id)")


class AnswerOut(Output):
    kind: str = Field(description="answer | clarify | flow | hand_over | decline | smalltalk")
    text: str
    language: str
    reason: str
    buttons: list[Button]
    knowledge_id: str | None = Field(description="external id of the matched FAQ entry")
    confidence: float
    intent: dict[str, Any] | None
    entities: list[dict[str, Any]]
    sentiment: dict[str, Any]
    priority: str
    flow: str | None
    state: dict[str, Any]


class ExamplesIn(Input):
    label: Label
    texts: list[Utterance] = Field(min_length=1, max_length=500)


class IntentModelOut(Output):
    id: uuid.UUID
    version: int
    status: str
    active: bool
    labels: list[str]
    examples: int
    train_seconds: float
    error: str
    created_at: datetime
    finished_at: datetime | None


class ConfigOut(Output):
    version: int
    document: dict[str, Any]


class GapOut(Output):
    text: str
    count: int
    language: str
    last_seen: datetime
    reasons: list[str]


class FaqSuggestionOut(Output):
    id: uuid.UUID
    conversation_id: uuid.UUID
    question: str
    answer: str
    language: str
    status: str
    created_at: datetime


class LlmKeyIn(Input):
    api_key: Annotated[str, StringConstraints(min_length=8, max_length=500, pattern=r"^[\x21-\x7e]+$")] = Field(
        description="the API key of the tenant's LLM provider; stored encrypted, never returned"
    )


class LlmKeyOut(Output):
    configured: bool = Field(description="whether a key is stored (the key itself is never returned)")
    last4: str = Field(description="its last four characters, for recognising it (empty for short keys)")
    updated_at: datetime | None
