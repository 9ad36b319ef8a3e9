"""Queue figures on /metrics, read from the job table when scraped, so every web process shows the cluster's; and
the ``omnidesk worker`` process's own /metrics (its run, failure and lag figures exist only in that process)."""

from __future__ import annotations

import hmac
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

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


def serve(db: Database, host: str, port: int, token: str | None = None) -> ThreadingHTTPServer:
    """``GET /metrics`` of a worker process on ``host:port`` (a daemon thread): the same exposition as a web
    process's (the queue gauges refreshed from the table, this process's counters and collectors). With ``token``
    the scraper sends ``Authorization: Bearer <token>`` (401 otherwise); bind it to loopback (the default) or a
    private interface only. Returns the server (``server_address`` has the port; ``shutdown()`` stops it)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found", "text/plain")
                return
            if token:
                scheme, _, given = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                    self._answer(401, b"unauthenticated", "text/plain", {"WWW-Authenticate": 'Bearer realm="metrics"'})
                    return
            refresh(db)
            self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)

        def _answer(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": kind, "Cache-Control": "no-store", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server
