"""Conversations and messages through the API: lifecycle, ordering, filters, pagination, notes, concurrency."""

from __future__ import annotations

import asyncio
import uuid

from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.events.outbox import tenant_channel
from omnidesk.security.permissions import Role
from tests.conftest import run_async
from tests.factories import World


def _new_conversation(client: TestClient, world: World, **extra: object) -> dict[str, object]:
    body = {"customer_id": str(world.customer.id), "channel": "web", "message": "你好，在吗？", **extra}
    response = client.post("/api/v1/conversations", json=body, headers=world.headers())
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_open_post_and_read_in_order(client: TestClient, world: World) -> None:
    conv = _new_conversation(client, world, subject="退款 refund")
    url = f"/api/v1/conversations/{conv['id']}/messages"
    for text in ["第一条", "second", "第三条 ✓"]:
        assert client.post(url, json={"body": text}, headers=world.headers()).status_code == 201
    client.post(f"/api/v1/conversations/{conv['id']}/notes", json={"body": "内部备注"}, headers=world.headers())
    messages = client.get(url, headers=world.headers()).json()["items"]
    assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    assert [m["body"] for m in messages] == ["你好，在吗？", "第一条", "second", "第三条 ✓", "内部备注"]
    assert messages[0]["sender_type"] == "customer" and messages[-1]["internal"] is True
    public = client.get(url, params={"include_notes": False}, headers=world.headers()).json()["items"]
    assert all(not m["internal"] for m in public)
    resumed = client.get(url, params={"after_seq": 3}, headers=world.headers()).json()["items"]
    assert [m["seq"] for m in resumed] == [4, 5]


def test_client_id_makes_sends_idempotent(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/messages"
    first = client.post(url, json={"body": "hello", "client_id": "c-1"}, headers=world.headers()).json()
    second = client.post(url, json={"body": "hello", "client_id": "c-1"}, headers=world.headers()).json()
    assert first["id"] == second["id"]
    bodies = [m["body"] for m in client.get(url, headers=world.headers()).json()["items"]]
    assert bodies.count("hello") == 1


def test_status_transitions_follow_the_lifecycle(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}"
    h = world.headers()
    assert client.patch(url, json={"status": "resolved"}, headers=h).json()["status"] == "resolved"
    refused = client.patch(url, json={"status": "pending"}, headers=h)
    assert refused.status_code == 422
    assert "cannot become pending" in refused.json()["detail"]
    assert client.patch(url, json={"status": "snoozed"}, headers=h).status_code == 422
    assert client.patch(url, json={"status": "open"}, headers=h).json()["status"] == "open"
    no_time = client.patch(url, json={"status": "snoozed"}, headers=h)
    assert no_time.status_code == 422 and "snoozed_until" in no_time.json()["detail"]
    snoozed = client.patch(url, json={"status": "snoozed", "snoozed_until": "2099-01-01T09:00:00+08:00"}, headers=h)
    assert snoozed.json()["snoozed_until"].startswith("2099-01-01T01:00:00")
    # The customer writing again wakes the conversation up.
    client.post(f"{url}/messages", json={"body": "还在吗", "sender_type": "customer"}, headers=h)
    assert client.get(url, headers=h).json()["status"] == "open"


def test_assign_team_priority_tags_and_version_conflict(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}"
    h = world.headers()
    current = client.get(url, headers=h).json()
    agent_id = str(world.staff[Role.AGENT].id)
    updated = client.patch(
        url,
        json={
            "assignee_id": agent_id,
            "team_id": str(world.team_id),
            "priority": "urgent",
            "tags": ["vip", "vip"],
            "version": current["version"],
        },
        headers=h,
    ).json()
    assert updated["assignee_id"] == agent_id and updated["priority"] == "urgent" and updated["tags"] == ["vip"]
    assert updated["version"] == current["version"] + 1
    stale = client.patch(url, json={"priority": "low", "version": current["version"]}, headers=h)
    assert stale.status_code == 409
    assert "reload" in stale.json()["detail"]
    assert client.get(url, headers=h).json()["priority"] == "urgent"
    missing = client.patch(url, json={"assignee_id": str(uuid.uuid4())}, headers=h)
    assert missing.status_code == 404


def test_filters_and_cursor_pagination(client: TestClient, world: World) -> None:
    h = world.headers()
    created = [
        _new_conversation(client, world, priority="high" if i % 2 else "low", tags=[f"t{i % 3}"]) for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, "priority": "high"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/conversations", params=params, headers=h).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = [c["id"] for c in reversed(created) if c["priority"] == "high"]
    assert seen == expected
    tagged = client.get("/api/v1/conversations", params={"tag": "t0"}, headers=h).json()["items"]
    assert {c["id"] for c in tagged} == {c["id"] for c in created if "t0" in c["tags"]}  # type: ignore[operator]
    bad = client.get("/api/v1/conversations", params={"cursor": "not-a-cursor"}, headers=h)
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
    assert client.get("/api/v1/conversations", params={"status": "bogus"}, headers=h).status_code == 422


def test_events_leave_only_after_commit(db: Database, world: World, client: TestClient) -> None:
    bus = db.bus
    assert bus is not None  # the run's bus: in process, or Redis with OMNIDESK_TEST_REDIS_URL

    async def scenario() -> list[dict[str, object]]:
        received: list[dict[str, object]] = []
        async with bus.subscribe(tenant_channel(world.tenant_id)) as events:
            ok = f"/api/v1/conversations/{world.conversation.id}/messages"
            await asyncio.to_thread(client.post, ok, json={"body": "committed"}, headers=world.headers())
            # A request that fails validation inside the action rolls back: its event must not be seen.
            bad = f"/api/v1/conversations/{world.conversation.id}"
            await asyncio.to_thread(client.patch, bad, json={"status": "snoozed"}, headers=world.headers())
            while True:
                try:
                    received.append(await asyncio.wait_for(anext(events), 0.3))
                except TimeoutError:
                    return received

    events = run_async(scenario())
    assert [e["type"] for e in events] == ["message"]
    assert events[0]["message"]["body"] == "committed"  # type: ignore[index]
