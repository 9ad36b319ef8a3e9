"""The WebSocket gateway: authentication, Origin, who receives what, typing, and the resume contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from omnidesk.realtime.tokens import SocketGrant, mint
from omnidesk.security.keys import keyring
from omnidesk.security.permissions import Role
from tests.factories import World, start_visitor, visitor_conversation

WS = "/api/v1/realtime/ws"


def _open(client: TestClient, token: str, **headers: str) -> Any:
    ws = client.websocket_connect(WS, headers=dict(headers))
    session: WebSocketTestSession = ws.__enter__()
    session.send_text(json.dumps({"type": "auth", "token": token}))
    assert session.receive_json() == {
        "type": "ready",
        "kind": "visitor" if "." in token and _is_visitor(token) else "staff",
    }
    return ws, session


def _is_visitor(token: str) -> bool:
    import base64

    body = token.split(".")[0]
    kind: str = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["k"]
    return kind == "visitor"


def _staff_token(client: TestClient, world: World, role: Role = Role.AGENT) -> str:
    response = client.post("/api/v1/realtime/token", headers=world.headers(role))
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def _next_of(session: WebSocketTestSession, kind: str, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        event: dict[str, Any] = session.receive_json()
        if event.get("type") == kind:
            return event
    raise AssertionError(f"no {kind} event")


def test_visitor_and_agent_see_each_other_live(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "你好")
    v_ctx, v = _open(client, visitor["socket_token"])
    a_ctx, a = _open(client, _staff_token(client, world))
    try:
        url = f"{visitor['base']}/conversations/{conv['id']}/messages"
        client.post(url, json={"body": "请问发货了吗", "client_id": "c-live-1"}, headers=visitor["headers"])
        seen_by_agent = _next_of(a, "message")
        assert seen_by_agent["message"]["body"] == "请问发货了吗" and seen_by_agent["customer_id"]
        client.post(f"/api/v1/conversations/{conv['id']}/notes", json={"body": "内部：查物流"}, headers=world.headers())
        client.post(
            f"/api/v1/conversations/{conv['id']}/messages", json={"body": "已发货，明天到"}, headers=world.headers()
        )
        own_echo, seen_by_visitor = _next_of(v, "message"), _next_of(v, "message")
        # The visitor's own message comes back (that is how other tabs learn of it); the note never does.
        assert own_echo["message"]["body"] == "请问发货了吗"
        assert seen_by_visitor["message"]["body"] == "已发货，明天到"
        assert set(seen_by_visitor) == {"type", "op", "conversation_id", "message"}
        v.send_text(json.dumps({"type": "typing", "conversation_id": conv["id"], "active": True}))
        typing = _next_of(a, "typing")
        assert typing["from"] == "customer" and typing["customer_id"] == seen_by_agent["customer_id"]
    finally:
        v_ctx.__exit__(None, None, None)
        a_ctx.__exit__(None, None, None)


def test_a_visitor_never_sees_another_customers_events(client: TestClient, world: World) -> None:
    alice = start_visitor(client, world.slug)
    bob = start_visitor(client, world.slug)
    alice_conv = visitor_conversation(client, alice, "Alice 的问题")
    bob_conv = visitor_conversation(client, bob, "Bob 的问题")
    ctx, bob_socket = _open(client, bob["socket_token"])
    try:
        client.post(
            f"/api/v1/conversations/{alice_conv['id']}/messages", json={"body": "给 Alice"}, headers=world.headers()
        )
        client.post(
            f"/api/v1/conversations/{bob_conv['id']}/messages", json={"body": "给 Bob"}, headers=world.headers()
        )
        event = _next_of(bob_socket, "message")
        assert event["message"]["body"] == "给 Bob"
        # Forged typing for Alice's conversation is stamped with Bob's own customer id, so Alice never sees it.
        bob_socket.send_text(json.dumps({"type": "typing", "conversation_id": alice_conv["id"], "customer_id": "x"}))
    finally:
        ctx.__exit__(None, None, None)


def test_agents_see_only_what_their_role_allows(client: TestClient, world: World, other_world: World) -> None:
    intruder_ctx, intruder = _open(client, _staff_token(client, other_world, Role.ADMIN))
    # A signed-in agent (a staff session, not an API key, which sees what its role sees tenant-wide).
    grant = SocketGrant(
        tenant_id=world.tenant_id,
        kind="staff",
        staff_id=world.staff[Role.AGENT].id,
        team_ids=frozenset({world.team_id}),
    )
    agent_ctx, agent = _open(client, mint(keyring(client.app.state.settings), grant))  # type: ignore[attr-defined]
    try:
        # Assigned to the admin and moved to no team: an agent outside it no longer sees it.
        client.patch(
            f"/api/v1/conversations/{world.conversation.id}",
            json={"assignee_id": str(world.staff[Role.ADMIN].id)},
            headers=world.headers(),
        )
        _next_of(agent, "conversation")  # the agent is told it left their inbox (they were eligible before)
        client.post(
            f"/api/v1/conversations/{world.conversation.id}/messages",
            json={"body": "仅管理员可见"},
            headers=world.headers(),
        )
        # A fresh, visible conversation proves the socket is alive and that nothing else came first.
        visitor = start_visitor(client, world.slug)
        visitor_conversation(client, visitor, "新会话")
        event = _next_of(agent, "message")
        assert event["message"]["body"] == "新会话"
        intruder.send_text(json.dumps({"type": "ping"}))
        assert intruder.receive_json() == {"type": "pong"}  # nothing of tenant A reached tenant B's admin
    finally:
        intruder_ctx.__exit__(None, None, None)
        agent_ctx.__exit__(None, None, None)


@pytest.mark.parametrize(
    "first_frame",
    [
        "not json",
        json.dumps({"type": "ping"}),
        json.dumps({"type": "auth", "token": "forged.token"}),
    ],
)
def test_socket_needs_a_valid_token_first(client: TestClient, first_frame: str) -> None:
    with client.websocket_connect(WS) as ws:
        ws.send_text(first_frame)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4001


def test_socket_tokens_are_not_api_tokens_and_vice_versa(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps({"type": "auth", "token": visitor["token"]}))  # the REST visitor token
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    socket_as_api = {"Authorization": f"Bearer {visitor['socket_token']}"}
    assert client.get(f"{visitor['base']}/conversations", headers=socket_as_api).status_code == 401


def test_foreign_origin_is_refused(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(WS, headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.code == 4003
    ctx, _ = _open(client, visitor["socket_token"], origin="http://testserver")
    ctx.__exit__(None, None, None)


def test_missed_messages_are_fetched_by_last_seq(client: TestClient, world: World) -> None:
    """The resume contract: events after "ready" + fetch(after_seq=last seen) = everything, nothing twice."""
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "第一条")
    url = f"/api/v1/conversations/{conv['id']}/messages"
    for text in ["二", "三"]:
        client.post(url, json={"body": text}, headers=world.headers())
    ctx, socket = _open(client, visitor["socket_token"])
    try:
        client.post(url, json={"body": "四"}, headers=world.headers())
        live = _next_of(socket, "message")["message"]
        missed = client.get(
            f"{visitor['base']}/conversations/{conv['id']}/messages",
            params={"after_seq": 1},
            headers=visitor["headers"],
        ).json()["items"]
        merged = {m["seq"]: m["body"] for m in [*missed, live]}
        assert merged == {2: "二", 3: "三", 4: "四"}
    finally:
        ctx.__exit__(None, None, None)


def test_sockets_are_renewed_after_their_lifetime(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnidesk.realtime import gateway

    monkeypatch.setattr(gateway, "MAX_SOCKET_SECONDS", 0.3)
    visitor = start_visitor(client, world.slug)
    ctx, socket = _open(client, visitor["socket_token"])
    try:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4000
    finally:
        ctx.__exit__(None, None, None)


def test_an_agent_key_socket_gets_only_what_an_agent_without_assignments_gets(client: TestClient, world: World) -> None:
    """An agent-role API key is nobody's inbox: its socket gets the unassigned queue, never the events or internal
    notes of a conversation assigned to someone; an admin key's socket still gets everything."""
    assigned = start_visitor(client, world.slug)
    conv = visitor_conversation(client, assigned, "分配给管理员的会话")
    client.patch(
        f"/api/v1/conversations/{conv['id']}",
        json={"assignee_id": str(world.staff[Role.ADMIN].id)},
        headers=world.headers(),
    )
    key_ctx, key_socket = _open(client, _staff_token(client, world, Role.AGENT))
    admin_ctx, admin_socket = _open(client, _staff_token(client, world, Role.ADMIN))
    try:
        client.post(
            f"/api/v1/conversations/{conv['id']}/notes", json={"body": "内部：退款审批中"}, headers=world.headers()
        )
        client.post(
            f"/api/v1/conversations/{conv['id']}/messages", json={"body": "已为您处理"}, headers=world.headers()
        )
        seen_by_admin = [_next_of(admin_socket, "message")["message"]["body"] for _ in range(2)]
        assert seen_by_admin == ["内部：退款审批中", "已为您处理"]
        # A fresh unassigned conversation proves the key's socket is alive and that nothing else came first.
        visitor_conversation(client, start_visitor(client, world.slug), "新的排队会话")
        first = _next_of(key_socket, "message")
        assert first["message"]["body"] == "新的排队会话"
        assert first["conversation_id"] != conv["id"]
    finally:
        key_ctx.__exit__(None, None, None)
        admin_ctx.__exit__(None, None, None)
