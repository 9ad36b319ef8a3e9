"""The job outbox: follow-up work written in the transaction whose commit it follows.

A row in ``jobs`` is the durable truth about one follow-up (a bot turn, a training run, an import): the queue
(huey) only carries "run job <id>" messages and may lose them; the relay sends again whatever is still owed.
``job_schedule`` holds the next run of each periodic task, claimed by one process per tick.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class JobState:
    QUEUED = "queued"  # waiting to run (``run_after`` says from when; a retry waits for its back-off)
    RUNNING = "running"  # claimed by a worker, who holds the lease until ``lease_until`` and renews it
    DONE = "done"
    DEAD = "dead"  # failed ``max_attempts`` times: an admin retries or discards it
    DISCARDED = "discarded"


class Job(TenantOwned, Base):
    """One follow-up job. ``(tenant, kind, key)`` is unique: enqueueing the same key twice queues it once."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "key"),
        # The relay's and the metrics' scan: what is owed, oldest first.
        Index("ix_jobs_state_run_after", "state", "run_after"),
        # The claim's check for an earlier or running job of the same serial.
        Index("ix_jobs_tenant_serial", "tenant_id", "serial", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Jobs of one tenant with the same serial (e.g. ``conversation:<id>``) run one at a time, in ``serial_seq``
    # order: a worker claims one only while no other of its serial is running and none with a lower seq is queued.
    serial: Mapped[str | None] = mapped_column(String(200), default=None)
    serial_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class JobSchedule(Base):
    """When each periodic task (SLA ticks, maintenance, routing…) runs next; platform-wide, not per tenant."""

    __tablename__ = "job_schedule"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_started_at: Mapped[datetime | None] = mapped_column(default=None)
