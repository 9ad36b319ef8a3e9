"""Wire shapes of the quality API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omnidesk.core.schemas import ONE_LINE

Answer = Literal["pass", "partial", "fail", "na"]


class ScorecardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200, pattern=ONE_LINE)
    criteria: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


class ScorecardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    family: uuid.UUID
    version: int
    name: str
    active: bool
    criteria: list[dict[str, Any]]
    created_at: datetime


class ScoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    conversation_id: uuid.UUID
    scorecard_id: uuid.UUID
    scorecard_version: int
    scorer: str
    agent_id: uuid.UUID | None
    team_id: uuid.UUID | None
    percent: float
    answers: list[dict[str, Any]]
    overridden: bool
    appeal_state: str
    created_at: datetime


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion: str = Field(max_length=64)
    answer: Answer
    reason: str = Field(default="", max_length=2000)


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=4000)
    criterion: str = Field(default="", max_length=64)


class AppealDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uphold: bool = False
    note: str = Field(default="", max_length=4000)


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    score_id: uuid.UUID
    agent_id: uuid.UUID
    reason: str
    criterion: str
    state: str
    decided_by: uuid.UUID | None
    decision_note: str
    created_at: datetime
    decided_at: datetime | None


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Answer] = Field(default_factory=dict)


class NominationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class TrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    training: bool = True


class NominationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    conversation_id: uuid.UUID
    nominated_by: uuid.UUID | None
    note: str
    training: bool
    created_at: datetime


class CriterionAgreement(BaseModel):
    key: str
    people: float | None
    auto_vs_people: float | None
    raters: int


class CalibrationOut(BaseModel):
    scorecard_id: uuid.UUID | None
    scorecard_version: int | None
    conversations: int
    criteria: list[CriterionAgreement]


class SendPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["block", "mask", "off"] = "block"
    phrases: list[str] = Field(default_factory=list, max_length=500)
    patterns: list[Literal["card", "id_card"]] = Field(default_factory=list)


class SendPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    mode: str
    phrases: list[str]
    patterns: list[str]
