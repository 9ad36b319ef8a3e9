"""The WebSocket endpoint for widget visitors and agents.

Protocol (JSON text frames):
  client → ``{"type": "auth", "token": "<socket token>"}`` first, within 10 s (tokens never go in the URL);
  server → ``{"type": "ready", "kind": "visitor"|"staff"}`` once subscribed: every event committed after this
  arrives on the socket, so a client that then fetches ``after_seq=<last seen>`` has no gap;
  client → ``{"type": "ping"}`` (every ~20 s; keeps presence alive) and
  ``{"type": "typing", "conversation_id": "...", "customer_id": "...", "active": true}``;
  visitor → ``{"type": "send", "conversation_id": "...", "client_id": "...", "body": "..."}``, answered after the
  commit with ``{"type": "ack", "client_id": "...", "created": true, "message": {...}}`` or
  ``{"type": "error", "client_id": "...", "status": 403|404|413|422|429|503, "detail": "..."}`` (a 429 also carries
  ``retry_after`` seconds; see :mod:`omnidesk.realtime.intake`); the same message can be POSTed instead, with the
  same guarantees;
  server → the events the socket may see (see :mod:`omnidesk.realtime.filters`).
Close codes: 4001 bad or revoked token, 4003 Origin refused, 4000 renew (an hour passed), 4008 too slow,
4010 access changed (sign-out, deactivation, role/team/password change): ask for a new token, which fails if the
person may no longer connect; 1009 a message over 256 KiB (the server's ``ws_max_size``).
Stored messages come back to every subscriber as ``message`` events. Typing indicators are ephemeral: published
on the bus (through Redis in a cluster) and never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from omnidesk.core.errors import Unauthenticated
from omnidesk.events.outbox import tenant_channel
from omnidesk.events.presence import PresenceStore
from omnidesk.events.types import TypingChanged
from omnidesk.realtime.hub import Client, Hub
from omnidesk.realtime.intake import MessageIntake, error_frame
from omnidesk.realtime.tokens import SocketGrant, redeem
from omnidesk.security.keys import Keyring, keyring
from omnidesk.security.proxies import client_ip

log = logging.getLogger("omnidesk.realtime")

AUTH_TIMEOUT_SECONDS = 10
MAX_FRAME = 64 * 1024  # characters: a 10,000-character body may arrive JSON-escaped (6 each), plus the envelope
CLOSE_POLICY = 4003
CLOSE_AUTH = 4001
CLOSE_RENEW = 4000
MAX_SOCKET_SECONDS = 3600


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Browsers always send Origin on a WebSocket handshake: it must be this server or an allow-listed origin.

    A missing Origin is a non-browser client (which could forge any header anyway); the token still applies.
    """
    if not origin:
        return True
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.netloc == host


async def socket_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The endpoint, a bare ASGI app mounted at ``/api/v1/realtime/ws`` by ``web.app`` in front of the routing and
    the HTTP middleware (which all pass sockets through untouched): every coroutine frame, dependency exit stack
    and scope copy between the server and here lives as long as the socket, on every socket."""
    ws = WebSocket(scope, receive, send)
    settings = ws.app.state.settings
    ip = client_ip(ws)  # the handshake's client, behind trusted proxies too: fixed for the socket's life
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins):
        log.info("socket refused: origin not allowed", extra={"origin": ws.headers.get("origin", "")[:200], "ip": ip})
        await ws.close(code=CLOSE_POLICY)
        return
    await ws.accept()
    try:
        grant = await _authenticate(ws, keyring(settings))
    except (Unauthenticated, TimeoutError, ValueError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_AUTH)
        return
    hub: Hub = ws.app.state.hub
    presence: PresenceStore = ws.app.state.presence
    client = Client(grant=grant, send=ws.send_text, close=lambda code: _close(ws, code))
    await hub.join(client)
    try:
        if not await _still_allowed(ws, grant):
            await _close(ws, CLOSE_AUTH)
            return
        if grant.staff_id is not None:
            await asyncio.to_thread(presence.touch, grant.tenant_id, grant.staff_id, client.id)
        client.offer(json.dumps({"type": "ready", "kind": grant.kind}))
        await _read_loop(ws, client, hub, presence, ip or None)
    except WebSocketDisconnect:
        pass
    finally:
        await hub.leave(client)
        await client.finish()
        if grant.staff_id is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(presence.leave, grant.tenant_id, grant.staff_id, client.id)


async def _still_allowed(ws: WebSocket, grant: SocketGrant) -> bool:
    """A staff token is checked against the database once, after the socket joined the hub: a revocation that
    committed before this read is seen here, and one after it reaches the socket as an event, so none is missed
    (see ``accounts.sockets``)."""
    check: Callable[..., bool] | None = getattr(ws.app.state, "socket_check", None)
    if grant.staff_id is None or check is None:
        return True
    try:
        return await asyncio.to_thread(check, grant.tenant_id, grant.staff_id, grant.epoch, grant.session_id)
    except Exception:
        log.exception("could not check a socket's access; refusing it")
        return False


async def _close(ws: WebSocket, code: int) -> None:
    if ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close(code=code)


async def _authenticate(ws: WebSocket, keys: Keyring) -> SocketGrant:
    raw = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_SECONDS)
    frame = json.loads(raw[:MAX_FRAME])
    if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
        raise Unauthenticated("the first frame must be {type: auth, token}")
    return redeem(keys, frame["token"])


async def _read_loop(ws: WebSocket, client: Client, hub: Hub, presence: PresenceStore, ip: str | None) -> None:
    grant = client.grant
    # What a socket may see was fixed when its token was minted; closing it after a while makes the client mint a
    # new token, so a changed role or a deactivated account takes effect. One deadline for the socket's life (not
    # a timeout around each read, which costs a task per waiting socket).
    deadline = asyncio.get_running_loop().time() + MAX_SOCKET_SECONDS
    try:
        async with asyncio.timeout_at(deadline) as lifetime:
            while True:
                if ws.application_state != WebSocketState.CONNECTED:
                    return  # closed by the server (revoked, too slow) while the last frame was handled
                raw = await ws.receive_text()
                if len(raw) > MAX_FRAME:
                    client.offer(error_frame(None, 413, f"frames are limited to {MAX_FRAME} characters"))
                    continue
                try:
                    frame: Any = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(frame, dict):
                    continue
                kind = frame.get("type")
                if kind == "ping":
                    if grant.staff_id is not None:
                        await asyncio.to_thread(presence.touch, grant.tenant_id, grant.staff_id, client.id)
                    client.offer('{"type":"pong"}')
                elif kind == "typing":
                    event = _typing_event(grant, frame)
                    if event is not None:
                        await asyncio.to_thread(hub.bus.publish, tenant_channel(grant.tenant_id), event)
                elif kind == "send":
                    _send(ws.app.state.intake, client, frame, ip)
    except TimeoutError:
        if not lifetime.expired():
            raise
        await _close(ws, CLOSE_RENEW)


def _send(intake: MessageIntake, client: Client, frame: dict[str, Any], ip: str | None) -> None:
    """A visitor's message: checked and stored by the registered sink, acknowledged by the intake (staff send
    over HTTP)."""
    if client.grant.kind != "visitor" or client.grant.customer_id is None:
        client_id = frame.get("client_id")
        client.offer(error_frame(client_id[:64] if isinstance(client_id, str) else None, 403,
                                 "agents send messages through the HTTP API"))  # fmt: skip
        return
    intake.submit(client, frame, ip)


def _typing_event(grant: SocketGrant, frame: dict[str, Any]) -> dict[str, Any] | None:
    """A visitor's typing names their own customer id (from the token, not the frame); an agent's names the
    conversation's customer so the visitor's socket can match it."""
    try:
        conversation_id = uuid.UUID(str(frame.get("conversation_id")))
        customer_id = grant.customer_id if grant.kind == "visitor" else uuid.UUID(str(frame.get("customer_id")))
    except ValueError:
        return None
    if customer_id is None:
        return None
    return TypingChanged(
        tenant_id=grant.tenant_id,
        conversation_id=conversation_id,
        customer_id=customer_id,
        sender="customer" if grant.kind == "visitor" else "agent",
        staff_id=grant.staff_id,
        active=bool(frame.get("active", True)),
    ).to_dict()
