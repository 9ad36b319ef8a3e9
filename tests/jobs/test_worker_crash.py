"""Fault test: `kill -9` an `omnidesk worker` while it runs a bot turn; the other worker takes over. Every
customer message gets exactly one bot reply and every job ends done: nothing lost, nothing doubled. On huey's
SQLite queue and on Redis (OMNIDESK_TEST_REDIS_URL). Bounded: about 15 s per run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.events.bus import MemoryBus
from omnidesk.jobs.models import Job, JobState
from tests.conftest import require_service
from tests.jobs.botload import bot_replies, bot_world, send

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def own_db(database_url: str) -> Iterator[Database]:
    """Messages are stored here without a relay of this process: only the worker processes run the turns."""
    database = Database(database_url, bus=MemoryBus())
    yield database
    database.dispose()


def start_worker(settings: Settings, data_dir: Path, redis_url: str | None, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "OMNIDESK_ENVIRONMENT": "test",
        "OMNIDESK_DATABASE_URL": settings.effective_database_url,
        "OMNIDESK_DATA_DIR": str(data_dir),
        "OMNIDESK_SECRET_KEY": settings.effective_secret_key,
        "OMNIDESK_BOT_ENCODER": "none",
        "OMNIDESK_JOB_LEASE_SECONDS": "1",
        "OMNIDESK_JOB_REDELIVER_SECONDS": "3",
        "OMNIDESK_JOB_BATCH_SIZE": "5",  # turns in small batches: both workers get some, one dies mid-way
        "OMNIDESK_BOT_TURN_MAX_LAG_SECONDS": "600",
        "OMNIDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("OMNIDESK_REDIS_URL", None)
    if redis_url:
        env["OMNIDESK_REDIS_URL"] = redis_url
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "omnidesk.cli", "worker", "--threads", "2"], env=env, stdout=out, stderr=out
        )


def wait_for(check: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {seconds} s; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("transport", ["sqlite", "redis"])
def test_killing_a_worker_mid_turns_loses_nothing_and_answers_each_message_once(
    own_db: Database, settings: Settings, tmp_path: Path, transport: str
) -> None:
    redis_url = require_service("OMNIDESK_TEST_REDIS_URL", "Redis") if transport == "redis" else None
    if redis_url:  # a queue of its own on the shared Redis: the huey queue is named after the data dir's run
        import redis

        redis.Redis.from_url(redis_url).delete("huey.redis.omnidesk")
    world, conversations = bot_world(own_db, 120)  # enough turns that the kill lands with work left to take over
    messages = send(own_db, world, conversations) + send(own_db, world, conversations, "退款多久到账")
    log = tmp_path / "workers.log"

    def answered() -> int:
        return sum(1 for n in bot_replies(own_db, world, messages).values() if n)

    def running_on(worker: subprocess.Popen[bytes]) -> int:
        with own_db.tenant_read(world.tenant_id) as s:
            return len(
                s.scalars(
                    select(Job.id).where(Job.state == JobState.RUNNING, Job.locked_by.contains(f":{worker.pid}:"))
                ).all()
            )

    # Two workers, as in a cluster; the first is killed while it holds a turn (its lease is not given back).
    doomed = start_worker(settings, tmp_path, redis_url, log)
    survivor = start_worker(settings, tmp_path, redis_url, log)
    try:
        wait_for(lambda: answered() >= 5 and running_on(doomed) > 0, 150, "a turn running on the first worker", log)
        os.kill(doomed.pid, signal.SIGKILL)  # kill -9: no shutdown, no clean-up
        doomed.wait(10)
        # Turns batch quickly: the kill must leave work behind, turns the dead worker still held (their leases not
        # given back) or messages not yet answered, for the survivor to take over.
        assert running_on(doomed) > 0 or answered() < len(messages), "killed in the middle of the turns"
        wait_for(lambda: answered() == len(messages), 60, "every message answered", log)

        def settled() -> bool:
            with own_db.tenant_read(world.tenant_id) as s:
                states = set(s.scalars(select(Job.state).where(Job.kind == "bot.turn")))
            return states == {JobState.DONE}

        wait_for(settled, 30, "every job done", log)
    finally:
        for worker in (doomed, survivor):
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()
    assert bot_replies(own_db, world, messages) == dict.fromkeys(messages, 1), "exactly one reply per message"
