"""Tenant-scoped reads of the quality slice; ``get_*`` raise NotFound (also for another tenant's rows)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.actor import Actor
from omnidesk.core.errors import NotFound
from omnidesk.quality import calibration
from omnidesk.quality.models import QaAppeal, QaNomination, QaScore, Scorecard, SendPolicy
from omnidesk.security.permissions import Perm


def active_scorecard(session: Session) -> Scorecard | None:
    return session.scalar(select(Scorecard).where(Scorecard.active.is_(True)).order_by(Scorecard.created_at.desc()))


def get_scorecard(session: Session, scorecard_id: uuid.UUID) -> Scorecard:
    card = session.get(Scorecard, scorecard_id)
    if card is None:
        raise NotFound("no scorecard with this id")
    return card


def list_scorecards(session: Session, actor: Actor) -> list[Scorecard]:
    """Every version, the newest of each family first."""
    actor.require(Perm.QA_REVIEW)
    return list(session.scalars(select(Scorecard).order_by(Scorecard.created_at.desc(), Scorecard.version.desc())))


def get_score(session: Session, actor: Actor, score_id: uuid.UUID) -> QaScore:
    """Reviewers see every score; an agent sees the scores of their own conversations only (others: 404)."""
    score = session.get(QaScore, score_id)
    if score is None or not (actor.can(Perm.QA_REVIEW) or (actor.staff_id and score.agent_id == actor.staff_id)):
        raise NotFound("no score with this id")
    return score


def get_appeal(session: Session, appeal_id: uuid.UUID) -> QaAppeal:
    item = session.get(QaAppeal, appeal_id)
    if item is None:
        raise NotFound("no appeal with this id")
    return item


def get_nomination(session: Session, nomination_id: uuid.UUID) -> QaNomination:
    item = session.get(QaNomination, nomination_id)
    if item is None:
        raise NotFound("no nomination with this id")
    return item


@dataclass(frozen=True, slots=True)
class ScoreFilter:
    min_percent: float | None = None
    max_percent: float | None = None
    agent_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    appeals: bool = False  # only scores with an open appeal
    limit: int = 100


def list_scores(session: Session, actor: Actor, f: ScoreFilter) -> list[QaScore]:
    """The automatic scores, newest first, filtered (reviewers: all; agents: their own)."""
    query = select(QaScore).where(QaScore.scorer == "auto")
    if not actor.can(Perm.QA_REVIEW):
        actor.require(Perm.CONVERSATIONS_READ)
        query = query.where(QaScore.agent_id == actor.staff_id)
    if f.min_percent is not None:
        query = query.where(QaScore.percent >= f.min_percent)
    if f.max_percent is not None:
        query = query.where(QaScore.percent <= f.max_percent)
    if f.agent_id is not None:
        query = query.where(QaScore.agent_id == f.agent_id)
    if f.team_id is not None:
        query = query.where(QaScore.team_id == f.team_id)
    if f.since is not None:
        query = query.where(QaScore.created_at >= f.since)
    if f.until is not None:
        query = query.where(QaScore.created_at < f.until)
    if f.appeals:
        query = query.where(QaScore.appeal_state == "open")
    return list(session.scalars(query.order_by(QaScore.created_at.desc()).limit(max(1, min(f.limit, 500)))))


def appeals_of(session: Session, score_id: uuid.UUID) -> list[QaAppeal]:
    return list(session.scalars(select(QaAppeal).where(QaAppeal.score_id == score_id).order_by(QaAppeal.created_at)))


def transcript(session: Session, conversation_id: uuid.UUID) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.internal.is_(False))
            .order_by(Message.seq)
        )
    )


def conversation_of(session: Session, score: QaScore) -> Conversation:
    conversation = session.get(Conversation, score.conversation_id)
    if conversation is None:
        raise NotFound("no conversation with this id")
    return conversation


def nominations(session: Session, actor: Actor) -> list[QaNomination]:
    actor.require(Perm.QA_REVIEW)
    return list(session.scalars(select(QaNomination).order_by(QaNomination.created_at.desc()).limit(200)))


def send_policy(session: Session) -> SendPolicy | None:
    return session.scalar(select(SendPolicy))


def composer_policy(session: Session) -> dict[str, Any] | None:
    """What the agent's composer flags while they type (the server enforces the same on send); None when off."""
    policy = send_policy(session)
    if policy is None or policy.mode == "off" or not (policy.phrases or policy.patterns):
        return None
    return {"mode": policy.mode, "phrases": list(policy.phrases), "patterns": list(policy.patterns)}


def calibration_report(session: Session, actor: Actor, scorecard_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Agreement per criterion of the active (or given) scorecard version, over the conversations at least one
    inspector scored: among the inspectors, and between the automatic scorer and the inspectors."""
    actor.require(Perm.QA_REVIEW)
    card = get_scorecard(session, scorecard_id) if scorecard_id else active_scorecard(session)
    if card is None:
        return {"scorecard": None, "criteria": [], "conversations": 0}
    scores = session.scalars(select(QaScore).where(QaScore.scorecard_id == card.id)).all()
    by_conversation: dict[uuid.UUID, dict[str, dict[str, str]]] = {}
    for score in scores:
        answers = {a["key"]: a.get("auto_answer", a["answer"]) if score.scorer == "auto" else a["answer"]
                   for a in score.answers}  # fmt: skip
        by_conversation.setdefault(score.conversation_id, {})[score.scorer] = answers
    sampled = {cid: raters for cid, raters in by_conversation.items() if any(r != "auto" for r in raters)}
    keys = [c["key"] for c in card.criteria]
    rows = calibration.per_criterion(keys, sampled)
    return {"scorecard": card, "criteria": rows, "conversations": len(sampled)}


def names_of(session: Session, ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    from omnidesk.accounts.models import StaffUser

    wanted = [i for i in set(ids) if i is not None]
    if not wanted:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(wanted))).all())
