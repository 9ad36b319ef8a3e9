"""Fan-out to the sockets of this process: one bus subscription per tenant with sockets here, not per socket.

Each socket has a bounded outbox drained by its own writer task while frames wait, so one slow client never holds
up the others; a client whose outbox overflows is disconnected (code 4008) and resumes by fetching what it missed,
which is cheaper and safer than buffering without bound. Visitors are indexed by customer, so a message is matched to its
customer's sockets in O(1) however many visitors are connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from omnidesk.events.bus import EventBus
from omnidesk.realtime import filters
from omnidesk.realtime.tokens import SocketGrant

log = logging.getLogger("omnidesk.realtime")

OUTBOX_SIZE = 1000
CLOSE_OVERFLOW = 4008
# The person's access changed (signed out, deactivated, role, teams or password changed): ask for a new socket
# token; the request fails if they may no longer connect, and otherwise carries their new rights.
CLOSE_REVOKED = 4010


@dataclass(eq=False, slots=True)
class Client:
    """One open socket: its grant and its outbox of serialised frames.

    Most sockets sit idle most of the time, and there can be tens of thousands of them in a process, so an idle
    client holds no queue and no task: the outbox (a deque) and the task that writes it exist only while frames
    wait, and go away once it is drained. One writer at a time per socket keeps frames in the order offered.
    """

    grant: SocketGrant
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int], Awaitable[None]]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    unacked: int = 0  # messages sent on this socket and not yet acknowledged (see realtime.intake)
    _outbox: deque[str] | None = None
    _writer: asyncio.Task[None] | None = None
    _stopped: bool = False  # the socket is done (finished, or a write failed): frames offered now go nowhere

    def offer(self, frame: str) -> bool:
        """Queue ``frame`` for writing (call on the socket's event loop); False if the outbox is full."""
        if self._stopped:
            return True
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = deque()
        elif len(outbox) >= OUTBOX_SIZE:
            return False
        outbox.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(outbox))
        return True

    def pending(self) -> int:
        return len(self._outbox) if self._outbox is not None else 0

    async def _write(self, outbox: deque[str]) -> None:
        try:
            while outbox:
                await self.send(outbox[0])
                outbox.popleft()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket is gone; its read loop ends too
            self._stopped = True
            outbox.clear()
        finally:
            # No await between the last check of ``outbox`` and here: a frame offered meanwhile is either
            # written above or finds no writer and starts one.
            self._writer = None
            if not outbox:
                self._outbox = None

    async def finish(self) -> None:
        """Stop taking frames and write those already queued (unless the client is too slow to read them)."""
        self._stopped = True
        writer = self._writer
        if writer is None:
            return
        if self.pending() >= OUTBOX_SIZE:
            writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        self._writer = self._outbox = None  # a writer cancelled before it started never cleared them


@dataclass
class _Room:
    """The sockets of one tenant in this process, and the task that feeds them from the bus."""

    loop: asyncio.AbstractEventLoop
    # By customer id: the sockets of their tabs (a list, four times smaller than a set, and they are few).
    visitors: dict[str, list[Client]] = field(default_factory=dict)
    staff: set[Client] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def empty(self) -> bool:
        return not self.staff and not self.visitors


class Hub:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._rooms: dict[tuple[int, uuid.UUID], _Room] = {}
        self.delivered = 0
        self._closing: set[asyncio.Future[None]] = set()

    def connections(self) -> int:
        return sum(len(r.staff) + sum(len(v) for v in r.visitors.values()) for r in self._rooms.values())

    async def join(self, client: Client) -> None:
        """Register ``client``; returns once the tenant's bus subscription is live, so no event after this is missed."""
        loop = asyncio.get_running_loop()
        key = (id(loop), client.grant.tenant_id)
        room = self._rooms.get(key)
        if room is None or room.task is None or room.task.done():
            room = _Room(loop=loop)
            self._rooms[key] = room
            room.task = asyncio.create_task(self._feed(client.grant.tenant_id, room))
        if client.grant.kind == "visitor":
            room.visitors.setdefault(str(client.grant.customer_id), []).append(client)
        else:
            room.staff.add(client)
        await room.ready.wait()

    async def leave(self, client: Client) -> None:
        key = (id(asyncio.get_running_loop()), client.grant.tenant_id)
        room = self._rooms.get(key)
        if room is None:
            return
        if client.grant.kind == "visitor":
            group = room.visitors.get(str(client.grant.customer_id))
            if group is not None:
                with contextlib.suppress(ValueError):
                    group.remove(client)
                if not group:
                    room.visitors.pop(str(client.grant.customer_id), None)
        else:
            room.staff.discard(client)
        if room.empty() and room.task is not None:
            self._rooms.pop(key, None)
            room.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await room.task

    async def _feed(self, tenant_id: uuid.UUID, room: _Room) -> None:
        channel = f"tenant:{tenant_id}"
        while True:
            try:
                async with self.bus.subscribe(channel) as events:
                    if room.ready.is_set():
                        # Back after a lost subscription: events may have been missed, so every socket of the
                        # room is told to fetch what it missed by last seq (the same path as a reconnect).
                        self._broadcast(room, '{"type":"resync"}')
                    room.ready.set()
                    async for event in events:
                        self.dispatch(room, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The bus dropped (Redis restart): resubscribe; clients notice nothing but a gap they can refetch.
                log.exception("event subscription lost; resubscribing")
                room.ready.set()
                await asyncio.sleep(1)

    def dispatch(self, room: _Room, event: dict[str, Any]) -> None:
        if event.get("type") == "access":
            self._revoke(room, event)  # acted on here, never forwarded to any socket
            return
        # The socket a visitor's message came on already has it (in its ack): it is the one socket not sent it.
        origin = event.pop("origin", None)
        staff_frame: str | None = None
        for client in list(room.staff):
            if filters.staff_may_see(client.grant, event):
                staff_frame = staff_frame or json.dumps(event, ensure_ascii=False, default=str)
                self._deliver(client, staff_frame)
        customer = event.get("customer_id")
        if customer is None:
            return
        targets = room.visitors.get(str(customer))
        if not targets:
            return
        visitor_frame: str | None = None
        for client in list(targets):
            if client.id == origin:
                continue
            projected = filters.for_visitor(client.grant, event)
            if projected is None:
                continue
            visitor_frame = visitor_frame or json.dumps(projected, ensure_ascii=False, default=str)
            self._deliver(client, visitor_frame)

    def _revoke(self, room: _Room, event: dict[str, Any]) -> None:
        staff_id = event.get("staff_id")
        epoch = event.get("epoch")
        session_ids = set(event.get("session_ids") or ())
        for client in list(room.staff):
            grant = client.grant
            if grant.staff_id is None or str(grant.staff_id) != staff_id:
                continue
            voided = isinstance(epoch, int) and grant.epoch < epoch
            if voided or (grant.session_id is not None and str(grant.session_id) in session_ids):
                log.info("closing a socket: access revoked", extra={"staff_id": staff_id})
                self._close(client, CLOSE_REVOKED)

    def _close(self, client: Client, code: int) -> None:
        task = asyncio.ensure_future(client.close(code))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _broadcast(self, room: _Room, frame: str) -> None:
        for client in [*room.staff, *(c for group in room.visitors.values() for c in group)]:
            self._deliver(client, frame)

    def _deliver(self, client: Client, frame: str) -> None:
        if client.offer(frame):
            self.delivered += 1
            return
        log.warning("socket outbox full; closing it so the client resumes from its last seq")
        self._close(client, CLOSE_OVERFLOW)
