"""Fixed-window rate limits, in process or shared through Redis (same interface, same tests)."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from omnidesk.core.errors import RateLimited


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> None:
        """Count one event; raise :class:`RateLimited` if ``limit`` is exceeded within the window."""


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_seconds: int) -> None:
        now = int(time.time())
        window = now // window_seconds
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            start, count = self._counts.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._counts[key] = (start, count)
        if count > limit:
            retry = (window + 1) * window_seconds - now
            raise RateLimited("too many attempts; wait and try again", retry_after=max(retry, 1))


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "omnidesk") -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def hit(self, key: str, limit: int, window_seconds: int) -> None:
        now = int(time.time())
        window = now // window_seconds
        redis_key = f"{self._prefix}:rl:{key}:{window}"
        pipe = self._client.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_seconds + 1)
        count = int(pipe.execute()[0])
        if count > limit:
            raise RateLimited(
                "too many attempts; wait and try again",
                retry_after=max((window + 1) * window_seconds - now, 1),
            )


def make_rate_limiter(redis_url: str | None, prefix: str = "omnidesk") -> RateLimiter:
    return RedisRateLimiter(redis_url, prefix) if redis_url else MemoryRateLimiter()
