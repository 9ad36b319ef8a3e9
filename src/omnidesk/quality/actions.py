"""Actions of the quality slice: scorecards (versioned), automatic and manual scores, overrides, appeals,
nominations and the sensitive-phrase send policy. Each authorizes, writes in the caller's transaction and audits.

``check_*`` / public functions authorize the actor; ``do_*`` trust their caller (the scoring job, the demo seed).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from omnidesk.i18n import translate
from omnidesk.jobs.outbox import enqueue
from omnidesk.quality import queries, scoring, sensitive
from omnidesk.quality.models import QaAppeal, QaNomination, QaScore, Scorecard, SendPolicy
from omnidesk.security.permissions import Perm

SCORE_JOB = "quality.score"
AUTO = "auto"
MODES = ("block", "mask", "off")

# --- scorecards ----------------------------------------------------------------------------------------------------


def validate_criteria(criteria: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Criteria as stored: known kinds, unique keys, weights 0–100, answer choices from ``scoring.ANSWERS``."""
    if not criteria:
        raise InvalidInput("a scorecard needs at least one criterion")
    keys: set[str] = set()
    out = []
    for n, raw in enumerate(criteria):
        item = dict(raw)
        kind, key = str(item.get("kind", "")), str(item.get("key") or item.get("kind") or "")
        if kind not in scoring.KINDS:
            raise InvalidInput(
                f"criterion {n + 1}: unknown kind '{kind}' (one of {', '.join(scoring.KINDS)})",
                errors=[{"field": ["criteria", str(n), "kind"], "message": "unknown kind", "type": "unknown_kind"}],
            )
        if not key or key in keys:
            raise InvalidInput(f"criterion {n + 1}: its key '{key}' is empty or used twice")
        keys.add(key)
        try:
            weight = float(item.get("weight", 0))
        except (TypeError, ValueError):
            raise InvalidInput(f"criterion {n + 1}: the weight must be a number") from None
        if not 0 <= weight <= 100:
            raise InvalidInput(f"criterion {n + 1}: the weight must be between 0 and 100")
        choices = item.get("choices") or ["pass", "fail", "na"]
        if any(c not in scoring.ANSWERS for c in choices):
            raise InvalidInput(f"criterion {n + 1}: answer choices are {', '.join(scoring.ANSWERS)}")
        phrases = item.get("phrases") or []
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise InvalidInput(f"criterion {n + 1}: phrases must be a list of texts")
        item.update(key=key, kind=kind, weight=weight, choices=list(choices), phrases=[p for p in phrases if p.strip()])
        names = item.get("names") or {}
        item["names"] = {"zh-CN": str(names.get("zh-CN") or key), "en": str(names.get("en") or key)}
        out.append(item)
    return out


def create_scorecard(session: Session, actor: Actor, name: str, criteria: Sequence[dict[str, Any]]) -> Scorecard:
    actor.require(Perm.QA_MANAGE)
    return do_create_scorecard(session, actor, name, validate_criteria(criteria))


def do_create_scorecard(session: Session, actor: Actor, name: str, criteria: list[dict[str, Any]]) -> Scorecard:
    """A new scorecard family at version 1; it becomes the tenant's active one (one active scorecard scores)."""
    for old in session.scalars(select(Scorecard).where(Scorecard.active.is_(True))):
        old.active = False
    card = Scorecard(tenant_id=actor.tenant_id, name=name.strip() or "Scorecard", criteria=criteria,
                     created_by=actor.staff_id)  # fmt: skip
    session.add(card)
    session.flush()
    audit.record(session, actor, "quality.scorecard_create", "qa_scorecard", card.id,
                 {"name": card.name, "version": 1, "criteria": [c["key"] for c in criteria]})  # fmt: skip
    return card


def edit_scorecard(
    session: Session, actor: Actor, scorecard_id: uuid.UUID, name: str | None, criteria: Sequence[dict[str, Any]]
) -> Scorecard:
    """Editing writes the next version of the family and makes it the active one; scores made with the old
    version keep pointing at it."""
    actor.require(Perm.QA_MANAGE)
    current = queries.get_scorecard(session, scorecard_id)
    latest = session.scalar(
        select(Scorecard).where(Scorecard.family == current.family).order_by(Scorecard.version.desc()).limit(1)
    )
    assert latest is not None
    checked = validate_criteria(criteria)
    for old in session.scalars(select(Scorecard).where(Scorecard.active.is_(True))):
        old.active = False
    card = Scorecard(tenant_id=actor.tenant_id, family=current.family, version=latest.version + 1,
                     name=(name or current.name).strip() or current.name, criteria=checked,
                     created_by=actor.staff_id)  # fmt: skip
    session.add(card)
    session.flush()
    audit.record(session, actor, "quality.scorecard_edit", "qa_scorecard", card.id,
                 {"family": str(card.family), "version": [latest.version, card.version],
                  "criteria": [c["key"] for c in checked]})  # fmt: skip
    return card


# --- automatic scoring ---------------------------------------------------------------------------------------------


def queue_score(session: Session, actor: Actor, conversation: Conversation) -> None:
    """The resolved-conversation hook (registered by ``wiring``): the score job is queued in the transaction that
    resolves, so every closed conversation gets scored exactly when the close committed. Keyed by the close
    time: a conversation reopened and closed again is queued again (the job is idempotent per scorecard version)."""
    stamp = conversation.resolved_at.isoformat() if conversation.resolved_at else ""
    enqueue(session, SCORE_JOB, {"conversation_id": str(conversation.id)}, key=f"{conversation.id}:{stamp}")


def do_score_conversations(session: Session, actor: Actor, conversation_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Score each conversation with the tenant's active scorecard (none: nothing to do). Idempotent per
    (conversation, scorecard version): a conversation already scored with that version is left as it is, so a
    redelivered job does nothing. Internal notes are not part of the transcript; reads every message of the
    batch in one query. Returns the new scores' ids."""
    card = queries.active_scorecard(session)
    if card is None or not conversation_ids:
        return []
    ids = list(dict.fromkeys(conversation_ids))
    done = set(
        session.scalars(
            select(QaScore.conversation_id).where(
                QaScore.conversation_id.in_(ids), QaScore.scorecard_id == card.id, QaScore.scorer == AUTO
            )
        )
    )
    todo = [i for i in ids if i not in done]
    if not todo:
        return []
    conversations = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(todo)))}
    turns: dict[uuid.UUID, list[scoring.Turn]] = {cid: [] for cid in conversations}
    messages = session.execute(
        select(Message.conversation_id, Message.id, Message.sender_type, Message.body, Message.created_at)
        .where(Message.conversation_id.in_(list(conversations)), Message.internal.is_(False))
        .order_by(Message.conversation_id, Message.seq)
    )
    for cid, mid, sender, body, at in messages:
        turns[cid].append(scoring.Turn(str(mid), sender, body, at))
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for cid, conversation in conversations.items():
        transcript = scoring.Transcript(turns[cid], conversation.created_at, conversation.resolved_at)
        answers = answers_of(card.criteria, scoring.score(transcript, card.criteria))
        rows.append(
            {
                "id": uuid.uuid4(), "tenant_id": actor.tenant_id, "conversation_id": cid, "scorecard_id": card.id,
                "scorecard_version": card.version, "scorer": AUTO, "agent_id": conversation.assignee_id,
                "team_id": conversation.team_id, "percent": scoring.percent(answers), "answers": answers,
                "overridden": False, "appeal_state": "", "created_at": now, "updated_at": now,
            }
        )  # fmt: skip
    # Core inserts, as the outbound writer does: a batch of scores costs two statements, not an ORM flush each.
    session.execute(insert(QaScore), rows)
    session.execute(
        insert(AuditRecord),
        [
            {**audit.values(actor, "quality.score", "conversation", r["conversation_id"],
                            {"score_id": str(r["id"]), "scorecard_version": r["scorecard_version"],
                             "percent": r["percent"]}),
             "id": uuid.uuid4(), "created_at": now}
            for r in rows
        ],
    )  # fmt: skip
    return [r["id"] for r in rows]


def answers_of(criteria: Sequence[dict[str, Any]], findings: Sequence[scoring.Finding]) -> list[dict[str, Any]]:
    out = []
    for criterion, finding in zip(criteria, findings, strict=True):
        out.append(
            {
                "key": criterion["key"],
                "kind": criterion["kind"],
                "names": criterion.get("names") or {},
                "weight": criterion.get("weight", 0),
                "answer": finding.answer,
                "auto_answer": finding.answer,
                "evidence": [e.to_dict() for e in finding.evidence],
                "suggestion": finding.suggestion,
                "detail": finding.detail,
            }
        )
    return out


# --- review: overrides and manual scores ---------------------------------------------------------------------------


def override(session: Session, actor: Actor, score_id: uuid.UUID, criterion: str, answer: str, reason: str) -> QaScore:
    """A supervisor or inspector changes one criterion's answer; the reason is mandatory and audited with the old
    and new answer. The automatic answer stays beside it (``auto_answer``), for calibration."""
    actor.require(Perm.QA_REVIEW)
    score = queries.get_score(session, actor, score_id)
    return _change_answer(session, actor, score, criterion, answer, reason, "quality.override")


def _change_answer(
    session: Session, actor: Actor, score: QaScore, criterion: str, answer: str, reason: str, action: str
) -> QaScore:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("an override needs a reason",
                           errors=[{"field": "reason", "message": "required", "type": "reason_required"}])  # fmt: skip
    answers = [dict(a) for a in score.answers]
    item = next((a for a in answers if a["key"] == criterion), None)
    if item is None:
        raise InvalidInput(f"this scorecard has no criterion '{criterion}'")
    if answer not in scoring.ANSWERS:
        raise InvalidInput(f"the answer must be one of {', '.join(scoring.ANSWERS)}")
    old = item["answer"]
    item["answer"] = answer
    item["override"] = {"by": str(actor.id) if actor.id else None, "reason": reason, "at": utcnow().isoformat()}
    before = score.percent
    score.answers = answers
    score.percent = scoring.percent(answers)
    score.overridden = True
    score.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, action, "qa_score", score.id,
                 {"criterion": criterion, "answer": [old, answer], "percent": [before, score.percent],
                  "reason": reason})  # fmt: skip
    return score


def submit_review(session: Session, actor: Actor, conversation_id: uuid.UUID, answers: Mapping[str, str]) -> QaScore:
    """An inspector's own scoring of a conversation with the active scorecard (calibration): one per inspector,
    a second submission replaces their answers."""
    actor.require(Perm.QA_REVIEW)
    conversation = _conversation(session, conversation_id)
    card = queries.active_scorecard(session)
    if card is None:
        raise InvalidInput("this workspace has no active scorecard")
    if actor.id is None:
        raise InvalidInput("a manual score is made by a person")
    unknown = set(answers) - {c["key"] for c in card.criteria}
    if unknown or any(a not in scoring.ANSWERS for a in answers.values()):
        raise InvalidInput("answers must name this scorecard's criteria with pass, partial, fail or na")
    rows = [
        {"key": c["key"], "kind": c["kind"], "names": c.get("names") or {}, "weight": c.get("weight", 0),
         "answer": answers.get(c["key"], "na"), "evidence": [], "suggestion": {}, "detail": ""}
        for c in card.criteria
    ]  # fmt: skip
    score = session.scalar(
        select(QaScore).where(
            QaScore.conversation_id == conversation.id, QaScore.scorecard_id == card.id, QaScore.scorer == str(actor.id)
        )
    )
    if score is None:
        score = QaScore(tenant_id=actor.tenant_id, conversation_id=conversation.id, scorecard_id=card.id,
                        scorecard_version=card.version, scorer=str(actor.id), agent_id=conversation.assignee_id,
                        team_id=conversation.team_id)  # fmt: skip
        session.add(score)
    score.answers = rows
    score.percent = scoring.percent(rows)
    score.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "quality.review", "qa_score", score.id,
                 {"conversation_id": str(conversation.id), "percent": score.percent})  # fmt: skip
    return score


def _conversation(session: Session, conversation_id: uuid.UUID) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("no conversation with this id")
    return conversation


# --- appeals -------------------------------------------------------------------------------------------------------


def appeal(session: Session, actor: Actor, score_id: uuid.UUID, reason: str, criterion: str = "") -> QaAppeal:
    """The agent whose conversation was scored disputes the score; one open appeal per score."""
    score = queries.get_score(session, actor, score_id)
    if actor.staff_id is None or score.agent_id != actor.staff_id:
        raise PermissionDenied("only the agent of the scored conversation can appeal its score")
    if not reason.strip():
        raise InvalidInput("an appeal needs a reason",
                           errors=[{"field": "reason", "message": "required", "type": "reason_required"}])  # fmt: skip
    if criterion and criterion not in {a["key"] for a in score.answers}:
        raise InvalidInput(f"this scorecard has no criterion '{criterion}'")
    if score.appeal_state == "open":
        raise Conflict("this score already has an open appeal")
    item = QaAppeal(tenant_id=actor.tenant_id, score_id=score.id, agent_id=actor.staff_id,
                    reason=reason.strip(), criterion=criterion)  # fmt: skip
    session.add(item)
    score.appeal_state = "open"
    session.flush()
    audit.record(session, actor, "quality.appeal", "qa_score", score.id,
                 {"appeal_id": str(item.id), "criterion": criterion, "reason": item.reason})  # fmt: skip
    return item


def decide_appeal(session: Session, actor: Actor, appeal_id: uuid.UUID, uphold: bool, note: str) -> QaAppeal:
    """A second inspector decides: not the agent, and not whoever overrode the disputed score. Upheld, the
    disputed criterion (if the appeal named one) becomes a pass, with the decision as its override reason."""
    actor.require(Perm.QA_REVIEW)
    item = queries.get_appeal(session, appeal_id)
    if item.state != "open":
        raise Conflict("this appeal was decided already")
    score = queries.get_score(session, actor, item.score_id)
    overriders = {a.get("override", {}).get("by") for a in score.answers if a.get("override")}
    if actor.staff_id == item.agent_id or (actor.id is not None and str(actor.id) in overriders):
        raise PermissionDenied("a second inspector decides an appeal: not the agent, not who overrode the score")
    if not note.strip():
        raise InvalidInput("a decision needs a note",
                           errors=[{"field": "note", "message": "required", "type": "reason_required"}])  # fmt: skip
    criterion = item.criterion
    item.state = "upheld" if uphold else "rejected"
    item.decided_by = actor.staff_id
    item.decided_at = utcnow()
    item.decision_note = note.strip()
    score.appeal_state = item.state
    if uphold and criterion:
        _change_answer(session, actor, score, criterion, "pass", f"appeal upheld: {note.strip()}", "quality.override")
    session.flush()
    audit.record(session, actor, "quality.appeal_decide", "qa_score", score.id,
                 {"appeal_id": str(item.id), "state": item.state, "note": item.decision_note})  # fmt: skip
    return item


# --- nominations ---------------------------------------------------------------------------------------------------


def nominate(session: Session, actor: Actor, conversation_id: uuid.UUID, note: str) -> QaNomination:
    """An agent puts forward their own excellent conversation (or an inspector does for them)."""
    actor.require(Perm.CONVERSATIONS_READ)
    conversation = _conversation(session, conversation_id)
    if not actor.can(Perm.QA_REVIEW) and (actor.staff_id is None or conversation.assignee_id != actor.staff_id):
        raise NotFound("no conversation with this id")  # another agent's conversation: not theirs to see here
    existing = session.scalar(select(QaNomination).where(QaNomination.conversation_id == conversation.id))
    if existing is not None:
        return existing
    item = QaNomination(tenant_id=actor.tenant_id, conversation_id=conversation.id, nominated_by=actor.staff_id,
                        note=note.strip()[:2000])  # fmt: skip
    session.add(item)
    session.flush()
    audit.record(session, actor, "quality.nominate", "conversation", conversation.id, {"note": item.note})
    return item


def mark_training(session: Session, actor: Actor, nomination_id: uuid.UUID, training: bool) -> QaNomination:
    actor.require(Perm.QA_MANAGE)
    item = queries.get_nomination(session, nomination_id)
    before = item.training
    item.training = training
    item.marked_by = actor.staff_id
    session.flush()
    audit.record(session, actor, "quality.training", "conversation", item.conversation_id,
                 {"training": [before, training]})  # fmt: skip
    return item


# --- the sensitive-phrase send policy ------------------------------------------------------------------------------

CACHE_SECONDS = 2.0
_cache: dict[uuid.UUID, tuple[float, tuple[str, tuple[str, ...], tuple[str, ...]]]] = {}
_cache_lock = threading.Lock()


def set_send_policy(
    session: Session, actor: Actor, mode: str, phrases: Sequence[str], patterns: Sequence[str]
) -> SendPolicy:
    actor.require(Perm.QA_MANAGE)
    if mode not in MODES:
        raise InvalidInput(f"the mode must be one of {', '.join(MODES)}")
    if any(p not in sensitive.PATTERNS for p in patterns):
        raise InvalidInput(f"patterns are {', '.join(sensitive.PATTERNS)}")
    clean = list(dict.fromkeys(p.strip() for p in phrases if p.strip()))
    if any(len(p) > 200 for p in clean) or len(clean) > 500:
        raise InvalidInput("at most 500 phrases of up to 200 characters")
    policy = session.scalar(select(SendPolicy))
    before: dict[str, Any] = {}
    if policy is None:
        policy = SendPolicy(tenant_id=actor.tenant_id)
        session.add(policy)
    else:
        before = {"mode": policy.mode, "phrases": policy.phrases, "patterns": policy.patterns}
    policy.mode, policy.phrases, policy.patterns = mode, clean, list(dict.fromkeys(patterns))
    policy.updated_at = utcnow()
    session.flush()
    after = {"mode": policy.mode, "phrases": policy.phrases, "patterns": policy.patterns}
    audit.record(session, actor, "quality.send_policy", "qa_send_policy", policy.id, audit.diff(before, after))
    with _cache_lock:
        _cache.pop(actor.tenant_id, None)
    return policy


def _policy(session: Session, tenant_id: uuid.UUID) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The tenant's policy, cached per process for :data:`CACHE_SECONDS` (every agent message asks): a change
    made in this process is seen at once, one made in another within that time."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(tenant_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    row = session.execute(select(SendPolicy.mode, SendPolicy.phrases, SendPolicy.patterns)).first()
    found = ("off", (), ()) if row is None else (row[0], tuple(row[1] or ()), tuple(row[2] or ()))
    with _cache_lock:
        _cache[tenant_id] = (now + CACHE_SECONDS, found)
    return found


def check_outgoing(session: Session, actor: Actor, bodies: Sequence[str]) -> list[str]:
    """The send policy registered with conversations (``wiring``): agent messages with a forbidden phrase or a
    card / ID number are refused (422, in the agent's language, nothing stored) or stored masked."""
    mode, phrases, patterns = _policy(session, actor.tenant_id)
    if mode == "off" or (not phrases and not patterns):
        return list(bodies)
    out = []
    for body in bodies:
        hits = sensitive.scan(body, phrases, patterns)
        if not hits:
            out.append(body)
            continue
        if mode == "mask":
            out.append(sensitive.mask(body, hits))
            continue
        kinds = sorted({h.kind for h in hits})
        what = ", ".join(translate(f"quality.sensitive.{k}", actor.language) for k in kinds)
        raise InvalidInput(
            translate("quality.sensitive.blocked", actor.language, what=what),
            errors=[
                {"field": "body", "message": translate(f"quality.sensitive.{h.kind}", actor.language),
                 "type": f"sensitive_{h.kind}"}
                for h in hits
            ],
        )  # fmt: skip
    return out
