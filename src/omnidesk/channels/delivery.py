"""Outbound delivery for the channels that send messages themselves (e-mail, messaging apps, SMS).

The outbound writer (``conversations.do_post_messages``) calls :func:`queue_deliveries` inside its transaction
(registered by ``omnidesk.wiring``) with every customer-visible message it stored. For each one whose
conversation's channel has an adapter (``channels.registry``), a ``message_deliveries`` row (state ``queued``) and
a ``channels.deliver`` job are written in that same transaction: the delivery exists if and only if the message
does. The job (:func:`attempt`) builds the :class:`~omnidesk.channels.base.OutboundMessage`, calls the adapter's
``deliver`` outside any transaction, and records the outcome:

* sent: the provider's message id is kept on the delivery and as an outbound ``channel_messages`` row, so a
  customer's reply naming it (e-mail ``In-Reply-To``) threads into the conversation;
* a temporary failure (``Delivery.retry``): the error is recorded and the job raises, so the queue tries again
  after its back-off (5 s, 10 s, 20 s …) until :data:`MAX_ATTEMPTS`;
* a permanent failure, or the attempts used up: ``failed`` with the error.

Every change of state publishes a ``delivery`` event (:class:`~omnidesk.events.types.DeliveryUpdated`) so the
agent sees a failed delivery at once. Jobs of one conversation run in order (serial ``delivery:<conversation>``),
so a customer receives the answers in the order they were written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from omnidesk.channels import registry
from omnidesk.channels.base import OutboundMessage, SenderIdentity
from omnidesk.channels.models import MessageDelivery
from omnidesk.conversations.models import ChannelMessage, Conversation, Message
from omnidesk.conversations.schemas import MessageOut
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import DeliveryUpdated, Scope
from omnidesk.jobs.outbox import enqueue_many

JOB_KIND = "channels.deliver"
MAX_ATTEMPTS = 6  # about 2.5 minutes of back-off in all before a temporary failure counts as failed
MAX_REFERENCES = 20  # e-mail clients cut References too; the first and the latest ones matter

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class DeliveryDeferred(Exception):
    """Raised by the job after recording a temporary failure: the queue runs it again after its back-off."""


def queue_deliveries(session: Session, actor: Actor, posted: Sequence[tuple[Conversation, dict[str, Any]]]) -> None:
    """The writer's hook: queue a delivery for each posted message whose channel delivers (in its transaction)."""
    wanted = [(c, m) for c, m in posted if registry.delivers(c.channel)]
    if not wanted:  # the widget's every message: one dict look-up and nothing more
        return
    now = utcnow()
    session.execute(
        insert(MessageDelivery),
        [
            {
                "tenant_id": actor.tenant_id,
                "message_id": uuid.UUID(m["id"]),
                "conversation_id": c.id,
                "channel": c.channel,
                "state": QUEUED,
                "attempts": 0,
                "error": "",
                "created_at": now,
                "updated_at": now,
            }
            for c, m in wanted
        ],
    )
    enqueue_many(
        session,
        JOB_KIND,
        [(m["id"], {"message_id": m["id"]}) for _, m in wanted],
        max_attempts=MAX_ATTEMPTS + 1,  # the delivery row decides failure; the job's own limit is a backstop
        serials=[(f"delivery:{c.id}", int(m["seq"])) for c, m in wanted],
    )


def outbound_message(
    session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID, identity_kind: str
) -> OutboundMessage:
    """The message as its adapter receives it: threading ids and the customer's identity on the channel."""
    message = session.get_one(Message, message_id)
    conversation = session.get_one(Conversation, message.conversation_id)
    ids = session.execute(
        select(ChannelMessage.channel_message_id, ChannelMessage.direction)
        .where(ChannelMessage.conversation_id == conversation.id, ChannelMessage.channel == conversation.channel)
        .order_by(ChannelMessage.created_at)
    ).all()
    inbound = [cid for cid, direction in ids if direction == "in"]
    references = [cid for cid, _ in ids]
    if len(references) > MAX_REFERENCES:
        references = references[:1] + references[-(MAX_REFERENCES - 1) :]
    customer = session.get_one(Customer, conversation.customer_id)
    address = session.scalar(
        select(CustomerIdentity.value)
        .where(CustomerIdentity.customer_id == customer.id, CustomerIdentity.kind == identity_kind)
        .order_by(CustomerIdentity.created_at.desc())
        .limit(1)
    )
    recipient = (
        SenderIdentity(kind=identity_kind, value=address, customer_id=customer.id, display_name=customer.name or "")
        if address
        else None
    )
    return OutboundMessage.from_stored(
        tenant_id,
        conversation.channel,
        MessageOut.model_validate(message).model_dump(mode="json"),
        reply_to=inbound[-1] if inbound else None,
        recipient=recipient,
        references=references,
        subject=conversation.subject,
    )


def attempt(context: registry.AdapterContext, tenant_id: uuid.UUID, message_id: uuid.UUID) -> str:
    """One delivery attempt of one message (the ``channels.deliver`` job); returns the state it left.

    Idempotent: a delivery already sent or failed is left alone (the job ran twice after a crash). Between the
    adapter's answer and the record of it a crash can repeat a send: adapters pass ``message_id`` to their
    provider as an idempotency key where it takes one (e-mail: the Message-ID is derived from it).
    """
    db = context.db
    with db.tenant_read(tenant_id) as s:
        delivery = s.get(MessageDelivery, message_id)
        if delivery is None or delivery.state != QUEUED:
            return delivery.state if delivery is not None else FAILED
        adapter = registry.adapter(delivery.channel, context)
        outbound = None
        if adapter is not None:
            kind = getattr(adapter, "identity_kind", delivery.channel)
            outbound = outbound_message(s, tenant_id, message_id, kind)
    if adapter is None or outbound is None:
        return _record(db, tenant_id, message_id, FAILED, error=f"no adapter delivers the {delivery.channel} channel")
    if outbound.recipient is None:
        return _record(db, tenant_id, message_id, FAILED, error="the customer has no address on this channel")
    error: str | None
    try:
        result = adapter.deliver(outbound)
    except Exception as exc:  # an adapter bug or an unexpected transport error: temporary until proven otherwise
        error, retry, provider_id = f"{type(exc).__name__}: {exc}", True, None
    else:
        error, retry, provider_id = result.error, result.retry, result.channel_message_id
    if error is None:
        return _record(db, tenant_id, message_id, SENT, channel_message_id=provider_id)
    state = _record(db, tenant_id, message_id, QUEUED if retry else FAILED, error=error)
    if state == QUEUED:
        raise DeliveryDeferred(error)
    return state


def _record(
    db: Any,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    state: str,
    *,
    error: str = "",
    channel_message_id: str | None = None,
) -> str:
    with db.tenant_transaction(tenant_id) as s:
        delivery = s.get_one(MessageDelivery, message_id, with_for_update=True)
        if delivery.state != QUEUED:
            return str(delivery.state)
        delivery.attempts += 1
        if state == QUEUED and delivery.attempts >= MAX_ATTEMPTS:
            state, error = FAILED, f"{error} (gave up after {delivery.attempts} attempts)"
        delivery.state = state
        delivery.error = error[:2000]
        delivery.updated_at = utcnow()
        if channel_message_id:
            delivery.channel_message_id = channel_message_id[:200]
            known = s.get(ChannelMessage, (tenant_id, delivery.channel, delivery.channel_message_id))
            if known is None:
                s.execute(
                    insert(ChannelMessage).values(
                        tenant_id=tenant_id,
                        channel=delivery.channel,
                        channel_message_id=delivery.channel_message_id,
                        direction="out",
                        conversation_id=delivery.conversation_id,
                        message_id=message_id,
                        created_at=utcnow(),
                    )
                )
        _announce(s, tenant_id, delivery)
        return state


def _announce(session: Session, tenant_id: uuid.UUID, delivery: MessageDelivery) -> None:
    conversation = session.get_one(Conversation, delivery.conversation_id)
    publish_on_commit(
        session,
        DeliveryUpdated(
            tenant_id=tenant_id,
            scope=Scope.of(conversation),
            message_id=delivery.message_id,
            channel=delivery.channel,
            state=delivery.state,
            error=delivery.error,
            attempts=delivery.attempts,
        ),
    )


def mark_bounced(session: Session, tenant_id: uuid.UUID, channel: str, channel_message_id: str, error: str) -> bool:
    """A delivery the provider accepted came back (an e-mail bounce): ``failed`` with the reason, announced.
    Returns whether a delivery of ours was found for that id."""
    delivery = session.scalar(
        select(MessageDelivery).where(
            MessageDelivery.channel == channel, MessageDelivery.channel_message_id == channel_message_id
        )
    )
    if delivery is None:
        return False
    delivery.state = FAILED
    delivery.error = error[:2000]
    delivery.updated_at = utcnow()
    _announce(session, tenant_id, delivery)
    return True
