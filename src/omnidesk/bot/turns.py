"""The assistant's turn after a customer message it holds is committed, as the entry points call it.

Built once at start-up (``web.app.create_app``) and handed to whatever stores customer messages (the widget's HTTP
handlers and its socket sink) as a plain callable, so no adapter imports another's handler module.
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


class AssistantTurns:
    """``turns(tenant_id, conversation_id, message_id)``: the assistant answers the message if it holds the
    conversation (its reply reaches the customer over the socket like any other message)."""

    def __init__(self, db: Database, brains: Brains, assistant: Assistant) -> None:
        self._db = db
        self._brains = brains
        self._assistant = assistant

    def __call__(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
        try:
            pipeline.respond(
                self._db, tenant_id, conversation_id, message_id, brains=self._brains, assistant=self._assistant,
                on_hand_over=route_or_ticket,
            )  # fmt: skip
        except Exception:  # the customer's message is safe; a person will see it in the queue
            log.exception("the assistant could not answer", extra={"conversation_id": str(conversation_id)})
            with self._db.tenant_transaction(tenant_id) as s:
                conversation = s.get(Conversation, conversation_id)
                if conversation is not None:
                    routing.enqueue(s, system_actor(tenant_id), conversation)
