"""The assistant's turn after a customer message it holds: what the ``bot.turn`` job runs.

The turn is queued (``pipeline.queue_turns``) in the transaction that stores the customer message, by the intake
policy (``bot.arrivals``) when the assistant holds the conversation; the job queue runs it after the commit
(``jobs.handlers.bot_turn``). Nothing runs fire-and-forget in a request or socket handler.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence

from omnidesk.bot import pipeline
from omnidesk.bot.brains import Brains
from omnidesk.bot.engine import Assistant
from omnidesk.bot.handover import route_or_ticket
from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing import actions as routing

log = logging.getLogger("omnidesk.bot")

_ONE_BATCH_AT_A_TIME = threading.Lock()
"""A process works one batch of turns at a time: a conversation's consecutive turns are then never thought about
side by side from the same old state (the next batch reads what the previous one wrote), and a backlog of turns
holds one job thread, never all of them (ticks, webhooks and imports keep the other). One batch at a time costs
no throughput: the assistant's thinking is Python holding the GIL anyway."""


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


def take_turns(
    db: Database, brains: Brains, assistant: Assistant, turns: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]
) -> int:
    """Many ``(tenant, conversation, message)`` turns at once (the ``bot.turn`` jobs a worker took together):
    per tenant one read, the assistant's thinking, one write (``pipeline.respond_many``). Raises if a tenant's
    batch fails: the job queue then runs each of those turns alone (:func:`take_turn`, which hands a conversation
    to people when the assistant cannot answer it)."""
    by_tenant: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = {}
    for tenant_id, conversation_id, message_id in turns:
        by_tenant.setdefault(tenant_id, []).append((conversation_id, message_id))
    written = 0
    with _ONE_BATCH_AT_A_TIME:
        for tenant_id, items in by_tenant.items():
            written += pipeline.respond_many(
                db, tenant_id, items, brains=brains, assistant=assistant, on_hand_over=route_or_ticket
            )
    return written
