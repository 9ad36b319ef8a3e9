"""Visitors' messages sent over their socket: stored in batches, acknowledged only after the commit.

One worker per event loop takes every message waiting in its queue, stores them in one transaction per tenant
(:func:`omnidesk.conversations.intake.append_customer_messages`) in a worker thread, and then answers each
sender with an ``ack`` carrying the stored message (its ``seq``) or an ``error`` with an HTTP-like status. There
is no timer: while one batch is being written the next one gathers, so a lone message is stored at once and a
busy server commits hundreds per transaction (group commit). Nothing is acknowledged before it is committed; a
client that gets no answer (the socket dropped) sends again with the same ``client_id`` and is answered with the
stored message, never a copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError, OperationalError

from omnidesk.bot import pipeline as bot_pipeline
from omnidesk.conversations.intake import CustomerMessage, Outcome, Refused, Stored, append_customer_messages
from omnidesk.core.db import Database
from omnidesk.core.errors import RateLimited
from omnidesk.realtime.hub import Client
from omnidesk.realtime.presence import PresenceStore
from omnidesk.routing import service as routing_service
from omnidesk.security.ratelimit import MemoryRateLimiter

log = logging.getLogger("omnidesk.realtime")

STORED = Counter("omnidesk_socket_messages_stored_total", "messages sent over sockets and stored")
BATCH_SIZE = Histogram(
    "omnidesk_socket_message_batch_size",
    "messages stored per transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)

MAX_BATCH = 500
MAX_WAITING = 10_000
MAX_UNACKED_PER_SOCKET = 64


@dataclass(frozen=True, slots=True)
class _Pending:
    client: Client
    tenant_id: uuid.UUID
    message: CustomerMessage


class MessageIntake:
    def __init__(
        self,
        db: Database,
        presence: PresenceStore,
        *,
        messages_per_window: int = 60,
        window_seconds: int = 60,
    ) -> None:
        self._db = db
        self._presence = presence
        self._messages_per_window = messages_per_window
        self._window_seconds = window_seconds
        # Per process: a visitor's socket lives in one process, so its sends are counted where they arrive.
        self._limiter = MemoryRateLimiter()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, client: Client, tenant_id: uuid.UUID, message: CustomerMessage) -> None:
        """Queue ``message`` for storing; the client hears back with an ``ack`` or an ``error`` frame."""
        try:
            self._limiter.hit(f"widget-msg:{message.customer_id}", self._messages_per_window, self._window_seconds)
        except RateLimited as exc:
            # retry_after lets the widget tell the visitor when they can continue (and resend then, same client_id).
            frame = error_frame(message.client_id, 429, f"too many messages; wait {exc.retry_after} s", exc.retry_after)
            client.offer(frame)
            return
        if client.unacked >= MAX_UNACKED_PER_SOCKET:
            frame = error_frame(message.client_id, 429, "too many messages waiting for their acknowledgement", 1)
            client.offer(frame)
            return
        queue = self._queue_of(asyncio.get_running_loop())
        try:
            queue.put_nowait(_Pending(client, tenant_id, message))
        except asyncio.QueueFull:
            client.offer(error_frame(message.client_id, 503, "the server is busy; send the message again"))
            return
        client.unacked += 1

    def _queue_of(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[_Pending]:
        if self._queue is None or self._worker is None or self._worker.done() or self._loop is not loop:
            self._loop = loop
            self._queue = asyncio.Queue(MAX_WAITING)
            self._worker = loop.create_task(self._run(self._queue))
        return self._queue

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await asyncio.to_thread(self._store, batch)
            except Exception:  # never leave a sender without an answer; it resends with the same client_id
                log.exception("could not store a batch of messages")
                outcomes = [Refused(503, "the message could not be stored; send it again")] * len(batch)
            BATCH_SIZE.observe(len(batch))
            for pending, outcome in zip(batch, outcomes, strict=True):
                pending.client.unacked -= 1
                pending.client.offer(answer_frame(pending.message.client_id, outcome))
                if isinstance(outcome, Stored) and outcome.created:
                    STORED.inc()

    def _store(self, batch: Sequence[_Pending]) -> list[Outcome]:
        by_tenant: dict[uuid.UUID, list[int]] = {}
        for index, pending in enumerate(batch):
            by_tenant.setdefault(pending.tenant_id, []).append(index)
        outcomes: list[Outcome] = [Refused(503, "not stored")] * len(batch)
        for tenant_id, indexes in by_tenant.items():
            items = [batch[i].message for i in indexes]
            try:
                results = self._store_together(tenant_id, items)
            except (IntegrityError, OperationalError):
                # A resend raced with its original on another process (the unique client id let one in), or the
                # database refused the batch: store one by one so that one message cannot fail the others.
                log.info("batch of messages refused; storing them one by one", exc_info=True)
                results = [self._store_alone(tenant_id, item) for item in items]
            for index, result in zip(indexes, results, strict=True):
                outcomes[index] = result
        return outcomes

    def _store_together(self, tenant_id: uuid.UUID, items: Sequence[CustomerMessage]) -> list[Outcome]:
        with self._db.tenant_transaction(tenant_id) as session:
            outcomes = append_customer_messages(session, tenant_id, items)
            if any(isinstance(o, Stored) and o.created for o in outcomes):
                routing_service.route_now(self._presence, session, tenant_id)
            # The assistant's turns are jobs queued in this transaction: stored message ⇔ queued turn.
            turns = [
                (item.conversation_id, uuid.UUID(o.message["id"]))
                for item, o in zip(items, outcomes, strict=True)
                if isinstance(o, Stored) and o.created and o.held_by_bot
            ]
            if turns:
                bot_pipeline.queue_turns(session, turns)
        return outcomes

    def _store_alone(self, tenant_id: uuid.UUID, item: CustomerMessage) -> Outcome:
        try:
            return self._store_together(tenant_id, [item])[0]
        except Exception:
            log.exception("could not store a message", extra={"conversation_id": str(item.conversation_id)})
            return Refused(503, "the message could not be stored; send it again")


def answer_frame(client_id: str, outcome: Outcome) -> str:
    if isinstance(outcome, Refused):
        return error_frame(client_id, outcome.status, outcome.detail)
    return json.dumps(
        {"type": "ack", "client_id": client_id, "created": outcome.created, "message": outcome.message},
        ensure_ascii=False,
    )


def error_frame(client_id: str | None, status: int, detail: str, retry_after: int | None = None) -> str:
    """An ``error`` answer; a 429 carries ``retry_after`` (seconds), like the HTTP answer's Retry-After."""
    frame: dict[str, object] = {"type": "error", "client_id": client_id, "status": status, "detail": detail}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return json.dumps(frame, ensure_ascii=False)
