"""Queue figures on /metrics, read from the job table when scraped, so every web process shows the cluster's."""

from __future__ import annotations

import logging

from prometheus_client import Gauge

from omnidesk.core.db import Database
from omnidesk.jobs.models import JobState
from omnidesk.jobs.queries import queue_figures

log = logging.getLogger("omnidesk.jobs")

QUEUED = Gauge("omnidesk_jobs_queued", "jobs waiting to run (including retries waiting for their back-off)", ["kind"])
RUNNING = Gauge("omnidesk_jobs_running", "jobs claimed by a worker", ["kind"])
OLDEST = Gauge("omnidesk_jobs_oldest_age_seconds", "age of the oldest job not yet done (queued or running)", ["kind"])
DEAD_NOW = Gauge("omnidesk_jobs_dead_letters", "dead letters waiting for an admin", ["kind"])


def refresh(db: Database) -> None:
    try:
        figures = queue_figures(db)
    except Exception:  # metrics must answer even when the database does not; the figures are then stale
        log.warning("could not read the job queue's figures", exc_info=True)
        return
    for gauge in (QUEUED, RUNNING, OLDEST, DEAD_NOW):
        gauge.clear()
    oldest: dict[str, float] = {}
    for row in figures:
        kind, state = row["kind"], row["state"]
        if state == JobState.QUEUED:
            QUEUED.labels(kind).set(row["count"])
        elif state == JobState.RUNNING:
            RUNNING.labels(kind).set(row["count"])
        else:
            DEAD_NOW.labels(kind).set(row["count"])
        if state in (JobState.QUEUED, JobState.RUNNING):
            oldest[kind] = max(oldest.get(kind, 0.0), row["oldest_age"])
    for kind, age in oldest.items():
        OLDEST.labels(kind).set(age)
