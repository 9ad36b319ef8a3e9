"""The job queue: enqueue in the caller's transaction, at-least-once delivery, retries, dead letters, periodic
ticks claimed once, leases taken over. Runs on huey's SQLite queue (and on Redis with OMNIDESK_TEST_REDIS_URL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from omnidesk.core.db import Database, utcnow
from omnidesk.core.settings import Settings
from omnidesk.events.bus import MemoryBus
from omnidesk.jobs import queue as queue_module
from omnidesk.jobs import registry
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job, JobSchedule, JobState
from omnidesk.jobs.outbox import enqueue, enqueue_many
from omnidesk.jobs.queue import JobQueue, make_huey
from tests.conftest import require_service
from tests.factories import World
from tests.jobs.kinds import RAN


def wait_for(check: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def own_db(database_url: str) -> Iterator[Database]:
    """A Database of its own (the shared one is wired to the test app's immediate queue)."""
    database = Database(database_url, bus=MemoryBus())
    yield database
    database.dispose()


def make_queue(db: Database, settings: Settings, tmp_path: Path, backend: str, **kw: Any) -> JobQueue:
    name = f"t{uuid.uuid4().hex[:10]}"
    if backend == "redis":
        url = require_service("OMNIDESK_TEST_REDIS_URL", "Redis")
        conf = settings.model_copy(update={"redis_url": url, "jobs_immediate": False})
    else:
        conf = settings.model_copy(update={"redis_url": None, "data_dir": tmp_path, "jobs_immediate": False})
    return JobQueue(JobContext(db, conf), huey=make_huey(conf, name=name), **kw)


def states(db: Database, tenant_id: uuid.UUID, kind: str) -> list[str]:
    with db.tenant_read(tenant_id) as s:
        return list(s.scalars(select(Job.state).where(Job.kind == kind)))


def test_a_job_exists_only_if_its_transaction_commits_and_once_per_key(own_db: Database, world: World) -> None:
    with pytest.raises(RuntimeError), own_db.tenant_transaction(world.tenant_id) as s:
        enqueue(s, "test.record", {"bucket": "x", "n": 0}, key="rolled-back")
        raise RuntimeError("the action failed")
    with own_db.tenant_transaction(world.tenant_id) as s:
        first = enqueue(s, "test.record", {"bucket": "x", "n": 1}, key="k1")
        again = enqueue(s, "test.record", {"bucket": "x", "n": 2}, key="k1")
    with own_db.tenant_transaction(world.tenant_id) as s:
        later = enqueue(s, "test.record", {"bucket": "x", "n": 3}, key="k1")
    assert first is not None and again is None and later is None
    with own_db.tenant_read(world.tenant_id) as s:
        keys = list(s.scalars(select(Job.key).where(Job.kind == "test.record")))
    assert keys == ["k1"]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_committed_jobs_run_once_each_on_a_small_pool(
    own_db: Database, settings: Settings, world: World, tmp_path: Path, backend: str
) -> None:
    bucket = uuid.uuid4().hex
    queue = make_queue(own_db, settings, tmp_path, backend, workers=2)
    queue.start(consume=True)
    try:
        with own_db.tenant_transaction(world.tenant_id) as s:
            enqueue_many(s, "test.record", [(f"{bucket}:{n}", {"bucket": bucket, "n": n}) for n in range(40)])
        wait_for(lambda: len(RAN.get(bucket, [])) == 40)
        wait_for(lambda: set(states(own_db, world.tenant_id, "test.record")) == {JobState.DONE})
    finally:
        queue.stop()
    assert sorted(RAN[bucket]) == list(range(40)), "every job ran exactly once"


def test_a_failing_job_is_retried_with_back_off_then_kept_as_a_dead_letter(
    own_db: Database, settings: Settings, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_module, "backoff", lambda attempts: timedelta(seconds=0.2 * attempts))
    bucket = uuid.uuid4().hex
    queue = make_queue(own_db, settings, tmp_path, "sqlite")
    queue.start(consume=True)
    try:
        with own_db.tenant_transaction(world.tenant_id) as s:
            enqueue(s, "test.fail", {"bucket": bucket}, key=bucket, max_attempts=3)
        wait_for(lambda: states(own_db, world.tenant_id, "test.fail") == [JobState.DEAD])
    finally:
        queue.stop()
    assert RAN[bucket] == ["try", "try", "try"]
    with own_db.tenant_read(world.tenant_id) as s:
        job = s.scalars(select(Job).where(Job.key == bucket)).one()
    assert job.attempts == 3 and "the outside system said no" in job.last_error
    assert job.started_at is not None and job.finished_at is not None


def test_a_job_whose_worker_died_is_taken_over_when_its_lease_ends(
    own_db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    bucket = uuid.uuid4().hex
    with own_db.tenant_transaction(world.tenant_id) as s:
        job_id = enqueue(s, "test.record", {"bucket": bucket, "n": 1}, key=bucket)
    # Another worker claimed it and died: its lease runs out in a moment and nobody renews it.
    with own_db.platform_transaction() as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(state=JobState.RUNNING, attempts=1, locked_by="dead-host:1:x", dispatched_at=utcnow(),
                    lease_until=utcnow() + timedelta(seconds=0.5))
        )  # fmt: skip
    queue = make_queue(own_db, settings, tmp_path, "sqlite")
    queue.start(consume=True)
    try:
        wait_for(lambda: states(own_db, world.tenant_id, "test.record") == [JobState.DONE] and bucket in RAN)
    finally:
        queue.stop()
    assert RAN[bucket] == [1]


def test_a_long_job_keeps_its_lease_while_its_worker_lives(
    own_db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    bucket = uuid.uuid4().hex
    first = make_queue(own_db, settings, tmp_path, "sqlite", lease=timedelta(seconds=0.6))
    second = make_queue(own_db, settings, tmp_path, "sqlite", lease=timedelta(seconds=0.6))
    first.start(consume=True)
    second.start(consume=True)
    try:
        with own_db.tenant_transaction(world.tenant_id) as s:
            enqueue(s, "test.record", {"bucket": bucket, "n": 1, "sleep": 2.5}, key=bucket)
        wait_for(lambda: states(own_db, world.tenant_id, "test.record") == [JobState.DONE])
    finally:
        first.stop()
        second.stop()
    assert RAN[bucket] == [1], "the heartbeat kept the other worker from running it a second time"


def test_a_periodic_task_runs_once_per_tick_across_processes(
    own_db: Database, settings: Settings, tmp_path: Path
) -> None:
    calls: list[int] = []
    registry.periodic("test.tick", timedelta(hours=1))(lambda ctx: calls.append(1))
    try:
        with own_db.platform_transaction() as s:
            s.execute(update(JobSchedule).where(JobSchedule.name == "test.tick").values(next_run_at=utcnow()))
        a = make_queue(own_db, settings, tmp_path, "sqlite")
        b = make_queue(own_db, settings, tmp_path, "sqlite")
        claimed = a.due_ticks() + b.due_ticks() + a.due_ticks()
        assert claimed.count("test.tick") <= 1
        with own_db.platform_read() as s:
            next_run = s.scalar(select(JobSchedule.next_run_at).where(JobSchedule.name == "test.tick"))
        assert next_run is not None and next_run > utcnow() + timedelta(minutes=50)
    finally:
        registry.PERIODIC.pop("test.tick", None)


def test_immediate_mode_runs_the_job_right_after_the_commit(own_db: Database, settings: Settings, world: World) -> None:
    bucket = uuid.uuid4().hex
    queue = JobQueue(JobContext(own_db, settings), immediate=True)
    queue.attach()
    with own_db.tenant_transaction(world.tenant_id) as s:
        enqueue(s, "test.record", {"bucket": bucket, "n": 7}, key=bucket)
        assert bucket not in RAN, "nothing runs before the commit"
    assert RAN[bucket] == [7]
    assert states(own_db, world.tenant_id, "test.record").count(JobState.DONE) >= 1


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_job_the_transport_lost_is_sent_again(
    own_db: Database, settings: Settings, world: World, tmp_path: Path, backend: str
) -> None:
    """Sent to the queue, then the queue lost it (Redis restarted without persistence, the queue file deleted):
    the row still says queued, so the sweep sends it again after the redelivery delay."""
    bucket = uuid.uuid4().hex
    with own_db.tenant_transaction(world.tenant_id) as s:
        job_id = enqueue(s, "test.record", {"bucket": bucket, "n": 1}, key=bucket)
    with own_db.platform_transaction() as s:  # marked sent; the message itself never reaches the new queue
        s.execute(update(Job).where(Job.id == job_id).values(dispatched_at=utcnow()))
    queue = make_queue(own_db, settings, tmp_path, backend, redeliver=timedelta(seconds=1))
    queue.start(consume=True)
    try:
        wait_for(lambda: states(own_db, world.tenant_id, "test.record") == [JobState.DONE])
    finally:
        queue.stop()
    assert RAN[bucket] == [1]


def test_a_send_the_transport_refused_is_marked_unsent_so_the_sweep_sends_it_within_seconds(
    own_db: Database, settings: Settings, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = uuid.uuid4().hex
    with own_db.tenant_transaction(world.tenant_id) as s:
        job_id = enqueue(s, "test.record", {"bucket": bucket, "n": 1}, key=bucket)
    queue = make_queue(own_db, settings, tmp_path, "sqlite")

    def refuse(*args: Any, **kw: Any) -> None:
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(queue.huey, "enqueue", refuse)
    queue.wake([job_id])  # not started: no relay thread, so dispatch by hand
    queue._fresh.append(job_id)
    with pytest.raises(ConnectionError):
        queue.dispatch_fresh()
    with own_db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(Job.dispatched_at).where(Job.id == job_id)) is None, "not left as sent"
    monkeypatch.undo()
    assert queue.sweep(utcnow() + timedelta(seconds=3)) == 1, "the next sweep sends it, not after the redelivery delay"


def test_a_redis_that_lost_its_messages_is_noticed_once(own_db: Database, settings: Settings, tmp_path: Path) -> None:
    queue = make_queue(own_db, settings, tmp_path, "redis")
    try:
        assert queue.transport_lost() is False
        assert queue.transport_lost() is False
        queue.huey.storage.conn.delete(
            f"huey.epoch.{queue.huey.storage.name}"
        )  # what a restart without persistence does
        assert queue.transport_lost() is True
        assert queue.transport_lost() is False
    finally:
        queue.huey.storage.conn.delete(f"huey.epoch.{queue.huey.storage.name}")
    assert make_queue(own_db, settings, tmp_path, "sqlite").transport_lost() is False
