"""What the queue can run: job kinds (one handler each) and periodic tasks. Filled in by ``jobs.handlers``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omnidesk.jobs.context import JobContext

Handler = Callable[["JobContext", uuid.UUID, dict[str, Any]], None]
"""``(context, tenant_id, payload)``; must be idempotent: a job may run again after a crash."""
BatchHandler = Callable[["JobContext", list[tuple[uuid.UUID, dict[str, Any]]]], None]
"""``(context, [(tenant_id, payload), ...])``: many jobs of one kind at once; raises if it could not do them all
(the runner then runs each with the kind's ``Handler``, which must cope with work already done)."""
Tick = Callable[["JobContext"], Any]


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Handler
    priority: int = 0  # higher runs first when the queue has a backlog
    batch: BatchHandler | None = None  # set: the relay sends these jobs in batches, run together


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta
    run: Tick
    priority: int = 10  # ahead of jobs: a backlog of bot turns must not hold up the SLA clock or routing


KINDS: dict[str, Kind] = {}
PERIODIC: dict[str, Periodic] = {}


def job(name: str, *, priority: int = 0, batch: BatchHandler | None = None) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        KINDS[name] = Kind(name, fn, priority, batch)
        return fn

    return register


def periodic(name: str, every: timedelta, *, priority: int = 10) -> Callable[[Tick], Tick]:
    def register(fn: Tick) -> Tick:
        PERIODIC[name] = Periodic(name, every, fn, priority)
        return fn

    return register
