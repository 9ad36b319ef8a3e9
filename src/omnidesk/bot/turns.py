"""The assistant's turn after a customer message it holds: what the ``bot.turn`` job runs.

The turn is queued (``pipeline.queue_turns``) in the transaction that stores the customer message, by the intake
policy (``bot.arrivals``) when the assistant holds the conversation; the job queue runs it after the commit
(``jobs.handlers.bot_turn``). Nothing runs fire-and-forget in a request or socket handler.
"""

from __future__ import annotations

import logging
import uuid

from omnidesk.bot import pipeline
from omnidesk.bot.brains import Brains
from omnidesk.bot.engine import Assistant
from omnidesk.bot.handover import route_or_ticket
from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing import actions as routing

log = logging.getLogger("omnidesk.bot")


def take_turn(
    db: Database,
    brains: Brains,
    assistant: Assistant,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
) -> None:
    """The assistant answers the message if it holds the conversation (at most once: see ``bot.pipeline``); its
    reply reaches the customer over the socket like any other message. If answering raises, the conversation goes
    to people at once rather than after retries (a customer is waiting); only when even that fails (the database)
    does this raise, so the job is retried."""
    try:
        pipeline.respond(
            db, tenant_id, conversation_id, message_id, brains=brains, assistant=assistant,
            on_hand_over=route_or_ticket,
        )  # fmt: skip
    except Exception:  # the customer's message is safe; a person will see it in the queue
        log.exception("the assistant could not answer", extra={"conversation_id": str(conversation_id)})
        with db.tenant_transaction(tenant_id) as s:
            conversation = s.get(Conversation, conversation_id)
            if conversation is not None:
                routing.enqueue(s, system_actor(tenant_id), conversation)
