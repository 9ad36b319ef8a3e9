"""HTTP API of quality inspection (``/api/v1/qa/...``): scorecards, scores, overrides, reviews, calibration,
appeals, nominations and the sensitive-phrase send policy. Thin: parse, one transaction, one action."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from omnidesk.quality import actions, queries
from omnidesk.quality.schemas import (
    AppealDecision,
    AppealIn,
    AppealOut,
    CalibrationOut,
    NominationIn,
    NominationOut,
    OverrideIn,
    ReviewIn,
    ScorecardIn,
    ScorecardOut,
    ScoreOut,
    SendPolicyIn,
    SendPolicyOut,
    TrainingIn,
)
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(prefix="/qa", tags=["quality"])


@router.get("/scorecards")
def list_scorecards(db: DbDep, actor: ActorDep) -> list[ScorecardOut]:
    """Every scorecard version, newest first; ``active`` marks the one that scores."""
    with db.tenant_read(actor.tenant_id) as s:
        return [ScorecardOut.model_validate(c) for c in queries.list_scorecards(s, actor)]


@router.post("/scorecards", status_code=201)
def create_scorecard(data: ScorecardIn, db: DbDep, actor: ActorDep) -> ScorecardOut:
    """A new scorecard (version 1), made the active one. Needs ``qa.manage``."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return ScorecardOut.model_validate(actions.create_scorecard(s, actor, data.name, data.criteria))


@router.put("/scorecards/{scorecard_id}")
def edit_scorecard(scorecard_id: uuid.UUID, data: ScorecardIn, db: DbDep, actor: ActorDep) -> ScorecardOut:
    """Edit: writes the next version of this scorecard (returned) and makes it active; old scores keep theirs."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return ScorecardOut.model_validate(actions.edit_scorecard(s, actor, scorecard_id, data.name, data.criteria))


@router.get("/scores")
def list_scores(
    db: DbDep,
    actor: ActorDep,
    min_percent: Annotated[float | None, Query(ge=0, le=100)] = None,
    max_percent: Annotated[float | None, Query(ge=0, le=100)] = None,
    agent_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ScoreOut]:
    """Automatic scores, newest first (reviewers: all; an agent: their own conversations')."""
    f = queries.ScoreFilter(min_percent, max_percent, agent_id, team_id, since, until, limit=limit)
    with db.tenant_read(actor.tenant_id) as s:
        return [ScoreOut.model_validate(x) for x in queries.list_scores(s, actor, f)]


@router.get("/scores/{score_id}")
def get_score(score_id: uuid.UUID, db: DbDep, actor: ActorDep) -> ScoreOut:
    with db.tenant_read(actor.tenant_id) as s:
        return ScoreOut.model_validate(queries.get_score(s, actor, score_id))


@router.post("/scores/{score_id}/override")
def override(score_id: uuid.UUID, data: OverrideIn, db: DbDep, actor: ActorDep) -> ScoreOut:
    """Change one criterion's answer; ``reason`` is mandatory and audited."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return ScoreOut.model_validate(actions.override(s, actor, score_id, data.criterion, data.answer, data.reason))


@router.post("/scores/{score_id}/appeals", status_code=201)
def appeal(score_id: uuid.UUID, data: AppealIn, db: DbDep, actor: ActorDep) -> AppealOut:
    """The agent of the scored conversation disputes the score (optionally one criterion)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return AppealOut.model_validate(actions.appeal(s, actor, score_id, data.reason, data.criterion))


@router.post("/appeals/{appeal_id}/decision")
def decide(appeal_id: uuid.UUID, data: AppealDecision, db: DbDep, actor: ActorDep) -> AppealOut:
    """A second inspector upholds or rejects the appeal, with a note."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return AppealOut.model_validate(actions.decide_appeal(s, actor, appeal_id, data.uphold, data.note))


@router.post("/conversations/{conversation_id}/reviews")
def review(conversation_id: uuid.UUID, data: ReviewIn, db: DbDep, actor: ActorDep) -> ScoreOut:
    """An inspector's own answers for a conversation (calibration), with the active scorecard."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return ScoreOut.model_validate(actions.submit_review(s, actor, conversation_id, data.answers))


@router.post("/conversations/{conversation_id}/nomination", status_code=201)
def nominate(conversation_id: uuid.UUID, data: NominationIn, db: DbDep, actor: ActorDep) -> NominationOut:
    """Nominate an excellent conversation (an agent: their own)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return NominationOut.model_validate(actions.nominate(s, actor, conversation_id, data.note))


@router.post("/nominations/{nomination_id}/training")
def training(nomination_id: uuid.UUID, data: TrainingIn, db: DbDep, actor: ActorDep) -> NominationOut:
    """Mark (or unmark) a nominated conversation as training material. Needs ``qa.manage``."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return NominationOut.model_validate(actions.mark_training(s, actor, nomination_id, data.training))


@router.get("/calibration")
def calibration(db: DbDep, actor: ActorDep) -> CalibrationOut:
    """Krippendorff's alpha per criterion of the active scorecard: among inspectors, automatic vs inspectors."""
    with db.tenant_read(actor.tenant_id) as s:
        report: dict[str, Any] = queries.calibration_report(s, actor)
        card = report["scorecard"]
        return CalibrationOut(
            scorecard_id=card.id if card else None,
            scorecard_version=card.version if card else None,
            conversations=report["conversations"],
            criteria=report["criteria"],
        )


@router.get("/send-policy")
def get_send_policy(db: DbDep, actor: ActorDep) -> SendPolicyOut:
    with db.tenant_read(actor.tenant_id) as s:
        actor.require(Perm.QA_REVIEW)
        policy = queries.send_policy(s)
        if policy is None:
            return SendPolicyOut(mode="off", phrases=[], patterns=[])
        return SendPolicyOut.model_validate(policy)


@router.put("/send-policy")
def put_send_policy(data: SendPolicyIn, db: DbDep, actor: ActorDep) -> SendPolicyOut:
    """Forbidden phrases and patterns (``card``, ``id_card``) in agent messages: ``block`` (422) or ``mask``."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return SendPolicyOut.model_validate(actions.set_send_policy(s, actor, data.mode, data.phrases, data.patterns))
