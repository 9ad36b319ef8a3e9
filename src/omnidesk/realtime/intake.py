"""Messages sent over sockets: gathered into batches, stored by the registered sink, acknowledged after commit.

The gateway knows nothing of conversations: a channel adapter registers itself at start-up as the socket's
:class:`MessageSink` (the widget: ``channels/widget/adapter.py``). The sink checks a ``send`` frame on the event
loop and stores a batch in a worker thread, in one transaction per tenant.

One worker per event loop takes every message waiting in its queue and hands them to the sink together, then
answers each sender with an ``ack`` carrying the stored message (its ``seq``) or an ``error`` with an HTTP-like
status. There is no timer: while one batch is being written the next one gathers, so a lone message is stored at
once and a busy server commits hundreds per transaction (group commit). Nothing is acknowledged before it is
committed; a client that gets no answer (the socket dropped) sends again with the same ``client_id`` and is
answered with the stored message, never a copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from omnidesk.core.errors import RateLimited
from omnidesk.realtime.hub import Client
from omnidesk.realtime.tokens import SocketGrant
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
class SocketMessage:
    """A ``send`` frame the sink accepted: ``data`` is whatever the sink parsed it into (opaque here)."""

    tenant_id: uuid.UUID
    customer_id: uuid.UUID
    client_id: str
    data: Any
    ip: str | None
    origin: str  # the socket it came on: answered there with an ack, so its event skips that socket


@dataclass(frozen=True, slots=True)
class Ack:
    """Stored (``created``) or found stored already. Whatever follows (the assistant's turn) was queued as a job
    in the transaction that stored the message: nothing runs here after the answer."""

    message: dict[str, Any]
    created: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    detail: str


Answer = Ack | Refusal


class MessageSink(Protocol):
    def accept(self, grant: SocketGrant, frame: dict[str, Any], ip: str | None, origin: str) -> SocketMessage | Refusal:
        """Check a ``send`` frame on the event loop (no I/O): the message to store, or why not."""

    def store(self, tenant_id: uuid.UUID, batch: Sequence[SocketMessage]) -> list[Answer]:
        """Store ``batch`` (one tenant's) in a worker thread; one answer per message, in order."""


@dataclass(frozen=True, slots=True)
class _Pending:
    client: Client
    message: SocketMessage


class MessageIntake:
    def __init__(self, sink: MessageSink, *, messages_per_window: int = 60, window_seconds: int = 60) -> None:
        self._sink = sink
        self._messages_per_window = messages_per_window
        self._window_seconds = window_seconds
        # Per process: a visitor's socket lives in one process, so its sends are counted where they arrive.
        self._limiter = MemoryRateLimiter()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, client: Client, frame: dict[str, Any], ip: str | None) -> None:
        """Queue the ``send`` frame for storing; the client hears back with an ``ack`` or an ``error`` frame."""
        raw_id = frame.get("client_id")
        client_id = raw_id[:64] if isinstance(raw_id, str) else None
        accepted = self._sink.accept(client.grant, frame, ip, client.id)
        if isinstance(accepted, Refusal):
            client.offer(error_frame(client_id, accepted.status, accepted.detail))
            return
        message = accepted
        try:
            self._limiter.hit(f"widget-msg:{message.customer_id}", self._messages_per_window, self._window_seconds)
        except RateLimited as exc:
            # retry_after lets the widget tell the visitor when they can continue (and resend then, same client_id).
            answer = error_frame(
                message.client_id, 429, f"too many messages; wait {exc.retry_after} s", exc.retry_after
            )
            client.offer(answer)
            return
        if client.unacked >= MAX_UNACKED_PER_SOCKET:
            answer = error_frame(message.client_id, 429, "too many messages waiting for their acknowledgement", 1)
            client.offer(answer)
            return
        queue = self._queue_of(asyncio.get_running_loop())
        try:
            queue.put_nowait(_Pending(client, message))
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
                answers = await asyncio.to_thread(self._store, batch)
            except Exception:  # never leave a sender without an answer; it resends with the same client_id
                log.exception("could not store a batch of messages")
                answers = [Refusal(503, "the message could not be stored; send it again")] * len(batch)
            BATCH_SIZE.observe(len(batch))
            for pending, answer in zip(batch, answers, strict=True):
                pending.client.unacked -= 1
                pending.client.offer(answer_frame(pending.message.client_id, answer))
                if isinstance(answer, Ack) and answer.created:
                    STORED.inc()

    def _store(self, batch: Sequence[_Pending]) -> list[Answer]:
        by_tenant: dict[uuid.UUID, list[int]] = {}
        for index, pending in enumerate(batch):
            by_tenant.setdefault(pending.message.tenant_id, []).append(index)
        answers: list[Answer] = [Refusal(503, "not stored")] * len(batch)
        for tenant_id, indexes in by_tenant.items():
            try:
                results = self._sink.store(tenant_id, [batch[i].message for i in indexes])
            except Exception:
                log.exception("could not store a batch of messages", extra={"tenant_id": str(tenant_id)})
                results = [Refusal(503, "the message could not be stored; send it again")] * len(indexes)
            for index, result in zip(indexes, results, strict=True):
                answers[index] = result
        return answers


def answer_frame(client_id: str, answer: Answer) -> str:
    if isinstance(answer, Refusal):
        return error_frame(client_id, answer.status, answer.detail)
    return json.dumps(
        {"type": "ack", "client_id": client_id, "created": answer.created, "message": answer.message},
        ensure_ascii=False,
    )


def error_frame(client_id: str | None, status: int, detail: str, retry_after: int | None = None) -> str:
    """An ``error`` answer; a 429 carries ``retry_after`` (seconds), like the HTTP answer's Retry-After."""
    frame: dict[str, object] = {"type": "error", "client_id": client_id, "status": status, "detail": detail}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return json.dumps(frame, ensure_ascii=False)
