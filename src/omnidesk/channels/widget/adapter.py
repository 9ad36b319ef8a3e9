"""The chat widget as a channel adapter: the first one on the contract of ``channels/base.py``.

Inbound, a visitor's message arrives over their socket (batched by ``realtime.intake``, for which this adapter
is the registered :class:`~omnidesk.realtime.intake.MessageSink`) or over the visitor API; either way it becomes
an :class:`InboundMessage` stored by ``conversations.receive_messages``. The widget's ``client_id`` is per
conversation, so its channel message id is ``<conversation>:<client_id>``; opening a conversation names the new
conversation by an id derived from the visitor and their ``client_id``, so a retried "open" finds the one it
opened. Outbound there is nothing to send: the visitor's socket receives the ``message`` event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from omnidesk.channels.base import (
    Capabilities,
    ContentPart,
    Delivery,
    InboundMessage,
    OutboundMessage,
    SenderIdentity,
    TextPart,
    ThreadRef,
)
from omnidesk.channels.widget.schemas import VisitorSocketSend
from omnidesk.conversations.actions import conversation_message_id
from omnidesk.conversations.intake import Outcome, Refused, Stored, receive_messages
from omnidesk.conversations.schemas import Channel
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.events.presence import PresenceStore
from omnidesk.realtime.intake import Ack, Answer, Refusal, SocketMessage
from omnidesk.realtime.tokens import SocketGrant
from omnidesk.routing import service as routing_service

log = logging.getLogger("omnidesk.widget")

CHANNEL = Channel.WEB.value
CAPABILITIES = Capabilities(
    rich_replies=True, attachments=True, typing=True, read_receipts=True, edit_window=None, max_text=10_000
)
_OPEN_NAMESPACE = uuid.UUID("6f1d2a52-8c1e-4c55-9a0e-0d7c1b6e0a11")


def new_conversation_id(customer_id: uuid.UUID, client_id: str) -> uuid.UUID:
    """The id a visitor's "open a conversation" with first message ``client_id`` gives the conversation: the same
    for a retry, so the retry finds it instead of opening a second one."""
    return uuid.uuid5(_OPEN_NAMESPACE, f"{customer_id}:{client_id}")


def inbound(
    customer_id: uuid.UUID,
    conversation_id: uuid.UUID,
    client_id: str,
    parts: Sequence[ContentPart],
    *,
    ip: str | None,
    origin: str | None = None,
    opening: bool = False,
    subject: str = "",
) -> InboundMessage:
    """A visitor's message in the contract's terms. ``opening``: it opens ``conversation_id``."""
    return InboundMessage(
        channel=CHANNEL,
        channel_message_id=conversation_message_id(conversation_id, client_id),
        sender=SenderIdentity.of_customer(customer_id),
        parts=tuple(parts),
        thread=ThreadRef(conversation_id=conversation_id, new_conversation=opening, subject=subject),
        client_id=client_id,
        ip=ip,
        origin=origin,
    )


class WidgetAdapter:
    """The widget channel: its capabilities, its (empty) delivery, and the socket's message sink."""

    channel = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, db: Database, presence: PresenceStore) -> None:
        self._db = db
        self._presence = presence

    def deliver(self, message: OutboundMessage) -> Delivery:
        """Nothing to send: every socket of the visitor receives the ``message`` event after the commit, and a
        widget that was offline fetches what it missed by ``seq``."""
        return Delivery(channel_message_id=None)

    # --- the socket's message sink ------------------------------------------------------------------------------

    def accept(self, grant: SocketGrant, frame: dict[str, Any], ip: str | None, origin: str) -> SocketMessage | Refusal:
        try:
            data = VisitorSocketSend.model_validate({k: v for k, v in frame.items() if k != "type"})
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            return Refusal(422, f"{where}: {problem['msg']}")
        assert grant.customer_id is not None  # the gateway lets visitors' sockets send only
        message = inbound(grant.customer_id, data.conversation_id, data.client_id, [TextPart(data.body)], ip=ip,
                          origin=origin)  # fmt: skip
        return SocketMessage(grant.tenant_id, grant.customer_id, data.client_id, message, ip, origin)

    def store(self, tenant_id: uuid.UUID, batch: Sequence[SocketMessage]) -> list[Answer]:
        items: list[InboundMessage] = [m.data for m in batch]
        try:
            outcomes = self._store_together(tenant_id, items)
        except (IntegrityError, OperationalError):
            # A resend raced with its original on another process (the unique channel id let one in), or the
            # database refused the batch: store one by one so that one message cannot fail the others.
            log.info("batch of messages refused; storing them one by one", exc_info=True)
            outcomes = [self._store_alone(tenant_id, item) for item in items]
        return [_answer(outcome) for outcome in outcomes]

    def _store_together(self, tenant_id: uuid.UUID, items: Sequence[InboundMessage]) -> list[Outcome]:
        with self._db.tenant_transaction(tenant_id) as session:
            outcomes = receive_messages(session, system_actor(tenant_id), items)
            if any(isinstance(o, Stored) and o.created for o in outcomes):
                routing_service.route_now(self._presence, session, tenant_id)
        return outcomes

    def _store_alone(self, tenant_id: uuid.UUID, item: InboundMessage) -> Outcome:
        try:
            return self._store_together(tenant_id, [item])[0]
        except Exception:
            log.exception("could not store a message", extra={"conversation_id": str(item.thread.conversation_id)})
            return Refused(503, "the message could not be stored; send it again")


def _answer(outcome: Outcome) -> Answer:
    """The socket's answer. The assistant's turn, when it holds the conversation, was queued as a job in the
    transaction that stored the message (``bot.arrivals``): nothing is left to run after the answer."""
    if isinstance(outcome, Refused):
        return Refusal(outcome.status, outcome.detail)
    return Ack(outcome.message, outcome.created)
