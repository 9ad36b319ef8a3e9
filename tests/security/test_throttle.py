"""One test body for both log-in throttle backends: free failures, then a delay that doubles up to its cap, shared
by every process (Redis) and cleared by a success."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from omnidesk.security.throttle import LoginThrottle, MemoryLoginThrottle, Policy, RedisLoginThrottle
from tests.conftest import require_service

POLICY = Policy(free_failures=3, first_delay_seconds=10, max_delay_seconds=60)


@pytest.fixture(params=["memory", "redis"])
def throttles(request: pytest.FixtureRequest) -> Iterator[tuple[LoginThrottle, LoginThrottle]]:
    """Two handles on one store, as two server processes would have."""
    if request.param == "memory":
        shared = MemoryLoginThrottle()
        yield shared, shared
    else:
        url = require_service("OMNIDESK_TEST_REDIS_URL", "Redis")
        yield RedisLoginThrottle(url), RedisLoginThrottle(url)


def test_delay_starts_after_free_failures_and_doubles_to_the_cap(
    throttles: tuple[LoginThrottle, LoginThrottle],
) -> None:
    one, other = throttles
    key = f"acme:{uuid.uuid4().hex}@example.com"
    assert [one.failed(key, POLICY) for _ in range(2)] == [0, 0]
    assert other.wait_seconds(key) == 0
    assert [one.failed(key, POLICY) for _ in range(4)] == [10, 20, 40, 60]
    assert 55 <= other.wait_seconds(key) <= 60  # the other process sees the same delay
    assert one.wait_seconds(f"acme:someone-else-{uuid.uuid4().hex}") == 0
    other.succeeded(key)
    assert one.wait_seconds(key) == 0 and one.failed(key, POLICY) == 0
