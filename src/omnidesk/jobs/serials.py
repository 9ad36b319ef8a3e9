"""Serials: jobs of one tenant with the same ``serial`` run one at a time, lowest ``serial_seq`` first (the
assistant's turns of one conversation). The claim's extra condition, its lock on PostgreSQL, and the release of the
next job when one ends; used by the runner (``jobs.queue``) and by whatever settles a job without running it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table, and_, bindparam, exists, or_, select, text, update

from omnidesk.jobs.models import Job, JobState

_T: Table = Job.__table__  # type: ignore[assignment]
SIBLING = _T.alias("sibling")
# A job with a serial waits while another of its serial runs or one with a lower seq is still queued.
ITS_TURN = or_(
    _T.c.serial.is_(None),
    ~exists().where(
        SIBLING.c.tenant_id == _T.c.tenant_id,
        SIBLING.c.serial == _T.c.serial,
        SIBLING.c.id != _T.c.id,
        or_(
            SIBLING.c.state == JobState.RUNNING,
            and_(SIBLING.c.state == JobState.QUEUED, SIBLING.c.serial_seq < _T.c.serial_seq),
        ),
    ),
)


def batch_turn(now: Any) -> Any:
    """The condition for a batch claim (``jobs.queue`` batchable kinds): jobs of one serial may be claimed together,
    since the batch handler works them in order; a job waits while another of its serial runs, or while an earlier
    one waits for its retry (it keeps its place)."""
    return or_(
        _T.c.serial.is_(None),
        ~exists().where(
            SIBLING.c.tenant_id == _T.c.tenant_id,
            SIBLING.c.serial == _T.c.serial,
            SIBLING.c.id != _T.c.id,
            or_(
                SIBLING.c.state == JobState.RUNNING,
                and_(SIBLING.c.state == JobState.QUEUED, SIBLING.c.serial_seq < _T.c.serial_seq,
                     SIBLING.c.run_after > now),
            ),
        ),
    )  # fmt: skip


# Batch claims of one kind take this lock on PostgreSQL, so a claim sees what the claim before it took (read
# committed) and two processes never take jobs of one serial at once.
BATCH_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:kind, 1))")
# PostgreSQL: two workers claiming two jobs of one serial at once would each see the other still queued (read
# committed), so a claim of a serial job first takes a transaction-scoped advisory lock on its serial; the claim's
# own statement then sees whatever the previous holder committed. SQLite writers are serialised anyway.
LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(CAST(tenant_id AS text) || ':' || serial, 0)) "
    "FROM jobs WHERE id = :jid AND serial IS NOT NULL"
)
# The next job of a serial, released (dispatched_at cleared) in the transaction that ends the one before it: the
# relay sends it at once, and if this process dies first the sweep of any process does.
_NEXT = (
    update(_T)
    .where(
        _T.c.id
        == select(SIBLING.c.id)
        .where(
            SIBLING.c.tenant_id == bindparam("of_tenant"),
            SIBLING.c.serial == bindparam("of_serial"),
            SIBLING.c.state == JobState.QUEUED,
        )
        .order_by(SIBLING.c.serial_seq)
        .limit(1)
        .scalar_subquery()
    )
    .values(dispatched_at=None)
    .returning(_T.c.id)
)


def release_next(conn: Any, tenant_id: uuid.UUID, serial: str | None) -> list[uuid.UUID]:
    """Clear the next queued job of ``serial`` for sending (its relay, or any sweep, sends it); call in the
    transaction that ends the one before it. Returns its id (or nothing)."""
    if serial is None:
        return []
    return list(conn.execute(_NEXT, {"of_tenant": tenant_id, "of_serial": serial}).scalars())
