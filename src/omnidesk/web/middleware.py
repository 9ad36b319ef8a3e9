"""ASGI middleware: socket endpoints, request context and metrics, body-size limit, security headers, idempotency
keys."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from prometheus_client import Counter, Histogram
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from omnidesk.compliance.models import IdempotentResponse
from omnidesk.core.db import Database

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("omnidesk.http")

REQUESTS = Counter("omnidesk_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "omnidesk_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def _problem_bytes(status: int, code: str, title: str, detail: str) -> bytes:
    return json.dumps({"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}).encode()


async def _send_problem(send: Send, status: int, code: str, title: str, detail: str) -> None:
    body = _problem_bytes(status, code, title, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SocketEndpoint:
    """Hands WebSocket handshakes on ``path`` straight to ``endpoint``, in front of every other layer.

    The other layers pass sockets through untouched, but each of them, the router and FastAPI's dependency
    handling keep a coroutine frame (and exit stacks, scope copies) alive for as long as the socket is open: about
    a third of an idle socket's memory. Anything else goes on to ``app``.
    """

    def __init__(self, app: ASGIApp, path: str, endpoint: ASGIApp) -> None:
        self.app = app
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.path:
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class RequestContext:
    """Gives each request an id (echoed as X-Request-ID), logs it, and records Prometheus metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isascii() and incoming.isprintable() else ""
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500}
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            REQUESTS.labels(method, template, str(status_holder["status"])).inc()
            LATENCY.labels(method, template).observe(elapsed)
            if status_holder["status"] >= 500:
                log.warning(
                    "request failed",
                    extra={"request_id": request_id, "route": template, "status": status_holder["status"]},
                )


class BodyLimit:
    """Refuses bodies over the configured size with 413 before any handler reads them, and NUL in URLs."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await _send_problem(
                send, 400, "bad-request", "Bad request", "the URL must not contain NUL (%00) characters"
            )
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_problem(send, 400, "bad-request", "Bad request", "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                await _send_problem(
                    send,
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"the body exceeds {self.max_bytes} bytes",
                )
                return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _send_problem(
                send,
                413,
                "payload-too-large",
                "Payload too large",
                f"the body exceeds {self.max_bytes} bytes",
            )


class _TooLarge(Exception):
    pass


class SecurityHeaders:
    """CSP, framing, sniffing and caching headers on every response."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path.startswith("/api/v1/docs")
        script_src = "'self' 'unsafe-inline'" if docs else "'self'"
        csp = (
            f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {h[0].lower() for h in headers}
                extra = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                # A route that sets its own CSP (the embeddable chat page, with its scoped frame-ancestors) owns
                # framing; everything else is never framed.
                if b"content-security-policy" not in names:
                    extra.append((b"x-frame-options", b"DENY"))
                if path.startswith("/api/") and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message["headers"] = headers + [h for h in extra if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_wrapper)


_STORED_STATUSES = frozenset({200, 201, 202, 204, 400, 404, 413, 422})


class Idempotency:
    """Replays the stored response to a POST retried with the same ``Idempotency-Key`` and the same body.

    The key is scoped to the caller's credential (a digest of the Authorization header or session cookie), so it
    cannot replay anybody else's response. A reused key with a different body is refused with 422; a retry that
    arrives while the first is still running gets 409. Responses that may change on retry (401, 403, 409, 429, 5xx)
    are not stored: the key is released and the retry runs for real.
    """

    def __init__(self, app: ASGIApp, db_getter: Callable[[], Database], cookie_name: str) -> None:
        self.app = app
        self.db_getter = db_getter
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw_key = headers.get(b"idempotency-key")
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
            await _send_problem(
                send,
                400,
                "bad-idempotency-key",
                "Bad Idempotency-Key",
                "Idempotency-Key must be 1-255 printable ASCII",
            )
            return
        credential = headers.get(b"authorization") or _cookie(headers.get(b"cookie", b""), self.cookie_name)
        if not credential:
            await self.app(scope, receive, send)  # unauthenticated: the handler answers 401 anyway
            return
        scope_digest = hashlib.sha256(credential).hexdigest()
        body = await _read_body(receive)
        if body is None:
            await _send_problem(send, 400, "bad-request", "Bad request", "the client disconnected")
            return
        request_digest = hashlib.sha256(
            b"\n".join([scope.get("path", "").encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        db = self.db_getter()
        claim = await anyio.to_thread.run_sync(_claim, db, scope_digest, key, request_digest)
        if isinstance(claim, IdempotentResponse):
            if claim.request_digest != request_digest:
                await _send_problem(
                    send,
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used for a different request; use a new key",
                )
            elif claim.status == 0:
                await _send_problem(
                    send,
                    409,
                    "request-in-progress",
                    "Request in progress",
                    "a request with this key is still running",
                )
            else:
                await _replay(send, claim)
            return
        captured: dict[str, Any] = {"status": 0, "headers": [], "body": b""}
        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            status = captured["status"]
            content_type = dict(captured["headers"]).get(b"content-type", b"application/json").decode("latin-1")
            keep = status in _STORED_STATUSES
            await anyio.to_thread.run_sync(
                _settle, db, scope_digest, key, status if keep else None, captured["body"], content_type
            )


def _cookie(raw: bytes, name: str) -> bytes:
    for part in raw.split(b";"):
        k, _, v = part.strip().partition(b"=")
        if k.decode("latin-1") == name:
            return v
    return b""


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _claim(db: Database, scope: str, key: str, request_digest: str) -> IdempotentResponse | None:
    """Insert an in-progress row; return the existing row if the key was already claimed."""
    try:
        with db.platform_transaction() as s:
            s.add(IdempotentResponse(scope=scope, key=key, request_digest=request_digest, status=0))
        return None
    except IntegrityError:
        with db.platform_transaction() as s:
            existing = s.scalar(
                select(IdempotentResponse).where(IdempotentResponse.scope == scope, IdempotentResponse.key == key)
            )
            if existing is None:  # released between our insert and this read: treat as in progress
                return IdempotentResponse(scope=scope, key=key, request_digest=request_digest, status=0)
            return existing


def _settle(db: Database, scope: str, key: str, status: int | None, body: bytes, content_type: str) -> None:
    with db.platform_transaction() as s:
        if status is None:
            s.execute(
                delete(IdempotentResponse).where(IdempotentResponse.scope == scope, IdempotentResponse.key == key)
            )
            return
        row = s.scalar(
            select(IdempotentResponse).where(IdempotentResponse.scope == scope, IdempotentResponse.key == key)
        )
        if row is not None:
            row.status = status
            row.body = body
            row.content_type = content_type


async def _replay(send: Send, row: IdempotentResponse) -> None:
    body = row.body or b""
    await send(
        {
            "type": "http.response.start",
            "status": row.status,
            "headers": [
                (b"content-type", row.content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
