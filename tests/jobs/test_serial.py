"""Jobs of one serial never run in parallel: two workers (threads of two queues, as two processes) take the jobs
of one serial one at a time, lowest seq first, whatever order their messages arrive in; jobs of other serials run
beside them. The assistant's turns of one conversation are such a serial: two customer messages written close
together are answered in order, one turn after the other. On SQLite and on PostgreSQL (OMNIDESK_TEST_DATABASE_URL:
the claim's advisory lock)."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from omnidesk.bot import pipeline
from omnidesk.channels.base import TextPart
from omnidesk.channels.widget.adapter import inbound
from omnidesk.conversations.intake import receive_messages
from omnidesk.conversations.models import Message
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job, JobState
from omnidesk.jobs.outbox import enqueue_many
from omnidesk.jobs.queue import JobQueue
from tests.factories import World
from tests.jobs.botload import bot_replies, bot_world
from tests.jobs.kinds import SPANS
from tests.jobs.test_queue import make_queue, own_db, states, wait_for

__all__ = ["own_db"]


def test_jobs_of_one_serial_run_one_at_a_time_in_seq_order_beside_other_serials(
    own_db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    serial, other = uuid.uuid4().hex, uuid.uuid4().hex
    first = make_queue(own_db, settings, tmp_path, "sqlite", workers=2)
    second = make_queue(own_db, settings, tmp_path, "sqlite", workers=2)
    first.start(consume=True)
    second.start(consume=True)
    try:
        with own_db.tenant_transaction(world.tenant_id) as s:
            # Queued out of order, and all at once: four workers are free for them.
            order = [3, 1, 4, 2]
            enqueue_many(
                s, "test.span", [(f"{serial}:{n}", {"bucket": serial, "n": n, "sleep": 0.25}) for n in order],
                serials=[(f"s:{serial}", n) for n in order],
            )  # fmt: skip
            enqueue_many(
                s, "test.span", [(f"{other}:{n}", {"bucket": other, "n": n, "sleep": 1.5}) for n in (1, 2)],
                serials=[(f"s:{other}", 1), (f"s:{other}:b", 1)],
            )  # fmt: skip
        wait_for(lambda: len(SPANS.get(serial, [])) == 4 and len(SPANS.get(other, [])) == 2, 15)
        wait_for(lambda: set(states(own_db, world.tenant_id, "test.span")) == {JobState.DONE})
    finally:
        first.stop()
        second.stop()
    spans = sorted(SPANS[serial], key=lambda span: span[1])
    assert [n for n, _, _ in spans] == [1, 2, 3, 4], "lowest seq first"
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        assert start >= end, "the next job of the serial started only after the one before ended"
    a, b = SPANS[other]
    assert a[1] < b[2] and b[1] < a[2], "jobs of different serials ran at the same time"
    # Four jobs of 0.25 s one after the other: the hand-over from one to the next is immediate, not a sweep
    # (which would resend a refused job only after the redelivery delay, a minute).
    assert spans[-1][2] - spans[0][1] < 10


def test_two_messages_of_one_conversation_are_answered_in_order_one_turn_after_the_other(
    own_db: Database, settings: Settings, app: FastAPI, tmp_path: Path
) -> None:
    world, conversations = bot_world(own_db, 6)
    texts = ["怎么退货", "退款多久到账"]
    items = [
        inbound(world.customer.id, cid, uuid.uuid4().hex, [TextPart(text)], ip=None)
        for cid in conversations
        for text in texts
    ]
    with own_db.tenant_transaction(world.tenant_id) as s:  # one socket batch: both messages of each, close together
        receive_messages(s, system_actor(world.tenant_id), items)
    with own_db.tenant_read(world.tenant_id) as s:
        customer = {
            (m.conversation_id, m.seq): m.id
            for m in s.scalars(select(Message).where(Message.conversation_id.in_(conversations), Message.sender_type == "customer"))
        }  # fmt: skip
    messages = list(customer.values())
    conf = settings.model_copy(update={"redis_url": None, "data_dir": tmp_path, "jobs_immediate": False})
    queues = [
        JobQueue(JobContext(own_db, conf, brains=app.state.brains, assistant=app.state.assistant), workers=2)
        for _ in range(2)
    ]
    for queue in queues:
        queue.start(consume=True)
    try:
        wait_for(lambda: all(bot_replies(own_db, world, messages).values()), 30)
        wait_for(lambda: set(states(own_db, world.tenant_id, pipeline.TURN)) == {JobState.DONE})
    finally:
        for queue in queues:
            queue.stop()
    assert bot_replies(own_db, world, messages) == dict.fromkeys(messages, 1)
    with own_db.tenant_read(world.tenant_id) as s:
        turns = {uuid.UUID(j.payload["message_id"]): j for j in s.scalars(select(Job).where(Job.kind == pipeline.TURN))}
        replies = {
            m.client_id: m.seq
            for m in s.scalars(select(Message).where(Message.conversation_id.in_(conversations), Message.sender_type == "bot"))
        }  # fmt: skip
    for cid in conversations:
        first, second = sorted((seq, mid) for (c, seq), mid in customer.items() if c == cid)
        one, two = turns[first[1]], turns[second[1]]
        assert one.finished_at is not None and two.started_at is not None
        # Never in parallel: either one batch of one worker took both and worked them in order, or the second
        # started after the first one ended.
        together = one.started_at == two.started_at and one.locked_by == two.locked_by
        assert together or two.started_at >= one.finished_at, "the second turn ran beside the first"
        assert replies[pipeline.reply_client_id(first[1])] < replies[pipeline.reply_client_id(second[1])], (
            "the first message's answer comes first"
        )


@pytest.mark.parametrize("dead", [False, True])
def test_the_next_job_of_a_serial_runs_when_the_one_before_ends_however_it_ends(
    own_db: Database, settings: Settings, world: World, tmp_path: Path, dead: bool
) -> None:
    """A job that fails for good (a dead letter) does not block its serial: the next one runs."""
    bucket = uuid.uuid4().hex
    kind = "test.fail" if dead else "test.span"
    with own_db.tenant_transaction(world.tenant_id) as s:
        enqueue_many(s, kind, [(f"{bucket}:1", {"bucket": bucket, "n": 1})], serials=[(bucket, 1)], max_attempts=1)
        enqueue_many(s, "test.span", [(f"{bucket}:2", {"bucket": bucket, "n": 2})], serials=[(bucket, 2)])
    queue = make_queue(own_db, settings, tmp_path, "sqlite")
    with own_db.tenant_read(world.tenant_id) as s:
        ids = {j.serial_seq: j.id for j in s.scalars(select(Job).where(Job.serial == bucket))}
    queue.run_job(str(ids[2]))
    assert states(own_db, world.tenant_id, "test.span").count(JobState.DONE) == 0, "not before the first one"
    queue.run_job(str(ids[1]))
    with own_db.tenant_read(world.tenant_id) as s:
        released = s.scalar(select(Job.dispatched_at).where(Job.id == ids[2]))
    assert released is None, "the end of the first released the second for sending"
    queue.run_job(str(ids[2]))
    assert [n for n, _, _ in SPANS[bucket]] == ([2] if dead else [1, 2])
