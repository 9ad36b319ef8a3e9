"""Open sockets end when their owner's access changes, and the old socket token cannot open a new one: deactivation,
sign-out, role change, leaving a team, and signing out one's other sessions."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from omnidesk.security.permissions import Role
from tests.factories import World, sign_in

WS = "/api/v1/realtime/ws"
CLOSE_REVOKED = 4010
CLOSE_AUTH = 4001


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert match
    return match.group(1)


def _session_token(client: TestClient) -> str:
    """A socket token minted the way the workspace does: through the signed-in session."""
    response = client.post("/api/v1/realtime/token", headers={"X-CSRF-Token": _csrf(client)})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def _open(client: TestClient, token: str) -> tuple[Any, WebSocketTestSession]:
    ctx = client.websocket_connect(WS)
    ws: WebSocketTestSession = ctx.__enter__()
    ws.send_text(json.dumps({"type": "auth", "token": token}))
    assert ws.receive_json()["type"] == "ready"
    return ctx, ws


def _closed_with(ws: WebSocketTestSession, tries: int = 40) -> int:
    """The close code of a socket the server is closing; fails (rather than hangs) if it stays open."""
    for _ in range(tries):
        ws.send_text('{"type":"ping"}')
        try:
            while True:
                frame = ws.receive_json()
                if frame.get("type") == "pong":
                    break
        except WebSocketDisconnect as closed:
            return int(closed.code)
        time.sleep(0.02)
    raise AssertionError("the socket stayed open")


def _refused(client: TestClient, token: str) -> int:
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps({"type": "auth", "token": token}))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        return int(closed.value.code)


def test_deactivation_closes_the_socket_and_voids_its_token(client: TestClient, world: World) -> None:
    sign_in(client, world)
    token = _session_token(client)
    ctx, ws = _open(client, token)
    try:
        response = client.patch(
            f"/api/v1/staff/{world.staff[Role.AGENT].id}", json={"is_active": False}, headers=world.headers()
        )
        assert response.status_code == 200
        assert _closed_with(ws) == CLOSE_REVOKED
    finally:
        ctx.__exit__(None, None, None)
    assert _refused(client, token) == CLOSE_AUTH


def test_sign_out_closes_the_sessions_sockets(client: TestClient, world: World) -> None:
    sign_in(client, world)
    token = _session_token(client)
    ctx, ws = _open(client, token)
    try:
        client.post("/logout", data={"csrf": _csrf(client)})
        assert _closed_with(ws) == CLOSE_REVOKED
    finally:
        ctx.__exit__(None, None, None)
    assert _refused(client, token) == CLOSE_AUTH


def test_role_change_closes_the_socket_and_a_new_token_carries_the_new_role(client: TestClient, world: World) -> None:
    sign_in(client, world)
    token = _session_token(client)
    ctx, ws = _open(client, token)
    try:
        response = client.patch(
            f"/api/v1/staff/{world.staff[Role.AGENT].id}", json={"role": "quality_inspector"}, headers=world.headers()
        )
        assert response.status_code == 200
        assert _closed_with(ws) == CLOSE_REVOKED
    finally:
        ctx.__exit__(None, None, None)
    assert _refused(client, token) == CLOSE_AUTH
    # Still signed in: the workspace asks for a new token, with the new rights, and carries on.
    fresh_ctx, _ = _open(client, _session_token(client))
    fresh_ctx.__exit__(None, None, None)


def test_leaving_a_team_closes_the_socket(client: TestClient, world: World) -> None:
    sign_in(client, world)
    token = _session_token(client)
    ctx, ws = _open(client, token)
    try:
        url = f"/api/v1/teams/{world.team_id}/members/{world.staff[Role.AGENT].id}"
        assert client.delete(url, headers=world.headers()).status_code == 200
        assert _closed_with(ws) == CLOSE_REVOKED
    finally:
        ctx.__exit__(None, None, None)
    assert _refused(client, token) == CLOSE_AUTH


def test_signing_out_other_sessions_closes_only_their_sockets(client: TestClient, world: World) -> None:
    sign_in(client, world)
    with TestClient(client.app) as laptop:
        sign_in(laptop, world)
        mine_ctx, mine = _open(client, _session_token(client))
        theirs_token = _session_token(laptop)
        theirs_ctx, theirs = _open(laptop, theirs_token)
        try:
            ended = client.post("/api/v1/me/sessions/end-others", headers={"X-CSRF-Token": _csrf(client)})
            assert ended.json() == {"sessions_ended": 1}
            assert _closed_with(theirs) == CLOSE_REVOKED
            mine.send_text('{"type":"ping"}')
            assert mine.receive_json() == {"type": "pong"}  # this session's socket is untouched
        finally:
            theirs_ctx.__exit__(None, None, None)
            mine_ctx.__exit__(None, None, None)
        assert _refused(laptop, theirs_token) == CLOSE_AUTH


def test_revocation_events_never_reach_any_socket(client: TestClient, world: World) -> None:
    supervisor_ctx, supervisor = _open(
        client, client.post("/api/v1/realtime/token", headers=world.headers(Role.SUPERVISOR)).json()["token"]
    )
    try:
        client.patch(
            f"/api/v1/staff/{world.staff[Role.AGENT].id}", json={"role": "supervisor"}, headers=world.headers()
        )
        supervisor.send_text('{"type":"ping"}')
        frames = []
        while (frame := supervisor.receive_json())["type"] != "pong":
            frames.append(frame)
        assert all(f["type"] != "access" for f in frames)
    finally:
        supervisor_ctx.__exit__(None, None, None)
