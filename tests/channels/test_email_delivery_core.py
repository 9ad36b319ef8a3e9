"""The outbound delivery core: the writer queues a delivery with each customer-visible message of a channel that
delivers itself, in the message's transaction; the job hands it to the channel's adapter, retries a temporary
failure, records a permanent one and tells the agent; the provider's id threads the customer's reply.

The test settings run follow-up jobs in the committing thread (``jobs_immediate``): the first attempt has
happened when the agent's transaction returns; later attempts (the queue's back-off) are run by hand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from omnidesk.channels import delivery, registry
from omnidesk.channels.base import (
    Capabilities,
    Delivery,
    InboundMessage,
    OutboundMessage,
    SenderIdentity,
    TextPart,
    ThreadRef,
)
from omnidesk.channels.models import MessageDelivery
from omnidesk.conversations import actions
from omnidesk.conversations.intake import Stored
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job
from tests.factories import World

CHANNEL = "testmail"


class TinyAdapter:
    """A channel whose provider answers as told: an id, a temporary error, or a permanent one."""

    channel = CHANNEL
    capabilities = Capabilities()
    identity_kind = "email"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.answers: list[Delivery] = []

    def deliver(self, message: OutboundMessage) -> Delivery:
        self.sent.append(message)
        if self.answers:
            return self.answers.pop(0)
        return Delivery(channel_message_id=f"<{message.message_id}@provider>")


@pytest.fixture
def tiny() -> Iterator[TinyAdapter]:
    adapter = TinyAdapter()
    registry.register(CHANNEL, lambda _ctx: adapter)
    yield adapter
    registry.unregister(CHANNEL)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    original = delivery.publish_on_commit

    def record(session: Any, event: Any) -> None:
        seen.append(event)
        original(session, event)

    monkeypatch.setattr(delivery, "publish_on_commit", record)
    return seen


def customer_writes(db: Database, world: World, text: str, cmid: str, reply_to: str | None = None) -> dict[str, Any]:
    message = InboundMessage(
        channel=CHANNEL,
        channel_message_id=cmid,
        sender=SenderIdentity("email", "li.wei@example.cn", display_name="Li Wei"),
        parts=(TextPart(text),),
        thread=ThreadRef(reply_to=reply_to, subject="Order 1234"),
    )
    with db.tenant_transaction(world.tenant_id) as s:
        (outcome,) = actions.receive_messages(s, system_actor(world.tenant_id), [message])
    assert isinstance(outcome, Stored)
    return outcome.message


def agent_answers(db: Database, world: World, conversation_id: str, body: str, internal: bool = False) -> str:
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get_one(Conversation, uuid.UUID(conversation_id))
        agent = world.actor()
        stored = actions.do_post_message(
            s, agent, conversation, body=body, sender_type=SenderType.AGENT, sender_id=agent.id, internal=internal
        )
        return str(stored.id)


def state_of(db: Database, world: World, message_id: str) -> MessageDelivery | None:
    with db.tenant_read(world.tenant_id) as s:
        row = s.get(MessageDelivery, uuid.UUID(message_id))
        if row is not None:
            s.expunge(row)
        return row


def test_an_agent_reply_is_delivered_and_the_customer_reply_to_it_threads_back(
    app: FastAPI, db: Database, settings: Settings, world: World, tiny: TinyAdapter, events: list[Any]
) -> None:
    first = customer_writes(db, world, "Where is my parcel?", "<q1@example.cn>")
    conversation_id = first["conversation_id"]
    message_id = agent_answers(db, world, conversation_id, "It left the warehouse today.")
    note_id = agent_answers(db, world, conversation_id, "customer sounds upset", internal=True)

    # Queued with the message, in its transaction: one job keyed by the message (run as the commit returned).
    assert state_of(db, world, note_id) is None  # an internal note never leaves
    with db.tenant_read(world.tenant_id) as s:
        jobs = s.scalars(select(Job).where(Job.kind == delivery.JOB_KIND, Job.tenant_id == world.tenant_id)).all()
        assert [j.key for j in jobs] == [message_id]

    ctx = JobContext(db, settings)
    (sent,) = tiny.sent
    assert sent.reply_to == "<q1@example.cn>" and sent.references == ("<q1@example.cn>",)
    assert sent.recipient is not None and sent.recipient.value == "li.wei@example.cn"
    assert sent.parts == (TextPart("It left the warehouse today."),) and sent.subject == "Order 1234"
    done = state_of(db, world, message_id)
    assert done is not None and done.state == "sent" and done.channel_message_id == f"<{message_id}@provider>"
    assert [(e.state, str(e.message_id)) for e in events] == [("sent", message_id)]

    # Run again (a crash after the send): nothing is sent twice.
    assert delivery.attempt(ctx, world.tenant_id, uuid.UUID(message_id)) == "sent"
    assert len(tiny.sent) == 1

    # The customer answers our message (not their own): it lands in the same conversation.
    reply = customer_writes(db, world, "Thanks!", "<q2@example.cn>", reply_to=f"<{message_id}@provider>")
    assert reply["conversation_id"] == conversation_id


def test_a_temporary_failure_is_retried_and_a_permanent_one_is_shown_to_the_agent(
    app: FastAPI, db: Database, settings: Settings, world: World, tiny: TinyAdapter, events: list[Any]
) -> None:
    first = customer_writes(db, world, "Hello?", f"<{uuid.uuid4()}@example.cn>")
    ctx = JobContext(db, settings)

    tiny.answers = [Delivery(error="421 try later", retry=True), Delivery(error="550 no such user", retry=False)]
    message_id = agent_answers(db, world, first["conversation_id"], "Hello!")  # the first attempt: 421
    waiting = state_of(db, world, message_id)
    assert waiting is not None and (waiting.state, waiting.attempts, waiting.error) == ("queued", 1, "421 try later")

    assert delivery.attempt(ctx, world.tenant_id, uuid.UUID(message_id)) == "failed"
    failed = state_of(db, world, message_id)
    assert failed is not None and (failed.state, failed.error) == ("failed", "550 no such user")
    assert [e.state for e in events] == ["queued", "failed"]
    shown = events[-1].to_dict()
    assert shown["type"] == "delivery" and shown["conversation_id"] == first["conversation_id"]


def test_retries_give_up_after_the_limit(
    app: FastAPI, db: Database, settings: Settings, world: World, tiny: TinyAdapter, events: list[Any]
) -> None:
    first = customer_writes(db, world, "Hello?", f"<{uuid.uuid4()}@example.cn>")
    ctx = JobContext(db, settings)
    tiny.answers = [Delivery(error="connection refused", retry=True)] * delivery.MAX_ATTEMPTS
    message_id = agent_answers(db, world, first["conversation_id"], "Hello!")  # the first attempt
    for _ in range(delivery.MAX_ATTEMPTS - 2):
        with pytest.raises(delivery.DeliveryDeferred):
            delivery.attempt(ctx, world.tenant_id, uuid.UUID(message_id))
    assert delivery.attempt(ctx, world.tenant_id, uuid.UUID(message_id)) == "failed"
    row = state_of(db, world, message_id)
    assert row is not None and row.attempts == delivery.MAX_ATTEMPTS and "gave up" in row.error


def test_the_widget_channel_queues_nothing(db: Database, world: World) -> None:
    assert not registry.delivers("web")
