"""Fault test: `kill -9` an `omnidesk worker` while it is in the middle of webhook deliveries (a request sent, the
receiver not yet answered). The other worker takes the dead one's jobs over when their lease ends: every webhook
is delivered at least once, a redelivery carries the same delivery id and body, nothing is lost. The surviving
worker's own /metrics (``--metrics-port``) counts what it delivered. On huey's SQLite queue (and Redis with
OMNIDESK_TEST_REDIS_URL). Bounded: about 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.events.bus import MemoryBus
from omnidesk.jobs.models import Job, JobState
from omnidesk.webhooks.models import DeliveryState, WebhookDelivery
from tests.conftest import require_service
from tests.factories import make_world
from tests.faults.cluster import Receiver, customer_messages, process_env, start_worker, stop, subscribe, wait_for
from tests.servers import free_port


@pytest.fixture
def own_db(database_url: str) -> Iterator[Database]:
    """Changes are committed here without a relay of this process: only the worker processes send and run jobs."""
    database = Database(database_url, bus=MemoryBus())
    yield database
    database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(delay=0.2).start()
    yield server
    server.stop()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("transport", ["sqlite", "redis"])
def test_killing_a_worker_mid_delivery_loses_no_webhook_and_redelivers_with_the_same_id(
    own_db: Database, settings: Settings, receiver: Receiver, tmp_path: Path, transport: str
) -> None:
    extra = {"OMNIDESK_OUTBOUND_ALLOW": f"127.0.0.1:{receiver.port}"}
    if transport == "redis":
        extra["OMNIDESK_REDIS_URL"] = require_service("OMNIDESK_TEST_REDIS_URL", "Redis")
        extra["OMNIDESK_REDIS_PREFIX"] = f"omnidesk-fault-{os.getpid()}-{free_port()}"
    env = process_env(settings, tmp_path, **extra)
    world = make_world(own_db)
    subscribe(own_db, settings, world.tenant_id, receiver.url, ["message.created"])
    customer_messages(own_db, world, 40)  # 40 deliveries, queued with the messages
    log = tmp_path / "workers.log"
    metrics_port = free_port()

    def deliveries() -> dict[str, str]:
        with own_db.tenant_read(world.tenant_id) as s:
            return {str(i): state for i, state in s.execute(select(WebhookDelivery.id, WebhookDelivery.state))}

    def in_flight_on(worker: subprocess.Popen[bytes]) -> set[str]:
        with own_db.tenant_read(world.tenant_id) as s:
            running = s.scalars(
                select(Job.payload).where(
                    Job.kind == "webhooks.deliver", Job.state == JobState.RUNNING,
                    Job.locked_by.contains(f":{worker.pid}:"),
                )
            ).all()  # fmt: skip
        with receiver.lock:
            return {p["delivery_id"] for p in running} & receiver.in_flight

    doomed = start_worker(env, log)
    survivor = start_worker(env, log, "--metrics-port", str(metrics_port))
    killed_mid_request: set[str] = set()
    try:
        wait_for(lambda: bool(in_flight_on(doomed)), 120, "a delivery in flight from the first worker", [log])
        killed_mid_request = in_flight_on(doomed)
        os.kill(doomed.pid, signal.SIGKILL)  # kill -9: no shutdown, its leases are not given back
        doomed.wait(10)
        assert killed_mid_request, "killed while its request was at the receiver"
        assert set(deliveries().values()) != {DeliveryState.DELIVERED}, "killed in the middle of the deliveries"
        wait_for(
            lambda: len(deliveries()) == 40 and set(deliveries().values()) == {DeliveryState.DELIVERED},
            30, "every delivery delivered", [log],
        )  # fmt: skip
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    finally:
        stop(doomed)
        stop(survivor)
    seen = receiver.seen()
    stored = deliveries()
    assert set(seen) == set(stored), "every delivery reached the receiver, and nothing else did"
    assert all(n >= 1 for n in seen.values())
    for delivery_id in killed_mid_request:
        assert seen[delivery_id] >= 2, "the request the dead worker never saw answered was sent again"
    assert all(len(bodies) == 1 for bodies in receiver.bodies.values()), "a redelivery has the same id and body"
    assert 'omnidesk_jobs_runs_total{kind="webhooks.deliver"}' in metrics, "the worker's own /metrics"
    assert (
        "omnidesk_jobs_queued" in metrics
        or "omnidesk_jobs_running" in metrics
        or "# HELP omnidesk_jobs_queued" in metrics
    )
