"""Idempotency-Key on POST: a retry replays the first response and writes nothing twice."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World


def _messages(client: TestClient, world: World) -> list[str]:
    url = f"/api/v1/conversations/{world.conversation.id}/messages"
    return [m["body"] for m in client.get(url, headers=world.headers()).json()["items"]]


def test_retry_with_same_key_replays(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/messages"
    headers = {**world.headers(), "Idempotency-Key": "retry-1"}
    first = client.post(url, json={"body": "只发一次"}, headers=headers)
    second = client.post(url, json={"body": "只发一次"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert _messages(client, world).count("只发一次") == 1


def test_same_key_different_body_is_refused(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/messages"
    headers = {**world.headers(), "Idempotency-Key": "retry-2"}
    client.post(url, json={"body": "a"}, headers=headers)
    clash = client.post(url, json={"body": "b"}, headers=headers)
    assert clash.status_code == 422
    assert "different request" in clash.json()["detail"]
    assert "b" not in _messages(client, world)


def test_keys_are_scoped_to_the_caller(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/messages"
    client.post(url, json={"body": "from admin"}, headers={**world.headers(Role.ADMIN), "Idempotency-Key": "k"})
    other = client.post(
        url, json={"body": "from admin"}, headers={**world.headers(Role.SUPERVISOR), "Idempotency-Key": "k"}
    )
    assert other.status_code == 201 and "idempotent-replayed" not in other.headers
    assert _messages(client, world).count("from admin") == 2


def test_failed_authorization_is_not_stored(client: TestClient, world: World) -> None:
    body = {"name": "Team X"}
    denied = client.post("/api/v1/teams", json=body, headers={**world.headers(Role.AGENT), "Idempotency-Key": "t"})
    assert denied.status_code == 403
    again = client.post("/api/v1/teams", json=body, headers={**world.headers(Role.AGENT), "Idempotency-Key": "t"})
    assert again.status_code == 403 and "idempotent-replayed" not in again.headers


def test_bad_key_is_rejected(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/messages"
    response = client.post(url, json={"body": "x"}, headers={**world.headers(), "Idempotency-Key": "x" * 300})
    assert response.status_code == 400
