"""Job kinds for the tests: one that records that it ran, one that always fails."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from omnidesk.jobs import registry
from omnidesk.jobs.context import JobContext

RAN: dict[str, list[Any]] = {}
_lock = threading.Lock()


@registry.job("test.record")
def record(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    with _lock:
        RAN.setdefault(payload["bucket"], []).append(payload["n"])
    if payload.get("sleep"):
        time.sleep(payload["sleep"])


@registry.job("test.fail")
def fail(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    with _lock:
        RAN.setdefault(payload["bucket"], []).append("try")
    raise RuntimeError("the outside system said no")


SPANS: dict[str, list[tuple[int, float, float]]] = {}


@registry.job("test.span")
def span(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """Records when it ran: (n, start, end), on the monotonic clock (one process)."""
    start = time.monotonic()
    time.sleep(payload.get("sleep", 0))
    with _lock:
        SPANS.setdefault(payload["bucket"], []).append((payload["n"], start, time.monotonic()))
