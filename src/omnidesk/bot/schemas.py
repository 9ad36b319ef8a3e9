"""Request and response shapes of the assistant's API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, computed_field

from omnidesk.bot.nlu.answer_policy import DEFAULT_TARGET
from omnidesk.core.schemas import Input, Language, Output, SingleLine

Utterance = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Label = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class AnswerRequest(Input):
    text: Utterance
    language: Language | None = None
    state: dict[str, Any] = Field(
        default_factory=dict, description="the `state` of the previous reply, to test multi-turn flows"
    )
    customer_tags: list[Annotated[SingleLine, StringConstraints(max_length=40)]] = Field(default=[], max_length=20)


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
    activate_when_ready: bool = Field(description="false: it waits for an admin to activate it")
    policy: dict[str, Any] = Field(
        description="the operating points chosen from held-out examples: per target (wrong answers aimed at, a "
        "share of in-scope questions) the thresholds and the expected answered / clarified / declined rates"
    )
    answer_target: float | None = Field(description="the target of the point in use (null: the default, 0.03)")
    created_at: datetime
    finished_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def operating_point(self) -> dict[str, Any] | None:
        """The point in use, with the rates it is expected to give."""
        points = [p for p in self.policy.get("points", []) if isinstance(p, dict)]
        if not points:
            return None
        want = DEFAULT_TARGET if self.answer_target is None else self.answer_target
        return min(points, key=lambda p: abs(float(p.get("target", 0)) - want))


class TrainIn(Input):
    activate: bool = Field(default=True, description="false: wait for an admin to review and activate it")


class OperatingPointIn(Input):
    target: float = Field(ge=0, le=1, description="one of the model's points: the wrong-answer share it aims at")


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


class AssistKnowledgeOut(Output):
    id: str = Field(description="the knowledge id (an FAQ entry's external id, or an article's id)")
    title: str
    text: str = Field(description="the answer text to insert into the reply")
    source: str = Field(description="`faq` (the assistant's matcher) or `article` (knowledge search)")
    score: float


class AssistReplyOut(Output):
    text: str = Field(description="the reply, placeholders filled in")
    title: str = Field(description="the canned response's title, or the similar question it answered")
    source: str = Field(description="`canned` or `past` (an agent's answer in a resolved conversation)")
    score: float
    canned_id: uuid.UUID | None = None


class AssistSummaryOut(Output):
    kind: str = Field(description="`extractive`, or `llm` when the tenant's LLM wrote `text`")
    key_sentences: list[str] = Field(description="the customer's key sentences, in the order said")
    done: list[str] = Field(description="what was done so far (assistant answers, hand-over, replies, tickets)")
    text: str


class AssistUnderstandingOut(Output):
    text: str = Field(description="the last customer message")
    language: str
    intent: dict[str, Any] | None = Field(description="`label`, `title`, `confidence`, `source` (model|retrieval)")
    sentiment: dict[str, Any] = Field(description="`label`, `score`, `complaint`, `urgent`")


class AssistOut(Output):
    conversation_id: uuid.UUID
    question: str = Field(description="the customer's words since the last reply")
    language: str = Field(description="the customer's language")
    knowledge: list[AssistKnowledgeOut]
    replies: list[AssistReplyOut]
    summary: AssistSummaryOut
    understanding: AssistUnderstandingOut | None
