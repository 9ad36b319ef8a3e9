"""Event buses: an in-process one for the embedded mode and a Redis one for many processes.

Both deliver a published event to every subscriber of its channel; publishing is thread-safe because actions run
in worker threads while subscribers live on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]


class EventBus(Protocol):
    def publish(self, channel: str, event: Event) -> None: ...

    def publish_many(self, channel: str, events: list[Event]) -> None:
        """Publish ``events`` in order, as one delivery where the bus allows (one transaction's events)."""

    def subscribe(self, channel: str) -> Any:
        """An async context manager yielding an async iterator of events."""

    def close(self) -> None: ...


class MemoryBus:
    """Fan-out inside one process."""

    def __init__(self, queue_size: int = 10_000) -> None:
        self._subs: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]]] = {}
        self._lock = threading.Lock()
        self._queue_size = queue_size

    def publish(self, channel: str, event: Event) -> None:
        with self._lock:
            targets = list(self._subs.get(channel, ()))
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(_put_nowait, queue, event)
            except RuntimeError:  # loop closed: the subscriber is gone
                continue

    def publish_many(self, channel: str, events: list[Event]) -> None:
        with self._lock:
            targets = list(self._subs.get(channel, ()))
        for loop, queue in targets:  # one wake-up of each subscriber's loop for the whole batch
            try:
                loop.call_soon_threadsafe(_put_many, queue, events)
            except RuntimeError:
                continue

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subs.setdefault(channel, set()).add(entry)
        try:
            yield _drain(queue)
        finally:
            with self._lock:
                self._subs.get(channel, set()).discard(entry)

    def close(self) -> None:
        with self._lock:
            self._subs.clear()


def _put_nowait(queue: asyncio.Queue[Event], event: Event) -> None:
    try:
        queue.put_nowait(event)
    except asyncio.QueueFull:
        # A subscriber that cannot keep up resynchronises from the database by last seen id; never block publishers.
        log.warning("event subscriber queue full; dropping event for a slow subscriber")


def _put_many(queue: asyncio.Queue[Event], events: list[Event]) -> None:
    for event in events:
        _put_nowait(queue, event)


async def _drain(queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
    while True:
        yield await queue.get()


class RedisBus:
    """Fan-out across processes through Redis pub/sub."""

    def __init__(self, url: str, prefix: str = "omnidesk") -> None:
        import redis

        self._url = url
        self._prefix = prefix
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def publish(self, channel: str, event: Event) -> None:
        try:
            self._client.publish(f"{self._prefix}:{channel}", json.dumps(event, default=str))
        except Exception:  # the write is committed; subscribers resync by last seen id
            log.exception("could not publish event to Redis")

    def publish_many(self, channel: str, events: list[Event]) -> None:
        """One Redis message carrying the list: every subscribing process decodes one message, not one per event."""
        try:
            self._client.publish(f"{self._prefix}:{channel}", json.dumps(events, default=str))
        except Exception:
            log.exception("could not publish events to Redis")

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self._url)
        pubsub = client.pubsub()
        await pubsub.subscribe(f"{self._prefix}:{channel}")
        await _confirmed(pubsub)
        try:
            yield _redis_messages(pubsub)
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    def close(self) -> None:
        self._client.close()


async def _confirmed(pubsub: Any, wait_seconds: float = 5.0) -> None:
    """Wait until Redis has registered the subscription: only then is no later publish missed (callers rely on
    "subscribed, then fetch what is already stored" having no gap)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while loop.time() < deadline:
        message = await pubsub.get_message(timeout=0.5)
        if message is not None and message.get("type") == "subscribe":
            return
    raise TimeoutError("Redis did not confirm the subscription")


async def _redis_messages(pubsub: Any) -> AsyncIterator[Event]:
    async for message in pubsub.listen():
        if message.get("type") != "message":
            continue
        try:
            decoded = json.loads(message["data"])
        except (ValueError, TypeError):
            log.warning("ignoring a malformed event from Redis")
            continue
        if isinstance(decoded, list):  # publish_many
            for event in decoded:
                yield event
        else:
            yield decoded


def make_bus(redis_url: str | None, prefix: str = "omnidesk") -> EventBus:
    return RedisBus(redis_url, prefix) if redis_url else MemoryBus()
