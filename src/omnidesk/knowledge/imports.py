"""Background knowledge imports: a file above ``OMNIDESK_KNOWLEDGE_IMPORT_BACKGROUND_BYTES`` is queued as a
``KbImportJob`` and applied by a job, so a big file neither holds a request open nor the database's write lock.

The request checks what is cheap (permission, size, the archive's central directory) and queues; the job claims
the row (one process wins), parses and validates the whole file under the import limits, then applies it in
batches of :data:`BATCH` entries, one transaction each, recording progress in the same transaction. Between
batches other tenants' writes go ahead (SQLite has one writer). Bad rows found while validating stop the job
before anything is written when the import is all-or-nothing, and are reported otherwise; a row that fails while applying stops it after the batches
already written, which stay: re-importing the fixed file is safe, since unchanged entries are not written again.
The import is a job of the job queue (``knowledge.import``, enqueued with the row): a job whose worker died is
taken up again when its lease ends, from the start (batches already written are unchanged and not written again);
a tenant has at most one unfinished import.

The admin console's preview keeps the uploaded file as a job in the ``preview`` state (not unfinished: it blocks
nothing) until the person confirms it (it is then queued like any other) or :data:`PREVIEW_KEPT` has passed.
The column ``skip_errors`` holds "not all-or-nothing" (the import of the good rows, the default).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnidesk.accounts import queries as account_queries
from omnidesk.accounts.models import ApiKey, StaffUser
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor, ActorKind
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from omnidesk.jobs import outbox as jobs
from omnidesk.knowledge import archive, transfer
from omnidesk.knowledge.archive import Limits
from omnidesk.knowledge.models import KbImportJob
from omnidesk.security.permissions import Perm, Role

log = logging.getLogger("omnidesk.knowledge")

BATCH = 200
PREVIEW_KEPT = timedelta(hours=24)
MAX_ERRORS_KEPT = 1000
UNFINISHED = ("queued", "running")


def unfinished(session: Session) -> KbImportJob | None:
    return session.scalar(select(KbImportJob).where(KbImportJob.state.in_(UNFINISHED)).limit(1))


def refuse_if_busy(session: Session) -> None:
    """One import at a time per tenant: a new one waits until the running one ended."""
    job = unfinished(session)
    if job is not None:
        raise Conflict(
            f"an import is already {job.state} ({job.rows_done}/{job.rows_total} rows); wait for it to finish: "
            f"/api/v1/knowledge/imports/{job.id}"
        )


def check_cheaply(fmt: str, content: bytes, limits: Limits) -> None:
    """What a request can afford to check before queueing: the size, the archive's directory and what its members
    really inflate to (a bomb is refused in the request; parsing and DTD checks are left to the job)."""
    if len(content) > limits.max_bytes:
        raise archive.LimitExceeded(
            "max_bytes", limits.max_bytes, f"import files are limited to {limits.max_bytes} bytes"
        )
    if fmt in ("xlsx", "markdown"):
        what = "XLSX workbook" if fmt == "xlsx" else "zip of Markdown files"
        archive.inflate_all(content, limits, what=what)


def queue(
    session: Session,
    actor: Actor,
    fmt: str,
    content: bytes,
    *,
    filename: str,
    all_or_nothing: bool,
    limits: Limits,
) -> KbImportJob:
    actor.require(Perm.KNOWLEDGE_WRITE)
    check_cheaply(fmt, content, limits)
    refuse_if_busy(session)
    job = KbImportJob(
        tenant_id=actor.tenant_id,
        format=fmt,
        filename=filename[:200],
        skip_errors=not all_or_nothing,
        content=content,
        size=len(content),
        actor_kind=actor.kind.value,
        actor_id=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # a concurrent request queued one first (the unique tenant/active pair)
        raise Conflict("an import is already queued; wait for it to finish") from None
    audit.record(session, actor, "knowledge.import_queued", "kb_import_job", job.id,
                 {"format": fmt, "filename": job.filename, "bytes": len(content)})  # fmt: skip
    # The job that applies it is queued in this same transaction: it exists exactly when the import does.
    jobs.enqueue(session, "knowledge.import", {"import_id": str(job.id)}, key=str(job.id), max_attempts=3)
    return job


def save_preview(
    session: Session,
    actor: Actor,
    fmt: str,
    content: bytes,
    *,
    filename: str,
    all_or_nothing: bool,
    limits: Limits,
) -> tuple[KbImportJob, transfer.Report]:
    """Preview a file (nothing imported) and keep it, so that confirming does not need it uploaded again."""
    report = transfer.preview(session, actor, fmt, content, limits=limits)
    job = KbImportJob(
        tenant_id=actor.tenant_id,
        format=fmt,
        filename=filename[:200],
        skip_errors=not all_or_nothing,
        content=content,
        size=len(content),
        state="preview",
        active=None,
        rows_total=report.created + report.updated + report.unchanged + report.skipped,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=report.skipped,
        errors=report.errors[:MAX_ERRORS_KEPT],
        actor_kind=actor.kind.value,
        actor_id=actor.id,
    )
    session.add(job)
    session.flush()
    return job, report


def confirm(session: Session, actor: Actor, job_id: uuid.UUID) -> KbImportJob:
    """Queue a previewed import (as whoever confirms it, with their rights when it runs)."""
    actor.require(Perm.KNOWLEDGE_WRITE)
    job = session.get(KbImportJob, job_id)
    if job is None or job.state != "preview":
        raise NotFound("no such import preview (it was already imported, or has expired)")
    refuse_if_busy(session)
    job.state, job.active = "queued", 1
    job.created = job.updated = job.unchanged = job.skipped = job.rows_total = 0
    job.errors = []
    job.actor_kind, job.actor_id = actor.kind.value, actor.id
    job.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("an import is already queued; wait for it to finish") from None
    audit.record(session, actor, "knowledge.import_queued", "kb_import_job", job.id,
                 {"format": job.format, "filename": job.filename, "bytes": job.size, "previewed": True})  # fmt: skip
    jobs.enqueue(session, "knowledge.import", {"import_id": str(job.id)}, key=str(job.id), max_attempts=3)
    return job


def discard_stale_previews(db: Database) -> int:
    """Previews nobody confirmed within :data:`PREVIEW_KEPT`: their files are not kept longer."""
    stale = (KbImportJob.state == "preview") & (KbImportJob.created_at < utcnow() - PREVIEW_KEPT)
    with db.platform_read() as s:  # a read first: the task ticks often, writes are rare
        if s.scalar(select(KbImportJob.id).where(stale).limit(1)) is None:
            return 0
    with db.platform_transaction() as s:
        gone = s.execute(delete(KbImportJob).where(stale)).rowcount  # type: ignore[attr-defined]
    return int(gone or 0)


def get(session: Session, actor: Actor, job_id: uuid.UUID) -> KbImportJob:
    actor.require(Perm.KNOWLEDGE_WRITE)
    job = session.get(KbImportJob, job_id)
    if job is None:
        raise NotFound("no such import")
    return job


def recent(session: Session, actor: Actor, limit: int = 20) -> list[KbImportJob]:
    actor.require(Perm.KNOWLEDGE_WRITE)
    return list(
        session.scalars(
            select(KbImportJob)
            .where(KbImportJob.state != "preview")
            .order_by(KbImportJob.created_at.desc())
            .limit(limit)
        )
    )


# --- the job -------------------------------------------------------------------------------------------------


def _claim(db: Database, tenant_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """Start (or, after its worker died, restart) an unfinished import. The job queue runs one job at a time and
    hands a job on only when its worker stopped renewing its lease, so "running" here means that worker died."""
    now = utcnow()
    with db.tenant_transaction(tenant_id) as s:
        claimed = s.execute(
            update(KbImportJob)
            .where(KbImportJob.id == job_id, KbImportJob.state.in_(UNFINISHED))
            .values(state="running", started_at=now, updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
    return bool(claimed)


def _actor(session: Session, job: KbImportJob) -> Actor:
    """Who queued the job, with their permissions as they are now (a deactivated person's import stops)."""
    now = utcnow()
    if job.actor_kind == ActorKind.STAFF.value and job.actor_id is not None:
        user = session.get(StaffUser, job.actor_id)
        if user is None or not user.is_active:
            raise PermissionDenied("the person who started this import can no longer sign in")
        return Actor(
            tenant_id=job.tenant_id,
            kind=ActorKind.STAFF,
            id=user.id,
            role=Role(user.role),
            team_ids=account_queries.teams_of(session, user.id),
            language=user.language,
        )
    if job.actor_kind == ActorKind.API_KEY.value and job.actor_id is not None:
        key = session.get(ApiKey, job.actor_id)
        if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
            raise PermissionDenied("the API key that started this import was revoked or has expired")
        return Actor(tenant_id=job.tenant_id, kind=ActorKind.API_KEY, id=key.id, role=Role(key.role))
    if job.actor_kind == ActorKind.SYSTEM.value:
        return Actor(tenant_id=job.tenant_id, kind=ActorKind.SYSTEM, id=None, role=Role.ADMIN)
    raise PermissionDenied("this import has no one it could act for")


def _finish(db: Database, tenant_id: uuid.UUID, job_id: uuid.UUID, **values: Any) -> None:
    now = utcnow()
    with db.tenant_transaction(tenant_id) as s:
        s.execute(
            update(KbImportJob)
            .where(KbImportJob.id == job_id)
            .values(active=None, content=None, finished_at=now, updated_at=now, **values)
        )


def run(db: Database, tenant_id: uuid.UUID, job_id: uuid.UUID, limits: Limits) -> bool:
    """Claim and run one job; False when another process has it. Never raises: failures end up on the row."""
    if not _claim(db, tenant_id, job_id):
        return False
    try:
        _execute(db, tenant_id, job_id, limits)
    except DomainError as exc:
        _finish(db, tenant_id, job_id, state="failed", error=exc.detail[:1000], errors=exc.errors[:MAX_ERRORS_KEPT])
    except Exception:
        log.exception("knowledge import failed", extra={"tenant_id": str(tenant_id), "job_id": str(job_id)})
        _finish(db, tenant_id, job_id, state="failed", error="the import stopped on an internal error")
    return True


def _execute(db: Database, tenant_id: uuid.UUID, job_id: uuid.UUID, limits: Limits) -> None:
    with db.tenant_read(tenant_id) as s:
        job = s.get(KbImportJob, job_id)
        assert job is not None
        actor = _actor(s, job)
        fmt, content, skip_errors = job.format, job.content or b"", job.skip_errors
    entries, report = transfer.prepare(actor, fmt, content, all_or_nothing=not skip_errors, limits=limits)
    del content
    bad = len(report.errors)
    with db.tenant_transaction(tenant_id) as s:
        s.execute(
            update(KbImportJob)
            .where(KbImportJob.id == job_id)
            .values(rows_total=len(entries) + bad, rows_done=bad, updated_at=utcnow())
        )
    done = bad
    for start in range(0, len(entries), BATCH):
        batch = entries[start : start + BATCH]
        with db.tenant_transaction(tenant_id) as s:
            before = len(report.errors)
            transfer.apply(s, actor, batch, report)
            if len(report.errors) > before and not skip_errors:  # raising rolls this batch back
                report.skipped = len({e["row"] for e in report.errors})
                raise DomainError(
                    f"{len(report.errors)} row(s) could not be applied; the {done} rows before them were imported",
                    errors=report.errors,
                )
            done += len(batch)
            s.execute(
                update(KbImportJob)
                .where(KbImportJob.id == job_id)
                .values(
                    rows_done=done,
                    created=report.created,
                    updated=report.updated,
                    unchanged=report.unchanged,
                    updated_at=utcnow(),
                )
            )
    report.skipped = len({e["row"] for e in report.errors})
    _finish(
        db,
        tenant_id,
        job_id,
        state="done",
        rows_done=done,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=report.skipped,
        errors=report.errors[:MAX_ERRORS_KEPT],
    )
