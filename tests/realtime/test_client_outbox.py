"""A socket's outbox (realtime/hub.py ``Client``): frames in the order offered, bounded, nothing held while idle."""

from __future__ import annotations

import asyncio
import uuid

from omnidesk.realtime.hub import OUTBOX_SIZE, Client
from omnidesk.realtime.tokens import SocketGrant
from tests.conftest import run_async

GRANT = SocketGrant(tenant_id=uuid.uuid4(), kind="visitor", customer_id=uuid.uuid4())


async def _nothing(code: int) -> None: ...


def test_frames_are_written_in_order_and_an_idle_client_holds_no_task_or_queue() -> None:
    async def scenario() -> tuple[list[str], bool, bool]:
        written: list[str] = []
        gate = asyncio.Event()

        async def send(frame: str) -> None:
            await gate.wait()  # a slow socket: frames pile up while the first is written
            written.append(frame)

        client = Client(grant=GRANT, send=send, close=_nothing)
        for i in range(50):
            assert client.offer(f"f{i}")
        busy = client._writer is not None
        gate.set()
        for _ in range(100):
            await asyncio.sleep(0)
        client.offer("late")  # after the outbox drained: a new writer picks it up
        for _ in range(10):
            await asyncio.sleep(0)
        idle = client._writer is None and client._outbox is None
        return written, busy, idle

    written, busy, idle = run_async(scenario())
    assert written == [f"f{i}" for i in range(50)] + ["late"]
    assert busy and idle


def test_a_full_outbox_refuses_and_finish_writes_what_waits() -> None:
    async def scenario() -> tuple[bool, bool, list[str], int]:
        written: list[str] = []
        gate = asyncio.Event()

        async def send(frame: str) -> None:
            await gate.wait()
            written.append(frame)

        slow = Client(grant=GRANT, send=send, close=_nothing)
        for i in range(OUTBOX_SIZE):
            slow.offer(str(i))
        refused = not slow.offer("one too many")
        await slow.finish()  # full: the writer is cancelled, not waited for
        cancelled = slow._writer is None

        fine = Client(grant=GRANT, send=send, close=_nothing)
        fine.offer("a")
        fine.offer("b")
        gate.set()
        await fine.finish()
        fine.offer("after finish")  # goes nowhere
        await asyncio.sleep(0)
        return refused, cancelled, written, fine.pending()

    refused, cancelled, written, pending = run_async(scenario())
    assert refused and cancelled
    assert written == ["a", "b"]
    assert pending == 0


def test_a_failed_write_stops_the_client_quietly() -> None:
    async def scenario() -> tuple[bool, int]:
        async def broken(frame: str) -> None:
            raise ConnectionError("gone")

        client = Client(grant=GRANT, send=broken, close=_nothing)
        client.offer("x")
        await asyncio.sleep(0.01)
        return client.offer("y"), client.pending()

    assert run_async(scenario()) == (True, 0)
