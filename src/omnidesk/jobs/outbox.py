"""Enqueue in the caller's transaction: the transactional outbox of follow-up jobs.

``enqueue(session, kind, payload, key=...)`` inserts a ``jobs`` row in the transaction that stores what the job
follows (a customer message, an import request…), so the job exists if and only if that commit happened. The key
makes it idempotent: a second enqueue of the same ``(tenant, kind, key)`` does nothing. After the commit the ids go
to this process's relay (``Database.jobs_wake``), which sends them to the queue at once; if the process dies
first, a worker's relay finds the rows and sends them a moment later. Imports nothing but core, so every slice
may call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnidesk.core.db import JOBS_WAKE, utcnow
from omnidesk.jobs.models import Job, JobState

_NEW = "omnidesk_jobs_new"
_INSERT = {d.__name__: d.insert(Job).on_conflict_do_nothing().returning(Job.id) for d in (postgresql, sqlite)}
DEFAULT_MAX_ATTEMPTS = 5


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> uuid.UUID | None:
    """Queue one job of the session's tenant; returns its id, or None when that key was queued already."""
    ids = enqueue_many(session, kind, [(key, payload)], run_after=run_after, max_attempts=max_attempts)
    return ids[0] if ids else None


def enqueue_many(
    session: Session,
    kind: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    *,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    serials: Sequence[tuple[str, int]] | None = None,
) -> list[uuid.UUID]:
    """Queue several jobs of one kind in one statement (a batch of customer messages); returns the new ids.

    ``serials``, one ``(serial, seq)`` per item: jobs of one serial run one at a time, lowest seq first (the
    assistant's turns of one conversation, by message seq), whichever worker of the cluster claims them."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise ValueError("jobs are queued from a tenant's transaction")
    if not items:
        return []
    if serials is not None and len(serials) != len(items):
        raise ValueError("one (serial, seq) per job")
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "kind": kind,
            "key": key[:200],
            "payload": payload,
            "state": JobState.QUEUED,
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_after": run_after or now,
            "last_error": "",
            "created_at": now,
            "serial": serials[n][0] if serials else None,
            "serial_seq": serials[n][1] if serials else None,
        }
        for n, (key, payload) in enumerate(items)
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # One cached statement run for many rows (SQLAlchemy's "insertmanyvalues"): a multi-row VALUES built from the
    # rows was compiled anew on every call, the largest cost of queueing a batch of customer messages' turns.
    ids = list(session.scalars(_INSERT[dialect.__name__], rows))
    session.info.setdefault(_NEW, []).extend(ids)
    return ids


def send_after_commit(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Have the relay send these (existing) jobs right after this transaction commits (a retried dead letter)."""
    session.info.setdefault(_NEW, []).extend(ids)


@event.listens_for(Session, "after_commit")
def _wake_relay(session: Session) -> None:
    ids = session.info.pop(_NEW, None)
    wake = session.info.get(JOBS_WAKE)
    if ids and wake is not None:
        wake(ids)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_NEW, None)
