"""Search over a tenant's live knowledge through a per-process index cache that follows the knowledge version.

Each process keeps at most ``MAX_TENANTS`` indexes (least recently used evicted). Before answering, it reads the
tenant's knowledge version (one primary-key row); if that moved, or the index's own time boundary (the next
effective-from / expires-at among the entries it holds) has passed, it rebuilds the index from the database. So a
publish in any process is searched by every process on its next request, and an expired promotion vanishes from
search at the minute it expires, with no event delivery to rely on.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.core.db import utcnow
from omnidesk.knowledge import render
from omnidesk.knowledge.index import IndexDoc, SearchIndex
from omnidesk.knowledge.models import KbArticle
from omnidesk.knowledge.queries import live_clause
from omnidesk.knowledge.state import KnowledgeStamp, next_boundary, read_stamp

MAX_TENANTS = 256


@dataclass
class _Entry:
    stamp: KnowledgeStamp
    index: SearchIndex
    bodies: dict[uuid.UUID, str]
    # Reused by the next build: documents by (id, version, updated_at), and their term counts.
    docs: dict[tuple[uuid.UUID, int, datetime], IndexDoc] = field(default_factory=dict)
    counted: dict[IndexDoc, dict[str, int]] = field(default_factory=dict)


class IndexCache:
    def __init__(self, max_tenants: int = MAX_TENANTS) -> None:
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._build_locks: dict[uuid.UUID, threading.Lock] = {}
        self._max = max_tenants
        self.builds = 0

    def get(
        self, session: Session, tenant_id: uuid.UUID, now: datetime | None = None
    ) -> tuple[SearchIndex, dict[uuid.UUID, str]]:
        """The tenant's index of live entries (all visibilities; callers filter) and their Markdown bodies."""
        now = now or utcnow()
        version = read_stamp(session).version
        entry = self._lookup(tenant_id, version, now)
        if entry is not None:
            return entry.index, entry.bodies
        with self._lock:
            build_lock = self._build_locks.setdefault(tenant_id, threading.Lock())
            previous = self._entries.get(tenant_id)
        # One build per tenant at a time. While it runs, other requests keep answering from the previous index
        # (seconds stale at most) instead of queueing behind it; only a tenant's very first build makes them wait.
        if not build_lock.acquire(blocking=previous is None):
            assert previous is not None
            return previous.index, previous.bodies
        try:
            entry = self._lookup(tenant_id, version, now)
            if entry is None:
                entry = _build(session, version, now, previous)
                self.builds += 1
                with self._lock:
                    self._entries[tenant_id] = entry
                    self._entries.move_to_end(tenant_id)
                    while len(self._entries) > self._max:
                        self._entries.popitem(last=False)
        finally:
            build_lock.release()
        return entry.index, entry.bodies

    def _lookup(self, tenant_id: uuid.UUID, version: int, now: datetime) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is None or not entry.stamp.fresh(version, now):
                return None
            self._entries.move_to_end(tenant_id)
            return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _build(session: Session, version: int, now: datetime, previous: _Entry | None) -> _Entry:
    """Index the live entries, re-rendering and re-tokenising only those changed since ``previous``."""
    articles = list(session.scalars(select(KbArticle).where(live_clause(now))))
    old_docs = previous.docs if previous else {}
    old_counts = previous.counted if previous else {}
    docs: dict[tuple[uuid.UUID, int, datetime], IndexDoc] = {}
    for a in articles:
        key = (a.id, a.current_version, a.updated_at)
        docs[key] = old_docs.get(key) or doc_of(a)
    counted = {d: old_counts[d] for d in docs.values() if d in old_counts}
    return _Entry(
        stamp=KnowledgeStamp(version, next_boundary(session, now)),
        index=SearchIndex.build(docs.values(), counted),
        bodies={a.id: a.body for a in articles},
        docs=docs,
        counted=counted,
    )


def doc_of(article: KbArticle) -> IndexDoc:
    return IndexDoc(
        id=article.id,
        title=article.title,
        variants=tuple(article.variants or ()),
        tags=tuple(article.tags or ()),
        text=(article.summary + " " if article.summary else "") + render.to_text(article.body),
        language=article.language,
        category_id=article.category_id,
        visibility=article.visibility,
        team_ids=frozenset(article.team_ids or ()),
        kind=article.kind,
        starts=article.effective_from,
        ends=article.expires_at,
    )


CACHE = IndexCache()
"""The process-wide cache; tests may ``clear()`` it."""
