"""The per-tenant knowledge version: bumped with every change to what is published, read cheaply by every cache.

Caches in any process compare the counter (one primary-key read) instead of listening for events, so a change
reaches every web and worker process on its next request, with no restart and no shared memory. Time alone also
changes what is published (an effective-from date arrives, a promotion expires): ``valid_until`` records the next
such moment, and :func:`expire_due` (run by the maintenance loop) bumps the counter once it has passed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnidesk.core.db import Database, utcnow
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import KnowledgeChanged
from omnidesk.knowledge.models import KbArticle, KbState
from omnidesk.knowledge.states import ArticleStatus


@dataclass(frozen=True)
class KnowledgeStamp:
    """What a cache keys on: fresh while ``version`` is unchanged and ``now < valid_until`` (when set)."""

    version: int
    valid_until: datetime | None

    def fresh(self, version: int, now: datetime) -> bool:
        return version == self.version and (self.valid_until is None or now < self.valid_until)


def read_stamp(session: Session, now: datetime | None = None) -> KnowledgeStamp:
    """The tenant's stamp (version 0 before anything was ever published).

    If the stored boundary has already passed (the maintenance tick has not bumped the version yet), the next
    boundary is computed on the spot, so a cache that stores this stamp rebuilds once, not on every read.
    """
    row = session.execute(select(KbState.version, KbState.valid_until)).first()
    if row is None:
        return KnowledgeStamp(0, None)
    version, valid_until = int(row[0]), row[1]
    now = now or utcnow()
    if valid_until is not None and valid_until <= now:
        valid_until = next_boundary(session, now)
    return KnowledgeStamp(version, valid_until)


def next_boundary(session: Session, now: datetime) -> datetime | None:
    """The earliest future effective-from or expires-at among published entries of the session's tenant."""
    published = KbArticle.status == ArticleStatus.PUBLISHED.value
    starts = session.scalar(select(func.min(KbArticle.effective_from)).where(published, KbArticle.effective_from > now))
    ends = session.scalar(select(func.min(KbArticle.expires_at)).where(published, KbArticle.expires_at > now))
    found = [t for t in (starts, ends) if t is not None]
    return min(found) if found else None


def bump(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    """Increase the counter in the caller's transaction and announce it after commit; returns the new version.

    The UPDATE takes the row lock, so concurrent publishers serialise and each gets its own number.
    """
    now = utcnow()
    session.flush()
    boundary = next_boundary(session, now)
    version = session.execute(
        update(KbState)
        .where(KbState.tenant_id == tenant_id)
        .values(version=KbState.version + 1, valid_until=boundary, updated_at=now)
        .returning(KbState.version)
        .execution_options(synchronize_session=False)
    ).scalar()
    if version is None:
        try:
            with session.begin_nested():
                session.add(KbState(tenant_id=tenant_id, version=1, valid_until=boundary, updated_at=now))
            version = 1
        except IntegrityError:  # another transaction created it first
            return bump(session, tenant_id, reason)
    publish_on_commit(session, KnowledgeChanged(tenant_id=tenant_id, version=int(version), reason=reason))
    return int(version)


def expire_due(db: Database) -> int:
    """Bump every tenant whose published set changed with time since its last bump; returns how many."""
    now = utcnow()
    with db.platform_transaction() as s:
        due = list(s.scalars(select(KbState.tenant_id).where(KbState.valid_until <= now)))
    for tenant_id in due:
        with db.tenant_transaction(tenant_id) as s:
            bump(s, tenant_id, "schedule")
    return len(due)
