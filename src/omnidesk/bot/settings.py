"""A tenant's assistant configuration: one validated document (thresholds, hand-over words, guardrails,
connectors, flows, business rules, the optional LLM). Stored versioned in ``bot_configs``; every field has a safe
default so a tenant with no configuration still gets a careful assistant.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from omnidesk.bot.connectors import ConnectorSpec
from omnidesk.bot.nlu.entities import InvalidPatternError, compile_tenant_pattern
from omnidesk.bot.nlu.policy import DEFAULT_FORBIDDEN_TOPICS, DEFAULT_URGENT_WORDS, PolicySettings

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]

# Templates may name values ({status}) but never reach attributes or items ({x.__class__}, {x[0]}).
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Localized(_Strict):
    """A text in both product languages."""

    zh_CN: Text = Field(alias="zh-CN")
    en: Text

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def get(self, language: str) -> str:
        return self.zh_CN if language.startswith("zh") else self.en

    @model_validator(mode="after")
    def _placeholders_are_plain_names(self) -> Localized:
        for text in (self.zh_CN, self.en):
            for name in _PLACEHOLDER.findall(text):
                if not _SAFE_NAME.match(name):
                    raise ValueError(f"placeholder {{{name}}} must be a plain lower-case name")
        return self


class SlotSpec(_Strict):
    name: Name
    kind: Literal["order_number", "tracking_number", "phone", "email", "date", "amount", "weight_kg", "choice", "text"]
    prompt: Localized
    choices: list[Word] = Field(default_factory=list, max_length=12)
    # Words that mean a choice ("北京" → "华北", "Beijing" → "华北"): customers name a place, not the zone.
    synonyms: dict[Word, list[Word]] = Field(default_factory=dict, max_length=12)
    max_attempts: int = Field(default=2, ge=1, le=5)

    @model_validator(mode="after")
    def _choices_for_choice(self) -> SlotSpec:
        if self.kind == "choice" and len(self.choices) < 2:
            raise ValueError("a 'choice' slot needs at least two choices")
        unknown = set(self.synonyms) - set(self.choices)
        if unknown:
            raise ValueError(f"synonyms name choices the slot does not have: {', '.join(sorted(unknown))}")
        if sum(len(words) for words in self.synonyms.values()) > 300:
            raise ValueError("at most 300 synonyms per slot")
        return self


class FlowSpec(_Strict):
    """A multi-turn task: collect slots, then call a connector or a business rule, then answer."""

    name: Name
    title: Localized
    keywords: list[Word] = Field(default_factory=list, max_length=50)
    intents: list[Name] = Field(default_factory=list, max_length=20)
    slots: list[SlotSpec] = Field(default_factory=list, max_length=10)
    connector: Name | None = None
    rule: Literal["shipping_fee"] | None = None
    answer: Localized
    not_found: Localized | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FlowSpec:
        if self.connector and self.rule:
            raise ValueError("a flow calls either a connector or a rule, not both")
        names = [s.name for s in self.slots]
        if len(names) != len(set(names)):
            raise ValueError("slot names must be unique within a flow")
        if not self.keywords and not self.intents:
            raise ValueError("a flow needs keywords or intents that start it")
        return self


class ShippingZone(_Strict):
    name: Name
    label: Localized
    first_kg: float = Field(ge=0, le=10_000)
    per_extra_kg: float = Field(ge=0, le=10_000)


class SpecialGoodsRule(_Strict):
    """A delivery rule for special goods (batteries, liquids, fresh food) answered whenever a keyword appears."""

    name: Name
    keywords: list[Word] = Field(min_length=1, max_length=50)
    answer: Localized


STORED = {"stored": True}
"""Validation context for documents read back from ``bot_configs`` (written by older versions, too)."""


class LlmSettings(_Strict):
    """An OpenAI-compatible endpoint. Its API key is not part of this document: it is stored encrypted per tenant
    and set through ``PUT /api/v1/bot/llm-key`` (write-only)."""

    enabled: bool = False
    base_url: Annotated[str, StringConstraints(max_length=500)] = ""
    model: Annotated[str, StringConstraints(max_length=100)] = ""
    timeout_seconds: float = Field(default=8.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _no_key_env(cls, data: Any, info: ValidationInfo) -> Any:
        # Earlier versions named an environment variable of the server here, which let a tenant read any of
        # the process's secrets. Stored documents that still carry it load without it (it has no effect);
        # a write that sends it is refused so the caller learns where the key goes now.
        if isinstance(data, dict) and "api_key_env" in data:
            if not (info.context or {}).get("stored"):
                raise ValueError(
                    "api_key_env is no longer supported: set the key with PUT /api/v1/bot/llm-key "
                    "(stored encrypted for your workspace, never shown again)"
                )
            data = {k: v for k, v in data.items() if k != "api_key_env"}
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("must be an http(s) URL with a host")
        return value


class Thresholds(_Strict):
    """Cut-offs on calibrated scores, so a threshold means what it says (0.75 ≈ right three times in four)."""

    answer: float = Field(default=0.75, ge=0, le=1, description="answer an FAQ directly at or above this")
    clarify: float = Field(default=0.40, ge=0, le=1, description="offer the best candidates at or above this")
    close_margin: float = Field(default=0.10, ge=0, le=1, description="ask when the top two are this close")
    intent: float = Field(default=0.60, ge=0, le=1, description="start a flow from an intent at or above this")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.clarify > self.answer:
            raise ValueError("clarify must not be above answer")
        return self


class BotSettings(_Strict):
    enabled: bool = True
    thresholds: Thresholds = Field(default_factory=Thresholds)
    urgent_words: list[Word] = Field(default_factory=lambda: list(DEFAULT_URGENT_WORDS), max_length=200)
    handover_tags: list[Word] = Field(default_factory=lambda: ["vip", "elderly"], max_length=20)
    forbidden_topics: dict[Name, list[Word]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_FORBIDDEN_TOPICS.items()},
        description="topics the assistant never answers (it declines politely and offers a person)",
    )
    allowed_hosts: list[Word] = Field(default_factory=list, max_length=20)
    connectors: dict[Name, ConnectorSpec] = Field(default_factory=dict)
    flows: list[FlowSpec] = Field(default_factory=list, max_length=50)
    shipping_zones: list[ShippingZone] = Field(default_factory=list, max_length=50)
    special_goods: list[SpecialGoodsRule] = Field(default_factory=list, max_length=100)
    entity_patterns: dict[Name, Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=dict, description="tenant-defined entity kinds: name → regular expression"
    )
    llm: LlmSettings = Field(default_factory=LlmSettings)
    texts: dict[Literal["greeting", "hand_over"], Localized] = Field(
        default_factory=dict,
        description="the tenant's own words for the assistant's greeting and hand-over sentence (zh-CN and en); "
        "a missing one keeps the built-in text",
    )
    intent_answers: dict[Name, Localized] = Field(
        default_factory=dict,
        description="intent label → the answer the assistant gives when it recognises the intent confidently "
        "(an intent that starts a flow starts the flow instead)",
    )

    def policy(self, default_language: str) -> PolicySettings:
        return PolicySettings(
            answer_threshold=self.thresholds.answer,
            clarify_threshold=self.thresholds.clarify,
            close_margin=self.thresholds.close_margin,
            intent_threshold=self.thresholds.intent,
            urgent_words=tuple(self.urgent_words),
            forbidden_topics={k: tuple(v) for k, v in self.forbidden_topics.items()},
            handover_tags=tuple(self.handover_tags),
            flows={intent: flow.name for flow in self.flows for intent in flow.intents},
            default_language=default_language,
            texts={lang: {k: v.get(lang) for k, v in self.texts.items()} for lang in ("zh-CN", "en")},
            intent_answers={k: {lang: v.get(lang) for lang in ("zh-CN", "en")} for k, v in self.intent_answers.items()},
        )

    @field_validator("flows")
    @classmethod
    def _unique_flows(cls, flows: list[FlowSpec]) -> list[FlowSpec]:
        names = [f.name for f in flows]
        if len(names) != len(set(names)):
            raise ValueError("flow names must be unique")
        return flows

    @model_validator(mode="after")
    def _references_exist(self) -> BotSettings:
        for kind, pattern in self.entity_patterns.items():
            try:
                compile_tenant_pattern(kind, pattern)
            except InvalidPatternError as exc:
                raise ValueError(f"entity pattern '{kind}': {exc}") from None
        for flow in self.flows:
            if flow.connector and flow.connector not in self.connectors:
                raise ValueError(f"flow '{flow.name}' calls the unknown connector '{flow.connector}'")
            if flow.rule == "shipping_fee":
                if not self.shipping_zones:
                    raise ValueError(f"flow '{flow.name}' uses the shipping_fee rule but no shipping_zones are defined")
                kinds = {s.kind for s in flow.slots}
                if "weight_kg" not in kinds or not any(s.name == "zone" for s in flow.slots):
                    raise ValueError(f"flow '{flow.name}' needs a weight_kg slot and a slot named 'zone'")
        return self
