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
Tick = Callable[["JobContext"], Any]


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Handler
    priority: int = 0  # higher runs first when the queue has a backlog


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta
    run: Tick
    priority: int = 10  # ahead of jobs: a backlog of bot turns must not hold up the SLA clock or routing


KINDS: dict[str, Kind] = {}
PERIODIC: dict[str, Periodic] = {}


def job(name: str, *, priority: int = 0) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        KINDS[name] = Kind(name, fn, priority)
        return fn

    return register


def periodic(name: str, every: timedelta, *, priority: int = 10) -> Callable[[Tick], Tick]:
    def register(fn: Tick) -> Tick:
        PERIODIC[name] = Periodic(name, every, fn, priority)
        return fn

    return register
