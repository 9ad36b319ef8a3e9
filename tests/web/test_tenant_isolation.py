"""Walks every API route with a second tenant's credentials and the first tenant's ids: nothing may cross.

No read, no write, no hint that the object exists: a route with a path id answers 404 exactly as for an id that
never existed, lists never contain the other tenant's rows, and the first tenant's data is unchanged afterwards.
A new route with an unknown path parameter fails this test until it is taught here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World

PLATFORM_ONLY = {"/api/v1/tenants"}
# Visitor routes take a visitor token, not a staff credential, and multipart uploads cannot be walked with JSON:
# tests/channels/test_widget_api.py proves their isolation.
WALKED_ELSEWHERE = ("/api/v1/widget/{tenant}/", "/api/v1/conversations/{conversation_id}/attachments")
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/staff/{user_id}"): {"display_name": "pwned"},
    ("PATCH", "/api/v1/teams/{team_id}"): {"name": "pwned"},
    ("POST", "/api/v1/teams/{team_id}/members"): {"user_id": "{user_id}"},
    ("PATCH", "/api/v1/customers/{customer_id}"): {"name": "pwned"},
    ("POST", "/api/v1/customers/{customer_id}/identities"): {"kind": "external", "value": "pwned"},
    ("PATCH", "/api/v1/conversations/{conversation_id}"): {"status": "resolved"},
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): {"body": "pwned"},
    ("POST", "/api/v1/conversations/{conversation_id}/notes"): {"body": "pwned"},
    ("POST", "/api/v1/conversations"): {"customer_id": "{customer_id}"},
    ("POST", "/api/v1/teams"): {"name": "B's own team"},
    ("POST", "/api/v1/staff"): {"email": "b-own@x.example", "display_name": "B", "role": "agent"},
    ("POST", "/api/v1/customers"): {"name": "B's own customer"},
    ("POST", "/api/v1/api-keys"): {"name": "B's own key", "role": "agent"},
}


def _ids_of(world: World, client: TestClient) -> dict[str, str]:
    headers = world.headers()
    customer = client.get(f"/api/v1/customers/{world.customer.id}", headers=headers).json()
    keys = client.get("/api/v1/api-keys", headers=headers).json()
    return {
        "conversation_id": str(world.conversation.id),
        "customer_id": str(world.customer.id),
        "user_id": str(world.staff[Role.AGENT].id),
        "team_id": str(world.team_id),
        "identity_id": customer["identities"][0]["id"],
        "key_id": keys[0]["id"],
        "canned_id": client.post(
            "/api/v1/canned-responses", headers=headers, json={"shortcut": "hi", "title": "Hi", "body": "您好"}
        ).json()["id"],
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _snapshot(client: TestClient, world: World) -> str:
    headers = world.headers()
    parts = [
        client.get(f"/api/v1/conversations/{world.conversation.id}", headers=headers).json(),
        client.get(f"/api/v1/conversations/{world.conversation.id}/messages", headers=headers).json(),
        client.get(f"/api/v1/customers/{world.customer.id}", headers=headers).json(),
        client.get("/api/v1/staff", headers=headers).json(),
        client.get("/api/v1/teams", headers=headers).json(),
        client.get("/api/v1/api-keys", headers=headers).json(),
    ]
    return json.dumps(parts, sort_keys=True)


def test_no_route_crosses_tenants(app: FastAPI, client: TestClient, world: World, other_world: World) -> None:
    victim_ids = _ids_of(world, client)
    before = _snapshot(client, world)
    intruder = other_world.headers(Role.ADMIN)
    walked = 0
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/api/v1") or path in PLATFORM_ONLY or path.startswith(WALKED_ELSEWHERE):
            continue
        for method_lower, operation in operations.items():
            method = method_lower.upper()
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            unknown = set(params) - set(victim_ids)
            assert not unknown, f"teach the isolation test the path parameter(s) {unknown} of {path}"
            url = path.format(**victim_ids)
            body = _fill(BODIES.get((method, path)), victim_ids)
            if method in ("POST", "PATCH") and body is None and params:
                body = {}
            response = client.request(method, url, headers=intruder, json=body)
            walked += 1
            if params:
                assert response.status_code == 404, (method, path, response.status_code, response.text)
                assert response.json()["detail"].startswith("no "), response.text
                # Same answer as for an id that never existed: no hint the object exists.
                fresh = path.format(**{k: str(uuid.uuid4()) for k in victim_ids})
                again = client.request(method, fresh, headers=intruder, json=body)
                assert again.status_code == response.status_code
            else:
                assert response.status_code < 500, (method, path, response.text)
                if method == "GET":
                    for value in victim_ids.values():
                        assert value not in response.text, (path, value)
                if method == "POST" and path == "/api/v1/conversations":
                    assert response.status_code == 404  # A's customer does not exist for B
    assert walked >= 20
    assert _snapshot(client, world) == before


def test_platform_routes_refuse_tenant_keys(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/tenants", headers=world.headers(Role.ADMIN))
    assert response.status_code == 401
    assert "platform key" in response.json()["detail"]
