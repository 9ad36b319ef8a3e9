"""One test body for every event bus backend: what is published reaches every subscriber of the channel."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.events.bus import EventBus, MemoryBus, RedisBus
from tests.conftest import REDIS_PREFIX, require_service, run_async
from tests.factories import World


@pytest.fixture(params=["memory", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    if request.param == "memory":
        instance: EventBus = MemoryBus()
    else:
        instance = RedisBus(require_service("OMNIDESK_TEST_REDIS_URL", "Redis"))
    yield instance
    instance.close()


def test_fan_out_to_every_subscriber_of_the_channel(bus: EventBus) -> None:
    async def scenario() -> tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
        async with (
            bus.subscribe("tenant:a") as first,
            bus.subscribe("tenant:a") as second,
            bus.subscribe("tenant:b") as other,
        ):
            await asyncio.sleep(0.1)  # Redis subscriptions are asynchronous
            for i in range(3):
                await asyncio.to_thread(bus.publish, "tenant:a", {"type": "message", "n": i, "text": "你好"})
            got1 = [await asyncio.wait_for(anext(first), 2) for _ in range(3)]
            got2 = [await asyncio.wait_for(anext(second), 2) for _ in range(3)]
            leaked: list[dict[str, object]] = []
            with contextlib.suppress(TimeoutError):
                leaked.append(await asyncio.wait_for(anext(other), 0.3))
            return got1, got2, leaked

    got1, got2, leaked = run_async(scenario())
    assert [e["n"] for e in got1] == [0, 1, 2]
    assert got1 == got2
    assert got1[0]["text"] == "你好"
    assert leaked == []


def test_a_batch_arrives_whole_and_in_order_between_single_events(bus: EventBus) -> None:
    async def scenario() -> list[dict[str, object]]:
        async with bus.subscribe("tenant:c") as events:
            await asyncio.sleep(0.1)
            await asyncio.to_thread(bus.publish, "tenant:c", {"n": 0})
            await asyncio.to_thread(bus.publish_many, "tenant:c", [{"n": i, "text": "批量"} for i in range(1, 51)])
            await asyncio.to_thread(bus.publish, "tenant:c", {"n": 51})
            return [await asyncio.wait_for(anext(events), 2) for _ in range(52)]

    got = run_async(scenario())
    assert [e["n"] for e in got] == list(range(52))
    assert got[1]["text"] == "批量"


def test_the_app_fixtures_run_on_redis_when_the_run_names_one(
    app: FastAPI, client: TestClient, world: World, redis_url: str | None
) -> None:
    """With OMNIDESK_TEST_REDIS_URL every test body that uses ``app`` / ``client`` / ``live_server`` runs on the
    Redis bus, limiter, throttle and presence (under the run's own key prefix); CI's service run must."""
    from omnidesk.events.presence import MemoryPresence, RedisPresence
    from omnidesk.security.ratelimit import MemoryRateLimiter, RedisRateLimiter
    from omnidesk.security.throttle import MemoryLoginThrottle, RedisLoginThrottle

    if not redis_url:
        if os.environ.get("OMNIDESK_REQUIRE_SERVICES") == "1":
            pytest.fail("OMNIDESK_TEST_REDIS_URL is not set: the service run would test the in-process twins only")
        expected: tuple[type, ...] = (MemoryBus, MemoryRateLimiter, MemoryLoginThrottle, MemoryPresence)
    else:
        expected = (RedisBus, RedisRateLimiter, RedisLoginThrottle, RedisPresence)
    state = app.state
    found = (state.bus, state.rate_limiter, state.login_throttle, state.presence)
    assert [type(x) for x in found] == list(expected)
    assert client.get("/api/v1/conversations", headers=world.headers()).status_code == 200
    if redis_url:
        import redis

        keys = redis.Redis.from_url(redis_url).keys(f"{REDIS_PREFIX}:rl:*")
        assert keys, "the API rate limit counted in Redis, under the run's prefix"
