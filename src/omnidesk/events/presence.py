"""Which staff members have a live workspace socket right now, in this process or (with Redis) in any.

A connection is live while it keeps sending heartbeats; a process killed without saying goodbye simply stops
refreshing its entries, which then age out after ``TTL_SECONDS``. Routing only offers work to live agents.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Protocol

TTL_SECONDS = 60


class PresenceStore(Protocol):
    def touch(self, tenant_id: uuid.UUID, staff_id: uuid.UUID, connection_id: str) -> None: ...

    def leave(self, tenant_id: uuid.UUID, staff_id: uuid.UUID, connection_id: str) -> None: ...

    def connected(self, tenant_id: uuid.UUID) -> frozenset[uuid.UUID]: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, dict[tuple[uuid.UUID, str], float]] = {}
        self._lock = threading.Lock()

    def touch(self, tenant_id: uuid.UUID, staff_id: uuid.UUID, connection_id: str) -> None:
        with self._lock:
            self._seen.setdefault(tenant_id, {})[(staff_id, connection_id)] = time.time()

    def leave(self, tenant_id: uuid.UUID, staff_id: uuid.UUID, connection_id: str) -> None:
        with self._lock:
            self._seen.get(tenant_id, {}).pop((staff_id, connection_id), None)

    def connected(self, tenant_id: uuid.UUID) -> frozenset[uuid.UUID]:
        cutoff = time.time() - TTL_SECONDS
        with self._lock:
            entries = dict(self._seen.get(tenant_id, {}))
        return frozenset(staff for (staff, _), seen in entries.items() if seen > cutoff)


class RedisPresence:
    """One sorted set per tenant: member ``<staff>:<connection>``, score = last heartbeat (Unix seconds)."""

    def __init__(self, url: str, prefix: str = "omnidesk") -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def _key(self, tenant_id: uuid.UUID) -> str:
        return f"{self._prefix}:presence:{tenant_id}"

    def touch(self, tenant_id: uuid.UUID, staff_id: uuid.UUID, connection_id: str) -> None:
        key = self._key(tenant_id)
        now = time.time()
        pipe = self._client.pipeline()
        pipe.zadd(key, {f"{staff_id}:{connection_id}": now})
        pipe.zremrangebyscore(key, 0, now - TTL_SECONDS)
        pipe.expire(key, TTL_SECONDS * 2)
        pipe.execute()

    def leave(self, tenant_id: uuid.UUID, staff_id: uuid.UUID, connection_id: str) -> None:
        self._client.zrem(self._key(tenant_id), f"{staff_id}:{connection_id}")

    def connected(self, tenant_id: uuid.UUID) -> frozenset[uuid.UUID]:
        members = self._client.zrangebyscore(self._key(tenant_id), time.time() - TTL_SECONDS, "+inf")
        out = set()
        for member in members:
            text = member.decode() if isinstance(member, bytes) else str(member)
            try:
                out.add(uuid.UUID(text.split(":", 1)[0]))
            except ValueError:
                continue
        return frozenset(out)


def make_presence(redis_url: str | None, prefix: str = "omnidesk") -> PresenceStore:
    return RedisPresence(redis_url, prefix) if redis_url else MemoryPresence()
