"""A worker process's own /metrics (``omnidesk worker --metrics-port``): its run counters exist only there; the
queue gauges are read from the table when scraped; with OMNIDESK_METRICS_TOKEN the scraper must send it."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.jobs import metrics
from omnidesk.jobs.outbox import enqueue
from tests.factories import World
from tests.jobs.test_queue import make_queue, own_db, states

__all__ = ["own_db"]


def test_a_worker_serves_its_own_metrics_with_the_queue_figures(
    own_db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    bucket = uuid.uuid4().hex
    with own_db.tenant_transaction(world.tenant_id) as s:
        ran = enqueue(s, "test.record", {"bucket": bucket, "n": 1}, key=f"{bucket}:1")
        waiting = enqueue(s, "test.record", {"bucket": bucket, "n": 2}, key=f"{bucket}:2")  # queued when scraped
    queue = make_queue(own_db, settings, tmp_path, "sqlite")
    queue.run_job(str(ran))
    assert "done" in states(own_db, world.tenant_id, "test.record")
    token = "m" * 24
    server = metrics.serve(own_db, "127.0.0.1", 0, token)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        refused = httpx.get(f"{base}/metrics", timeout=5)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert "omnidesk_jobs" not in refused.text
        assert httpx.get(f"{base}/other", timeout=5).status_code == 404
        scraped = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
        queue.run_job(str(waiting))  # leave nothing queued for the worker processes of later tests
    assert scraped.status_code == 200
    text = scraped.text
    assert 'omnidesk_jobs_runs_total{kind="test.record"}' in text, "this process's own counters"
    assert 'omnidesk_jobs_queued{kind="test.record"}' in text, "the queue's depth, read from the table"
    assert 'omnidesk_jobs_oldest_age_seconds{kind="test.record"}' in text
