"""The assistant's turn is a job queued with the customer's message: at most one reply per message however often
the job runs, and a turn that waits too long becomes a hand-over to people with a holding message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omnidesk.bot.models import BotConversation
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database, utcnow
from omnidesk.core.settings import Settings
from omnidesk.events.bus import MemoryBus
from omnidesk.i18n import translate
from omnidesk.jobs import handlers
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job, JobState
from omnidesk.jobs.queue import JobQueue
from omnidesk.routing.models import QueueEntry
from tests.factories import start_visitor, visitor_conversation
from tests.jobs.botload import bot_replies, bot_world, send
from tests.realtime.test_gateway import _open
from tests.realtime.test_socket_send import _send


@pytest.fixture
def own_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, bus=MemoryBus())
    yield database
    database.dispose()


def context(db: Database, settings: Settings, app: FastAPI) -> JobContext:
    return JobContext(db, settings, brains=app.state.brains, assistant=app.state.assistant)


def jobs_of(db: Database, tenant_id: uuid.UUID) -> list[Job]:
    with db.tenant_read(tenant_id) as s:
        return list(s.scalars(select(Job).where(Job.kind == "bot.turn").order_by(Job.created_at)))


def test_each_message_queues_one_turn_and_gets_one_reply_however_often_it_runs(
    own_db: Database, settings: Settings, app: FastAPI
) -> None:
    world, conversations = bot_world(own_db, 3)
    # Two messages per conversation: a repeated first turn comes after the second one was answered.
    messages = send(own_db, world, conversations) + send(own_db, world, conversations, "退款多久到账")
    queued = jobs_of(own_db, world.tenant_id)
    assert sorted(j.key for j in queued) == sorted(str(m) for m in messages)
    assert all(j.state == JobState.QUEUED for j in queued), "no bot reply before the job runs"
    assert set(bot_replies(own_db, world, messages).values()) == {0}

    queue = JobQueue(context(own_db, settings, app), immediate=False)
    for job in queued:
        queue.run_job(str(job.id))
    # Delivered again (a lost acknowledgement, a worker presumed dead): the handler sees the reply and stops.
    with own_db.platform_transaction() as s:
        s.execute(update(Job).where(Job.id.in_([j.id for j in queued])).values(state=JobState.QUEUED))
    for job in queued:
        queue.run_job(str(job.id))
    assert bot_replies(own_db, world, messages) == dict.fromkeys(messages, 1)
    assert {j.state for j in jobs_of(own_db, world.tenant_id)} == {JobState.DONE}
    with own_db.tenant_read(world.tenant_id) as s:
        holders = set(
            s.scalars(select(BotConversation.handled_by).where(BotConversation.conversation_id.in_(conversations)))
        )
        queued_for_people = s.scalar(select(QueueEntry.id).where(QueueEntry.conversation_id.in_(conversations)))
    assert holders == {"bot"} and queued_for_people is None, "a repeated turn is a no-op, not a failure for people"


def test_a_turn_that_waits_too_long_goes_to_people_with_a_holding_message(
    own_db: Database, settings: Settings, app: FastAPI
) -> None:
    world, conversations = bot_world(own_db, 2)
    late_message, fresh_message = send(own_db, world, conversations[:1]) + send(own_db, world, conversations[1:])
    waited = timedelta(seconds=settings.bot_turn_max_lag_seconds + 5)
    with own_db.platform_transaction() as s:
        s.execute(update(Job).where(Job.key == str(late_message)).values(created_at=utcnow() - waited))
    before = handlers.LATE_TURNS._value.get()

    ctx = context(own_db, settings, app)
    assert handlers.late_bot_turns(ctx) == 1
    assert handlers.late_bot_turns(ctx) == 0, "once"
    assert handlers.LATE_TURNS._value.get() == before + 1

    with own_db.tenant_read(world.tenant_id) as s:
        holder = s.scalar(select(BotConversation).where(BotConversation.conversation_id == conversations[0]))
        entry = s.scalar(select(QueueEntry).where(QueueEntry.conversation_id == conversations[0]))
        holding = s.scalars(
            select(Message).where(Message.conversation_id == conversations[0], Message.sender_type == "bot")
        ).all()
    assert holder is not None and holder.handled_by == "human"
    assert entry is not None and entry.state == "waiting", "offered to people"
    assert [m.body for m in holding] == [translate("jobs.holding", "zh-CN")]

    # The late job was settled: when a worker finally gets to it, the assistant does not answer as well.
    queue = JobQueue(ctx, immediate=False)
    for job in jobs_of(own_db, world.tenant_id):
        queue.run_job(str(job.id))
    assert bot_replies(own_db, world, [late_message, fresh_message]) == {late_message: 1, fresh_message: 1}


def test_a_message_sent_over_the_socket_queues_its_turn_with_it(client: TestClient, db: Database) -> None:
    """The socket intake stores the message and queues the assistant's turn in one transaction; the reply follows
    (immediate mode in tests: right after the commit) and arrives on the visitor's socket."""
    world, _ = bot_world(db, 0)
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "怎么退货")
    ctx, socket = _open(client, visitor["socket_token"])
    try:
        _send(socket, conv["id"], "sock-turn", "退款多久到账")
        # In immediate mode the turn runs right after the commit, before the ack is sent: the bot's message comes
        # first. A ping after the ack bounds the wait (its pong comes after anything already on the way).
        ack: dict[str, Any] = {}
        reply: dict[str, Any] = {}
        pinged = False
        for _ in range(100):
            frame = socket.receive_json()
            if frame.get("type") == "ack" and frame.get("client_id") == "sock-turn":
                ack = frame
                socket.send_text(json.dumps({"type": "ping"}))
                pinged = True
            elif frame.get("type") == "message" and frame["message"]["sender_type"] == "bot":
                reply = frame["message"]
            elif frame.get("type") == "pong" and pinged:
                break
        assert ack and ack["created"] is True and reply, "the ack and the bot's reply on the socket"
        assert reply["client_id"] == f"bot:{ack['message']['id']}"
    finally:
        ctx.__exit__(None, None, None)
    with db.tenant_read(world.tenant_id) as s:
        job = s.scalar(select(Job).where(Job.kind == "bot.turn", Job.key == ack["message"]["id"]))
    assert job is not None and job.state == JobState.DONE and job.attempts == 1
    assert bot_replies(db, world, [uuid.UUID(ack["message"]["id"])]) == {uuid.UUID(ack["message"]["id"]): 1}


def test_only_what_the_customer_sent_queues_a_turn_in_its_transaction(own_db: Database) -> None:
    """Whichever entry point stores a customer's text in a conversation the assistant holds, ``receive_messages``
    queues its turn in the same transaction (the intake policy decides, not the entry point); a message staff or
    an integration relayed for the customer gets none (they handle the conversation themselves)."""
    world, [held] = bot_world(own_db, 1)
    system = system_actor(world.tenant_id)
    with own_db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get(Conversation, held)
        assert conversation is not None
        relayed = conversation_actions.relay_customer_message(s, system, conversation, "代客户转述：怎么退货")
    [typed] = send(own_db, world, [held])
    keys = [job.key for job in jobs_of(own_db, world.tenant_id)]
    assert keys == [str(typed)], "one turn, for the customer's own message only"
    assert relayed.created and not any(key == relayed.message["id"] for key in keys)
