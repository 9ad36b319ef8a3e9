"""HTTP API of the job queue for admins: list a workspace's jobs (dead letters first), retry or discard one."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from omnidesk.jobs import actions, queries
from omnidesk.jobs.schemas import JobOut
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["jobs"])

State = Literal["dead", "queued", "running", "done", "discarded"]


@router.get("/jobs")
def list_jobs(
    db: DbDep,
    actor: ActorDep,
    state: State = "dead",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobOut]:
    """This workspace's follow-up jobs in one state, newest first: by default the dead letters (jobs that failed
    every attempt), with their last error. Needs the tenant settings permission (admins)."""
    with db.tenant_read(actor.tenant_id) as s:
        return [JobOut.model_validate(j) for j in queries.list_jobs(s, actor, state, limit)]


@router.post("/jobs/{job_id}/retry")
def retry_job(job_id: uuid.UUID, db: DbDep, actor: ActorDep) -> JobOut:
    """Run a dead job again with fresh attempts (409 if it is not dead)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return JobOut.model_validate(actions.retry(s, actor, job_id))


@router.post("/jobs/{job_id}/discard")
def discard_job(job_id: uuid.UUID, db: DbDep, actor: ActorDep) -> JobOut:
    """Give up a dead job for good (409 if it is not dead); it is kept as discarded until the daily purge."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return JobOut.model_validate(actions.discard(s, actor, job_id))
