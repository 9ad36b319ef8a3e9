"""What an admin does with a dead letter: run it again, or discard it. Audited, tenant-scoped by the session."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict
from omnidesk.jobs import queries
from omnidesk.jobs.models import Job, JobState
from omnidesk.jobs.outbox import send_after_commit


def _dead(session: Session, actor: Actor, job_id: uuid.UUID) -> Job:
    job = queries.get_job(session, actor, job_id)
    if job.state != JobState.DEAD:
        raise Conflict(f"only a failed job can be retried or discarded; this one is {job.state}")
    return job


def retry(session: Session, actor: Actor, job_id: uuid.UUID) -> Job:
    """Queue a dead job again with a fresh set of attempts; it is sent to the queue when this commits."""
    job = _dead(session, actor, job_id)
    before = job.attempts
    job.state = JobState.QUEUED
    job.attempts = 0
    job.run_after = utcnow()
    job.dispatched_at = None
    job.finished_at = None
    job.lease_until = None
    job.locked_by = None
    session.flush()
    audit.record(session, actor, "job.retried", "job", job.id, {"kind": job.kind, "key": job.key, "attempts": before})
    send_after_commit(session, [job.id])
    return job


def discard(session: Session, actor: Actor, job_id: uuid.UUID) -> Job:
    job = _dead(session, actor, job_id)
    job.state = JobState.DISCARDED
    job.finished_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "job.discarded",
        "job",
        job.id,
        {"kind": job.kind, "key": job.key, "error": job.last_error[:200]},
    )
    return job
