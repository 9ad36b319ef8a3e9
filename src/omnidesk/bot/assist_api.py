"""HTTP handler of agent assist: ``GET /api/v1/conversations/{id}/assist`` (the workspace's copilot panel)."""

from __future__ import annotations

import dataclasses
import uuid

from fastapi import APIRouter, Request

from omnidesk.bot import assist
from omnidesk.bot.brains import Brains
from omnidesk.bot.engine import Assistant
from omnidesk.bot.schemas import AssistOut
from omnidesk.core.schemas import Language
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["assistant"])


@router.get("/conversations/{conversation_id}/assist")
def conversation_assist(
    conversation_id: uuid.UUID, request: Request, db: DbDep, actor: ActorDep, lang: Language = "zh-CN"
) -> AssistOut:
    """Help for answering this conversation: knowledge suggestions for the customer's current question, suggested
    replies (canned responses, past agent answers), a summary (extractive; the tenant's LLM when configured) and
    the intent and sentiment of the last customer message. Whoever may read the conversation may ask; changes
    nothing. ``lang`` is the reader's language (the summary's wording)."""
    brains: Brains = request.app.state.brains
    assistant: Assistant = request.app.state.assistant
    with db.tenant_read(actor.tenant_id) as s:
        brain = brains.get(s, actor.tenant_id)
        result = assist.gather(s, actor, conversation_id, brain, reader_language=lang)
    result = assist.with_llm(assistant, brain, result, reader_language=lang)
    return AssistOut.model_validate(dataclasses.asdict(result))
