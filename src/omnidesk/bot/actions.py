"""Actions of the assistant: configuration versions, training examples, model training and rollback, and the
bot's turn inside a live conversation (reply, or hand over with everything the agent needs).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from omnidesk.accounts import tenant_secrets
from omnidesk.bot.brains import LLM_KEY, Brains
from omnidesk.bot.engine import Reply
from omnidesk.bot.gaps import knowledge_gaps
from omnidesk.bot.models import BotConfig, FaqSuggestion, IntentExample, IntentModel, UnansweredQuestion
from omnidesk.bot.nlu import IntentClassifier, TrainingError, normalize
from omnidesk.bot.settings import STORED, BotSettings
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.core.schemas import contains_nul, error_message
from omnidesk.jobs import outbox as jobs
from omnidesk.knowledge import actions as knowledge_actions
from omnidesk.knowledge.queries import published_faq
from omnidesk.knowledge.schemas import ASSISTANT_MATCH_CHARS, ArticleCreate
from omnidesk.knowledge.states import Kind
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.permissions import Perm

log = logging.getLogger("omnidesk.bot")

# --- configuration ------------------------------------------------------------------------------------------


def save_config(session: Session, actor: Actor, document: dict[str, Any]) -> BotConfig:
    """Validate and store a new version of the tenant's assistant settings; it is live from the next message."""
    actor.require(Perm.BOT_MANAGE)
    if contains_nul(document):
        raise InvalidInput("text must not contain NUL (\\u0000) characters")
    try:
        settings = BotSettings.model_validate(document)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": error_message(e)} for e in exc.errors()]
        first = errors[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", errors=errors) from None
    return do_save_config(session, actor, settings)


def do_save_config(session: Session, actor: Actor, settings: BotSettings) -> BotConfig:
    version = (session.scalar(select(func.max(BotConfig.version))) or 0) + 1
    row = BotConfig(
        tenant_id=actor.tenant_id,
        version=version,
        document=settings.model_dump(mode="json", by_alias=True),
        created_by=actor.staff_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "bot.config_save", "bot_config", row.id, {"version": version})
    return row


def rollback_config(session: Session, actor: Actor, version: int) -> BotConfig:
    actor.require(Perm.BOT_MANAGE)
    old = session.scalar(select(BotConfig).where(BotConfig.version == version))
    if old is None:
        raise NotFound("no assistant configuration with this version")
    row = do_save_config(session, actor, BotSettings.model_validate(old.document, context=STORED))
    audit.record(session, actor, "bot.config_rollback", "bot_config", row.id, {"to_version": version})
    return row


def llm_key_status(session: Session, actor: Actor) -> tenant_secrets.SecretStatus:
    actor.require(Perm.BOT_MANAGE)
    return tenant_secrets.status(session, LLM_KEY)


def set_llm_key(session: Session, actor: Actor, keys: PurposeKeys, value: str) -> tenant_secrets.SecretStatus:
    """Store or replace the tenant's LLM API key (encrypted); the next turn of every process uses it."""
    return tenant_secrets.set_secret(session, actor, keys, LLM_KEY, value, permission=Perm.BOT_MANAGE)


def clear_llm_key(session: Session, actor: Actor) -> tenant_secrets.SecretStatus:
    return tenant_secrets.clear_secret(session, actor, LLM_KEY, permission=Perm.BOT_MANAGE)


# --- intents ------------------------------------------------------------------------------------------------


def add_examples(session: Session, actor: Actor, label: str, texts: list[str]) -> int:
    actor.require(Perm.BOT_MANAGE)
    existing = set(session.scalars(select(IntentExample.text).where(IntentExample.label == label)))
    added = 0
    for text in dict.fromkeys(t.strip() for t in texts):
        if text and text not in existing:
            session.add(IntentExample(tenant_id=actor.tenant_id, label=label, text=text))
            added += 1
    audit.record(session, actor, "bot.examples_add", "intent", label, {"added": added})
    return added


def remove_label(session: Session, actor: Actor, label: str) -> int:
    actor.require(Perm.BOT_MANAGE)
    removed = session.execute(delete(IntentExample).where(IntentExample.label == label)).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise NotFound("no examples with this intent label")
    audit.record(session, actor, "bot.examples_remove", "intent", label, {"removed": removed})
    return int(removed)


def request_training(session: Session, actor: Actor, *, activate: bool = True) -> IntentModel:
    """Queue a training run; the job (``train``) picks it up. One run at a time per tenant. With ``activate`` the
    model goes live when ready; without, the admin first reviews its expected answer / clarify / decline rates
    (the old model serves meanwhile)."""
    actor.require(Perm.BOT_MANAGE)
    if session.scalar(select(IntentModel.id).where(IntentModel.status == "training")) is not None:
        raise Conflict("a training run is already in progress; wait for it to finish")
    version = (session.scalar(select(func.max(IntentModel.version))) or 0) + 1
    model = IntentModel(tenant_id=actor.tenant_id, version=version, status="training", activate_when_ready=activate)
    session.add(model)
    session.flush()
    audit.record(session, actor, "bot.train_request", "intent_model", model.id, {"version": version,
                 "activate": activate})  # fmt: skip
    jobs.enqueue(session, "bot.train", {"model_id": str(model.id)}, key=str(model.id), max_attempts=1)
    return model


MAX_PHRASINGS_PER_ENTRY = 300
"""An FAQ entry teaches the model its question and at most this many variants, spread evenly over its list: real
FAQs carry 100–200 and an entry may hold thousands, but past a few hundred more phrasings barely move accuracy
and training time grows with every one (BANKING77: ~100 per entry)."""


def training_data(session: Session) -> tuple[list[str], list[str]]:
    """The tenant's examples plus every published FAQ question and variant (one intent per FAQ entry)."""
    texts, labels = [], []
    for label, text in session.execute(select(IntentExample.label, IntentExample.text)):
        texts.append(text)
        labels.append(label)
    for entry in published_faq(session):
        variants = list(entry.variants)
        if len(variants) > MAX_PHRASINGS_PER_ENTRY - 1:
            step = len(variants) / (MAX_PHRASINGS_PER_ENTRY - 1)
            variants = [variants[int(i * step)] for i in range(MAX_PHRASINGS_PER_ENTRY - 1)]
        for question in (entry.question, *variants):
            texts.append(question[:ASSISTANT_MATCH_CHARS])  # a long variant is kept whole, matched on its start
            labels.append(f"faq:{entry.external_id or entry.id}")
    return texts, labels


def train(db: Database, tenant_id: uuid.UUID, model_id: uuid.UUID, brains: Brains) -> IntentModel:
    """Train, store and activate a model. Runs as a background job; a failure is recorded on the model row."""
    with db.tenant_read(tenant_id) as s:
        texts, labels = training_data(s)
    start = time.perf_counter()
    blob: bytes | None = None
    error = ""
    policy: dict[str, Any] = {}
    try:
        model = IntentClassifier.train(texts, labels, encoder=brains.encoder, oos_label="oos")
        blob = model.to_bytes()
        policy = {"points": model.policy_points, "held_out": int(model.stats.get("policy_rows", 0))}
    except TrainingError as exc:
        error = str(exc)
    seconds = time.perf_counter() - start
    with db.tenant_transaction(tenant_id) as s:
        row = s.scalar(select(IntentModel).where(IntentModel.id == model_id))
        if row is None:
            raise NotFound("no intent model with this id")
        row.finished_at = utcnow()
        row.train_seconds = round(seconds, 3)
        row.examples = len(texts)
        row.labels = sorted(set(labels) - {"oos"})
        row.policy = policy
        if blob is None:
            row.status = "failed"
            row.error = error[:500]
        elif row.activate_when_ready:
            s.execute(update(IntentModel).where(IntentModel.id != row.id).values(active=False))
            row.status, row.blob, row.active = "ready", blob, True
        else:
            row.status, row.blob = "ready", blob
        audit.record(s, system_actor(tenant_id), "bot.train_finish", "intent_model", row.id,
                     {"status": row.status, "seconds": row.train_seconds})  # fmt: skip
        return row


def set_operating_point(session: Session, actor: Actor, version: int, target: float) -> IntentModel:
    """Move a model to another of its operating points (the wrong-answer share it aims at); live on the next
    message when the model is active."""
    actor.require(Perm.BOT_MANAGE)
    row = session.scalar(select(IntentModel).where(IntentModel.version == version))
    if row is None:
        raise NotFound("no intent model with this version")
    targets = [float(p["target"]) for p in (row.policy or {}).get("points", [])]
    if not targets:
        raise InvalidInput(f"version {version} has no operating points (trained before the answer policy: retrain it)")
    if not any(abs(target - t) < 1e-9 for t in targets):
        raise InvalidInput(f"target must be one of {', '.join(f'{t:g}' for t in targets)}")
    before = row.answer_target
    row.answer_target = target
    audit.record(session, actor, "bot.operating_point", "intent_model", row.id,
                 {"version": version, "from": before, "to": target})  # fmt: skip
    return row


def activate_model(session: Session, actor: Actor, version: int) -> IntentModel:
    """Make an earlier (or later) trained version the live one: rollback in one call."""
    actor.require(Perm.BOT_MANAGE)
    row = session.scalar(select(IntentModel).where(IntentModel.version == version))
    if row is None:
        raise NotFound("no intent model with this version")
    if row.status != "ready":
        raise InvalidInput(f"version {version} is {row.status}, only a ready model can be activated")
    session.execute(update(IntentModel).where(IntentModel.id != row.id).values(active=False))
    row.active = True
    audit.record(session, actor, "bot.model_activate", "intent_model", row.id, {"version": version})
    return row


# --- the bot inside a conversation -------------------------------------------------------------------------


def record_unanswered(
    session: Session, tenant_id: uuid.UUID, text: str, reply: Reply, conversation_id: uuid.UUID | None
) -> None:
    session.add(
        UnansweredQuestion(
            tenant_id=tenant_id,
            text=text[:1000],
            normalized=normalize(text)[:1000],
            language=reply.language,
            reason=reply.reason[:60],
            confidence=reply.confidence,
            conversation_id=conversation_id,
        )
    )


def wants_learning(reply: Reply) -> bool:
    """Questions worth showing as knowledge gaps: declined, unclear, or handed over for lack of an answer."""
    return (reply.kind in ("decline", "clarify") and not reply.reason.startswith("forbidden_topic")) or (
        reply.kind == "hand_over" and reply.reason == "repeated_low_confidence"
    )


def handover_summary(reply: Reply, attempts: list[dict[str, Any]]) -> str:
    """The internal note the agent reads first, so the customer never repeats themselves: why, what the customer
    wants, every detail they gave in any turn, how they feel, and what the bot already tried."""
    lines = [f"🤖 转人工 / Bot hand-over — {reply.reason} (priority {reply.priority})"]
    intents = [a["intent"] for a in attempts if a.get("intent")]
    intent = (reply.intent or {}).get("label") or (intents[-1] if intents else None)
    if intent:
        lines.append(f"Intent: {intent}")
    seen: dict[str, Any] = {}
    for entity in [e for a in attempts for e in a.get("entities", [])] + list(reply.entities):
        seen.setdefault(f"{entity['kind']}={entity['value']}", entity)
    if seen:
        lines.append("Entities: " + ", ".join(seen))
    lines.append(f"Sentiment: {reply.sentiment.get('label', 'neutral')}")
    if attempts:
        lines.append("Bot attempts:")
        lines += [f"- {a['customer'][:120]} → [{a['kind']}] {a['bot'][:120]}" for a in attempts[-5:]]
    return "\n".join(lines)


def decide_suggestion(
    session: Session,
    actor: Actor,
    suggestion_id: uuid.UUID,
    accept: bool,
    *,
    question: str | None = None,
    answer: str | None = None,
) -> FaqSuggestion:
    """Accepting creates a draft FAQ entry in the knowledge base (it still goes through review and publishing);
    ``question`` / ``answer`` replace the suggested wording (edit, then accept)."""
    actor.require(Perm.BOT_MANAGE)
    suggestion = session.scalar(select(FaqSuggestion).where(FaqSuggestion.id == suggestion_id))
    if suggestion is None:
        raise NotFound("no FAQ suggestion with this id")
    if suggestion.status != "pending":
        raise Conflict(f"this suggestion was already {suggestion.status}")
    edited = False
    if accept:
        title = suggestion.question[:200] if question is None else question.strip()
        body = suggestion.answer if answer is None else answer.strip()
        edited = (title, body) != (suggestion.question[:200], suggestion.answer)
        _create_faq_draft(session, actor, suggestion.language, title, body)
    suggestion.status = "accepted" if accept else "rejected"
    audit.record(session, actor, "bot.faq_suggestion_decide", "faq_suggestion", suggestion.id,
                 {"status": suggestion.status, "edited": edited})  # fmt: skip
    return suggestion


GAP_WINDOW_DAYS = 30
"""The console lists (and decides) the knowledge gaps of this many days."""


def decide_gap(
    session: Session, actor: Actor, text: str, language: str, accept: bool, *, question: str = "", answer: str = ""
) -> int:
    """Accept (write a draft FAQ entry answering it) or reject a knowledge gap, named by the text and language the
    console shows for it; every question of the group is marked, so the gap is not listed again (a new, similar
    question later starts a new gap). Returns how many questions were marked."""
    actor.require(Perm.BOT_MANAGE)
    groups = knowledge_gaps(session, utcnow() - timedelta(days=GAP_WINDOW_DAYS), with_ids=True)
    group = next((g for g in groups if g["text"] == text and g["language"] == language), None)
    if group is None:
        raise NotFound("no open knowledge gap with this question (already decided?)")
    if accept:
        if not answer.strip():
            raise InvalidInput("answer: write the answer the FAQ entry gives")
        _create_faq_draft(session, actor, language, (question.strip() or text)[:200], answer.strip())
    resolution = "accepted" if accept else "rejected"
    marked = session.execute(
        update(UnansweredQuestion).where(UnansweredQuestion.id.in_(group["ids"])).values(resolution=resolution)
    ).rowcount  # type: ignore[attr-defined]
    audit.record(session, actor, "bot.gap_decide", "knowledge_gap", group["ids"][0],
                 {"status": resolution, "text": text[:200], "language": language, "questions": marked})  # fmt: skip
    return int(marked)


def _create_faq_draft(session: Session, actor: Actor, language: str, question: str, answer: str) -> None:
    try:
        data = ArticleCreate(
            kind=Kind.FAQ, language="zh-CN" if language.startswith("zh") else "en", title=question, body=answer
        )
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": error_message(e)} for e in exc.errors()]
        raise InvalidInput(f"{errors[0]['field']}: {errors[0]['message']}", errors=errors) from None
    knowledge_actions.create_article(session, actor, data)
