"""Signed tokens and the per-socket event filters: pure functions, no server."""

from __future__ import annotations

import uuid

import pytest

from omnidesk.channels.widget.attachments import check_upload
from omnidesk.core.errors import InvalidInput, Unauthenticated
from omnidesk.realtime.filters import for_visitor, staff_may_see
from omnidesk.realtime.tokens import SocketGrant, mint, redeem
from omnidesk.security import signing
from omnidesk.security.keys import Keyring, Purpose
from tests.conftest import run_async

KEY = b"k" * 32
KEYS = Keyring("s" * 40)
TENANT, ME, OTHER, TEAM = (uuid.uuid4() for _ in range(4))


def test_tokens_are_bound_to_key_purpose_and_time() -> None:
    token = signing.sign(KEY, "a", {"x": 1}, 60, now=1000)
    assert signing.verify([KEY], "a", token, now=1030)["x"] == 1
    for key, purpose, now in [(b"z" * 32, "a", 1030), (KEY, "b", 1030), (KEY, "a", 1061)]:
        with pytest.raises(Unauthenticated):
            signing.verify([key], purpose, token, now=now)
    body, mac = token.split(".")
    with pytest.raises(Unauthenticated):
        signing.verify([KEY], "a", body[:-2] + "AA." + mac, now=1030)


def test_socket_grant_round_trip() -> None:
    grant = SocketGrant(tenant_id=TENANT, kind="staff", staff_id=ME, team_ids=frozenset({TEAM}), supervise=True)
    assert redeem(KEYS, mint(KEYS, grant)) == grant
    with pytest.raises(Unauthenticated):  # no customer
        redeem(
            KEYS,
            signing.sign(KEYS[Purpose.VISITOR_SOCKET].current, "omnidesk-ws", {"t": str(TENANT), "k": "visitor"}, 60),
        )


def _message(customer: uuid.UUID, internal: bool = False, **scope: object) -> dict[str, object]:
    return {
        "type": "message",
        "op": "add",
        "conversation_id": str(uuid.uuid4()),
        "customer_id": str(customer),
        "assignee_id": None,
        "team_id": None,
        "message": {"seq": 1, "body": "hi", "internal": internal},
        **scope,
    }


def test_visitor_filter() -> None:
    visitor = SocketGrant(tenant_id=TENANT, kind="visitor", customer_id=ME)
    assert for_visitor(visitor, _message(ME)) is not None
    assert for_visitor(visitor, _message(OTHER)) is None
    assert for_visitor(visitor, _message(ME, internal=True)) is None
    update = {
        "type": "conversation",
        "op": "update",
        "conversation_id": "c",
        "customer_id": str(ME),
        "status": "resolved",
        "changes": {"tags": [[], ["vip"]]},
    }
    assert for_visitor(visitor, update) == {
        "type": "conversation",
        "op": "update",
        "conversation_id": "c",
        "status": "resolved",
    }
    assert for_visitor(visitor, {"type": "offer", "customer_id": str(ME)}) is None
    assert for_visitor(visitor, {"type": "typing", "customer_id": str(ME), "from": "customer"}) is None


def test_staff_filter_follows_role_scope() -> None:
    agent = SocketGrant(tenant_id=TENANT, kind="staff", staff_id=ME, team_ids=frozenset({TEAM}))
    boss = SocketGrant(tenant_id=TENANT, kind="staff", staff_id=OTHER, read_all=True, supervise=True)
    mine, theirs = str(ME), str(OTHER)
    assert staff_may_see(agent, _message(OTHER, assignee_id=mine))
    assert staff_may_see(agent, _message(OTHER))  # unassigned
    assert staff_may_see(agent, _message(OTHER, assignee_id=theirs, team_id=str(TEAM)))
    assert not staff_may_see(agent, _message(OTHER, assignee_id=theirs))
    assert staff_may_see(boss, _message(OTHER, assignee_id=mine))
    assert staff_may_see(agent, {"type": "offer", "offered_to": mine})
    assert not staff_may_see(agent, {"type": "offer", "offered_to": theirs})
    assert staff_may_see(boss, {"type": "offer", "offered_to": mine})


def test_upload_checks(tmp_path: object) -> None:
    pdf = b"%PDF-1.7\n..."
    assert check_upload("订单.pdf", "application/pdf", pdf).filename == "订单.pdf"
    assert check_upload("../../x.pdf", "application/pdf", pdf).filename == "x.pdf"
    assert check_upload("a\x00b\n.pdf", "application/pdf", pdf).filename == "ab.pdf"
    for name, kind, data in [
        ("a.pdf", "application/pdf", b""),
        ("a.exe", "application/x-msdownload", b"MZ"),
        ("a.svg", "image/svg+xml", b"<svg/>"),
        ("a.pdf", "application/pdf", b"%PDF" + b"0" * 200),
    ]:
        with pytest.raises(InvalidInput):
            check_upload(name, kind, data, max_bytes=100)


def test_hub_tells_sockets_to_resync_after_a_lost_subscription() -> None:
    """A bus whose first subscription breaks: after resubscribing, the hub sends every socket a resync frame."""
    import asyncio
    import contextlib
    from collections.abc import AsyncIterator

    from omnidesk.realtime.hub import Client, Hub

    class FlakyBus:
        def __init__(self) -> None:
            self.subscriptions = 0

        def publish(self, channel: str, event: dict[str, object]) -> None: ...

        def publish_many(self, channel: str, events: list[dict[str, object]]) -> None: ...

        @contextlib.asynccontextmanager
        async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, object]]]:
            self.subscriptions += 1
            first = self.subscriptions == 1

            async def events() -> AsyncIterator[dict[str, object]]:
                if first:
                    await asyncio.sleep(0.05)
                    raise ConnectionError("redis went away")
                await asyncio.sleep(3600)
                yield {}

            yield events()

        def close(self) -> None: ...

    async def scenario() -> list[str]:
        frames: list[str] = []

        async def send(frame: str) -> None:
            frames.append(frame)

        async def close(code: int) -> None: ...

        hub = Hub(FlakyBus())
        client = Client(grant=SocketGrant(tenant_id=TENANT, kind="visitor", customer_id=ME), send=send, close=close)
        await hub.join(client)
        for _ in range(40):
            await asyncio.sleep(0.1)
            if frames:
                break
        await hub.leave(client)
        await client.finish()
        return frames

    assert run_async(scenario()) == ['{"type":"resync"}']
