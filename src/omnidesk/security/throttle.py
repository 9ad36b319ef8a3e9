"""Progressive log-in throttling: after a few failures an account answers "wait N seconds", and N doubles.

A hard lock-out would let anyone lock anyone out by typing wrong passwords; a growing delay slows a guesser just as
well (each attempt during a delay is refused without checking the password, and makes the delay longer) while the
owner on a device that signed in before is not held back (see :mod:`omnidesk.security.devices`). The state lives
beside the rate limits (in process, or in Redis for a cluster), never in the account row, so that an unknown
account behaves exactly like a known one and nobody learns which e-mail addresses exist.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

# Failures are forgotten a day after the last one (or at the next successful sign-in).
MEMORY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Policy:
    free_failures: int  # failures allowed before the first delay
    first_delay_seconds: int
    max_delay_seconds: int

    def delay(self, failures: int) -> int:
        """The delay after ``failures`` consecutive failures: 0, then first, 2×first, 4×first, … up to the cap."""
        if failures < self.free_failures:
            return 0
        steps = min(failures - self.free_failures, 30)
        return int(min(self.first_delay_seconds * (2**steps), self.max_delay_seconds))


class LoginThrottle(Protocol):
    def wait_seconds(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now)."""

    def failed(self, key: str, policy: Policy) -> int:
        """Count a failure; return the delay it starts (0 while failures are still free)."""

    def succeeded(self, key: str) -> None: ...


class MemoryLoginThrottle:
    def __init__(self) -> None:
        self._state: dict[str, tuple[int, float, float]] = {}  # key -> (failures, blocked until, last failure)
        self._lock = threading.Lock()

    def wait_seconds(self, key: str) -> int:
        now = time.time()
        with self._lock:
            entry = self._state.get(key)
        if entry is None or entry[1] <= now:
            return 0
        return max(int(entry[1] - now + 0.999), 1)

    def failed(self, key: str, policy: Policy) -> int:
        now = time.time()
        with self._lock:
            if len(self._state) > 100_000:
                self._state = {k: v for k, v in self._state.items() if v[2] > now - MEMORY_SECONDS}
            failures, _, last = self._state.get(key, (0, 0.0, now))
            if last < now - MEMORY_SECONDS:
                failures = 0
            failures += 1
            delay = policy.delay(failures)
            self._state[key] = (failures, now + delay, now)
        return delay

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)


class RedisLoginThrottle:
    """Two keys per account: a failure counter that expires a day after the last failure, and a block marker that
    expires when the delay is over (its TTL is the Retry-After every process reports)."""

    def __init__(self, url: str, prefix: str = "omnidesk") -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def wait_seconds(self, key: str) -> int:
        ttl = int(self._client.pttl(f"{self._prefix}:lt:block:{key}"))
        return max((ttl + 999) // 1000, 1) if ttl > 0 else 0

    def failed(self, key: str, policy: Policy) -> int:
        pipe = self._client.pipeline()
        pipe.incr(f"{self._prefix}:lt:n:{key}")
        pipe.expire(f"{self._prefix}:lt:n:{key}", MEMORY_SECONDS)
        failures = int(pipe.execute()[0])
        delay = policy.delay(failures)
        if delay:
            self._client.set(f"{self._prefix}:lt:block:{key}", "1", ex=delay)
        return delay

    def succeeded(self, key: str) -> None:
        self._client.delete(f"{self._prefix}:lt:n:{key}", f"{self._prefix}:lt:block:{key}")


def make_login_throttle(redis_url: str | None, prefix: str = "omnidesk") -> LoginThrottle:
    return RedisLoginThrottle(redis_url, prefix) if redis_url else MemoryLoginThrottle()
