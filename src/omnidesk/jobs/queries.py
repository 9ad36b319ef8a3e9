"""Reads of the job table: a tenant's jobs for the admin page, and the queue's figures for /metrics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import NotFound
from omnidesk.jobs.models import Job, JobState
from omnidesk.security.permissions import Perm

LISTED = (JobState.DEAD, JobState.QUEUED, JobState.RUNNING, JobState.DONE, JobState.DISCARDED)


def list_jobs(session: Session, actor: Actor, state: str = JobState.DEAD, limit: int = 100) -> list[Job]:
    """The tenant's jobs in ``state``, newest first (the tenant scope is the session's)."""
    actor.require(Perm.TENANT_SETTINGS)
    order = Job.finished_at.desc() if state in (JobState.DEAD, JobState.DONE, JobState.DISCARDED) else Job.created_at
    return list(session.scalars(select(Job).where(Job.state == state).order_by(order, Job.id).limit(limit)))


def get_job(session: Session, actor: Actor, job_id: uuid.UUID) -> Job:
    actor.require(Perm.TENANT_SETTINGS)
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("no such job")
    return job


def queue_figures(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per kind and state (queued, running, dead): how many, and the age of the oldest. One grouped read."""
    now = now or utcnow()
    with db.platform_read() as s:
        rows = s.execute(
            select(Job.kind, Job.state, func.count(), func.min(Job.created_at))
            .where(Job.state.in_((JobState.QUEUED, JobState.RUNNING, JobState.DEAD)))
            .group_by(Job.kind, Job.state)
        ).all()
    figures = []
    for kind, state, count, oldest in rows:
        if oldest is not None and oldest.tzinfo is None:  # SQLite's MIN() gives the stored text back, zone-less
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        figures.append({"kind": kind, "state": state, "count": count, "oldest_age": age})
    return figures
