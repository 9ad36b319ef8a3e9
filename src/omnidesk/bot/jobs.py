"""Background work of the assistant, run by the job queue (``jobs.handlers``): training a queued intent model
(a job enqueued with the training request) and harvesting FAQ suggestions from conversations people resolved (a
periodic task). Both are idempotent, so a repeated run after a crash does no harm.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnidesk.accounts.models import Tenant
from omnidesk.bot import actions
from omnidesk.bot.brains import Brains
from omnidesk.bot.models import BotConversation, FaqSuggestion, IntentModel
from omnidesk.bot.nlu import detect_language
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.db import Database, utcnow

log = logging.getLogger("omnidesk.bot")


def claim_and_train(db: Database, tenant_id: uuid.UUID, model_id: uuid.UUID, brains: Brains) -> bool:
    """Train one queued model; False when it is not waiting for training any more. The job queue runs one job
    at a time (a lease), so a run marked "running" whose worker died is simply run again."""
    with db.tenant_transaction(tenant_id) as s:
        claimed = s.execute(
            update(IntentModel)
            .where(IntentModel.id == model_id, IntentModel.status == "training", IntentModel.error.in_(("", "running")))
            .values(error="running")
        ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        return False
    try:
        actions.train(db, tenant_id, model_id, brains)
    except Exception:
        log.exception("intent training failed", extra={"tenant_id": str(tenant_id)})
        with db.tenant_transaction(tenant_id) as s:
            s.execute(update(IntentModel).where(IntentModel.id == model_id).values(status="failed", error="crashed"))
        return True
    with db.tenant_transaction(tenant_id) as s:
        s.execute(
            update(IntentModel).where(IntentModel.id == model_id, IntentModel.error == "running").values(error="")
        )
    return True


def harvest_suggestions(db: Database, since: timedelta = timedelta(days=7)) -> int:
    """Turn resolved hand-over conversations into suggested FAQ entries (question → the agent's answer)."""
    cutoff = utcnow() - since
    with db.platform_read() as s:
        tenants = list(s.scalars(select(Tenant.id).where(Tenant.is_active.is_(True))))
    made = 0
    for tenant_id in tenants:
        with db.tenant_transaction(tenant_id) as s:
            rows = s.execute(
                select(Conversation.id)
                .join(BotConversation, BotConversation.conversation_id == Conversation.id)
                .outerjoin(FaqSuggestion, FaqSuggestion.conversation_id == Conversation.id)
                .where(
                    Conversation.status == "resolved",
                    Conversation.updated_at >= cutoff,
                    BotConversation.handled_by == "human",
                    FaqSuggestion.id.is_(None),
                )
            ).all()
            for (conversation_id,) in rows:
                pair = _question_and_answer(s, conversation_id)
                if pair is None:
                    continue
                question, answer, language = pair
                s.add(FaqSuggestion(tenant_id=tenant_id, conversation_id=conversation_id, question=question,
                                    answer=answer, language=language))  # fmt: skip
                made += 1
    return made


def _question_and_answer(s: Session, conversation_id: uuid.UUID) -> tuple[str, str, str] | None:
    messages = list(
        s.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.internal.is_(False))
            .order_by(Message.seq)
        )
    )
    handed = next(
        (
            i
            for i, m in enumerate(messages)
            if m.sender_type == "bot" and m.payload.get("bot", {}).get("kind") == "hand_over"
        ),
        None,
    )
    start = handed if handed is not None else 0
    question = next((m.body for m in reversed(messages[: start + 1]) if m.sender_type == "customer"), None)
    answer = next((m.body for m in messages[start:] if m.sender_type == "agent"), None)
    if not question or not answer:
        return None
    language = "zh-CN" if detect_language(question, default="zh") == "zh" else "en"
    return question[:2000], answer[:4000], language
