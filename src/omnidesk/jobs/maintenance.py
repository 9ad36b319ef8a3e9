"""Periodic maintenance: purge what has expired. Idempotent, safe to run from many processes at once."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import delete, or_

from omnidesk.accounts.models import StaffSession
from omnidesk.compliance.models import IdempotentResponse
from omnidesk.core.db import Database, utcnow

log = logging.getLogger("omnidesk.jobs")

IDEMPOTENCY_RETENTION = timedelta(hours=24)


def purge_expired(db: Database) -> dict[str, int]:
    now = utcnow()
    with db.platform_transaction() as s:
        keys = s.execute(  # type: ignore[attr-defined]
            delete(IdempotentResponse).where(IdempotentResponse.created_at < now - IDEMPOTENCY_RETENTION)
        ).rowcount
        sessions = s.execute(  # type: ignore[attr-defined]
            delete(StaffSession).where(
                or_(StaffSession.expires_at < now, StaffSession.revoked_at < now - timedelta(days=1))
            )
        ).rowcount
    return {"idempotent_responses": keys or 0, "staff_sessions": sessions or 0}


def run_forever(db: Database, stop: threading.Event, interval_seconds: float = 300.0) -> None:
    """The maintenance loop of ``omnidesk worker`` (and of the embedded server's background thread)."""
    while not stop.is_set():
        try:
            removed = purge_expired(db)
            if any(removed.values()):
                log.info("purged expired rows", extra=removed)
        except Exception:  # keep the loop alive; the next tick retries
            log.exception("maintenance tick failed")
        stop.wait(interval_seconds)


def start_in_background(db: Database, interval_seconds: float = 300.0) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(db, stop, interval_seconds), name="maintenance", daemon=True)
    thread.start()
    return stop
