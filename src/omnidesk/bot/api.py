"""HTTP handlers of the assistant: the test console's answer endpoint, configuration, intents, models, gaps."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, status
from sqlalchemy import func, select

from omnidesk.accounts import tenant_secrets
from omnidesk.bot import actions, assist
from omnidesk.bot.brains import Brains, current_settings
from omnidesk.bot.engine import Assistant
from omnidesk.bot.gaps import knowledge_gaps
from omnidesk.bot.models import FaqSuggestion, IntentExample, IntentModel
from omnidesk.bot.schemas import (
    AnswerOut,
    AnswerRequest,
    AssistOut,
    ConfigOut,
    ExamplesIn,
    FaqSuggestionOut,
    GapOut,
    IntentModelOut,
    LlmKeyIn,
    LlmKeyOut,
    OperatingPointIn,
    TrainIn,
)
from omnidesk.core.db import utcnow
from omnidesk.core.schemas import Language
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/bot", tags=["assistant"])
assist_router = APIRouter(tags=["assistant"])
"""Agent assist lives under the conversation it helps with: ``/conversations/{id}/assist``."""


def _brains(request: Request) -> Brains:
    brains: Brains = request.app.state.brains
    return brains


def _assistant(request: Request) -> Assistant:
    assistant: Assistant = request.app.state.assistant
    return assistant


@router.post("/answer")
def answer(data: AnswerRequest, request: Request, db: DbDep, actor: ActorDep) -> AnswerOut:
    """What the assistant would reply to ``text``, with its kind, matched knowledge id, confidence, intent,
    entities and sentiment. Changes no conversation; pass the returned ``state`` back to test a multi-turn flow."""
    actor.require(Perm.BOT_TEST)
    settings = request.app.state.settings
    # Every answer runs the NLU (and maybe the tenant's LLM and connectors): bounded per tenant, not per caller.
    request.app.state.rate_limiter.hit(f"bot-answer:{actor.tenant_id}", settings.bot_answer_rate_per_minute, 60)
    with db.tenant_read(actor.tenant_id) as s:
        brain = _brains(request).get(s, actor.tenant_id)
    reply = _assistant(request).reply(
        brain, data.text, tenant_key=str(actor.tenant_id), state=data.state, language=data.language,
        customer_tags=list(data.customer_tags),
    )  # fmt: skip
    return AnswerOut.model_validate(dataclasses.asdict(reply))


@router.get("/config")
def get_config(db: DbDep, actor: ActorDep) -> ConfigOut:
    actor.require(Perm.BOT_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        version, settings = current_settings(s)
    return ConfigOut(version=version, document=settings.model_dump(mode="json", by_alias=True))


@router.put("/config")
def put_config(document: Annotated[dict[str, Any], Body()], db: DbDep, actor: ActorDep) -> ConfigOut:
    """Replace the assistant settings (validated; unknown fields and dangling references are refused)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        row = actions.save_config(s, actor, document)
        return ConfigOut(version=row.version, document=row.document)


@router.post("/config/rollback")
def rollback_config(
    version: Annotated[int, Body(embed=True, ge=1, le=1_000_000_000)], db: DbDep, actor: ActorDep
) -> ConfigOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        row = actions.rollback_config(s, actor, version)
        return ConfigOut(version=row.version, document=row.document)


def _key_out(status: tenant_secrets.SecretStatus) -> LlmKeyOut:
    return LlmKeyOut(configured=status.is_set, last4=status.last4, updated_at=status.updated_at)


@router.get("/llm-key")
def get_llm_key(db: DbDep, actor: ActorDep) -> LlmKeyOut:
    """Whether an LLM API key is stored, and its last four characters; the key itself is never returned."""
    with db.tenant_read(actor.tenant_id) as s:
        return _key_out(actions.llm_key_status(s, actor))


@router.put("/llm-key")
def put_llm_key(data: LlmKeyIn, db: DbDep, actor: ActorDep, settings: SettingsDep) -> LlmKeyOut:
    """Set or replace the LLM provider's API key: stored encrypted for this workspace, write-only."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return _key_out(actions.set_llm_key(s, actor, for_purpose(settings, Purpose.TENANT_SECRETS), data.api_key))


@router.delete("/llm-key")
def delete_llm_key(db: DbDep, actor: ActorDep) -> LlmKeyOut:
    """Remove the stored key (calls to the LLM then go without one)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return _key_out(actions.clear_llm_key(s, actor))


@router.get("/intents")
def list_intents(db: DbDep, actor: ActorDep) -> dict[str, int]:
    """Intent labels with their number of examples."""
    actor.require(Perm.BOT_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        rows = s.execute(select(IntentExample.label, func.count()).group_by(IntentExample.label))
        return {label: int(count) for label, count in rows}


@router.post("/intents", status_code=status.HTTP_201_CREATED)
def add_examples(data: ExamplesIn, db: DbDep, actor: ActorDep) -> dict[str, int]:
    """Add example utterances to an intent (label ``oos`` marks examples of what is out of scope)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return {"added": actions.add_examples(s, actor, data.label, list(data.texts))}


@router.delete("/intents/{label}")
def remove_label(label: Annotated[str, Path(max_length=60)], db: DbDep, actor: ActorDep) -> dict[str, int]:
    with db.tenant_transaction(actor.tenant_id) as s:
        return {"removed": actions.remove_label(s, actor, label)}


@router.get("/models")
def list_models(db: DbDep, actor: ActorDep) -> list[IntentModelOut]:
    actor.require(Perm.BOT_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        return [
            IntentModelOut.model_validate(m)
            for m in s.scalars(select(IntentModel).order_by(IntentModel.version.desc()))
        ]


@router.post("/models", status_code=status.HTTP_202_ACCEPTED)
def train_model(request: Request, db: DbDep, actor: ActorDep, data: TrainIn | None = None) -> IntentModelOut:
    """Start training a new version from the examples and the published FAQ; it activates itself when ready,
    unless ``{"activate": false}`` (then review its ``policy`` and activate it)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        model = actions.request_training(s, actor, activate=data.activate if data is not None else True)
        out = IntentModelOut.model_validate(model)
    return out  # the "bot.train" job queued with the request trains it


@router.post("/models/{version}/operating-point")
def move_operating_point(
    version: Annotated[int, Path(ge=1, le=1_000_000_000)], data: OperatingPointIn, db: DbDep, actor: ActorDep
) -> IntentModelOut:
    """Use another of the model's operating points (``target``: the wrong-answer share it aims at); live on the
    next message when the model is active."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return IntentModelOut.model_validate(actions.set_operating_point(s, actor, version, data.target))


@router.post("/models/{version}/activate")
def activate_model(version: Annotated[int, Path(ge=1, le=1_000_000_000)], db: DbDep, actor: ActorDep) -> IntentModelOut:
    """Make this trained version the live one (rolls back or forward)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return IntentModelOut.model_validate(actions.activate_model(s, actor, version))


@router.get("/gaps")
def gaps(db: DbDep, actor: ActorDep, days: Annotated[int, Query(ge=1, le=365)] = 30) -> list[GapOut]:
    """Questions the assistant could not answer, grouped: what the knowledge base is missing."""
    actor.require(Perm.BOT_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        return [GapOut.model_validate(g) for g in knowledge_gaps(s, utcnow() - timedelta(days=days))]


@router.get("/faq-suggestions")
def faq_suggestions(db: DbDep, actor: ActorDep) -> list[FaqSuggestionOut]:
    """Question / answer pairs from conversations people resolved, waiting for review."""
    actor.require(Perm.BOT_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        rows = s.scalars(
            select(FaqSuggestion).where(FaqSuggestion.status == "pending").order_by(FaqSuggestion.created_at.desc())
        )
        return [FaqSuggestionOut.model_validate(r) for r in rows]


@router.post("/faq-suggestions/{faq_suggestion_id}/decision")
def decide_suggestion(
    faq_suggestion_id: uuid.UUID, accept: Annotated[bool, Body(embed=True)], db: DbDep, actor: ActorDep
) -> FaqSuggestionOut:
    """Accept (creates a draft FAQ entry in the knowledge base for review) or reject a suggestion."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return FaqSuggestionOut.model_validate(actions.decide_suggestion(s, actor, faq_suggestion_id, accept))


# --- agent assist (the workspace's copilot panel) ----------------------------------------------------------


@assist_router.get("/conversations/{conversation_id}/assist")
def conversation_assist(
    conversation_id: uuid.UUID,
    request: Request,
    db: DbDep,
    actor: ActorDep,
    lang: Annotated[Language, Query(description="the reader's language, for the summary's wording")] = "zh-CN",
) -> AssistOut:
    """Help for answering this conversation: knowledge suggestions for the customer's current question, suggested
    replies (canned responses, past agent answers), a summary (extractive; the tenant's LLM when configured) and
    the intent and sentiment of the last customer message. Whoever may read the conversation may ask; changes
    nothing. ``lang`` is the reader's language (the summary's wording)."""
    with db.tenant_read(actor.tenant_id) as s:
        brain = _brains(request).get(s, actor.tenant_id)
        result = assist.gather(s, actor, conversation_id, brain, reader_language=lang)
    result = assist.with_llm(_assistant(request), brain, result, reader_language=lang)
    return AssistOut.model_validate(dataclasses.asdict(result))
