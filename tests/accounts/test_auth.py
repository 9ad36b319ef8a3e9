"""Staff sign-in, sessions, CSRF, lock-out and API keys, as a user and an integrator experience them."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from omnidesk.core.db import utcnow
from omnidesk.security.permissions import Role
from tests.accounts.test_login_limits import _post_login
from tests.factories import PASSWORD, World, sign_in


def test_staff_signs_in_sees_home_and_signs_out(client: TestClient, world: World) -> None:
    assert sign_in(client, world) == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "agent 员工" in home.text
    assert "omnidesk_session" in client.cookies
    # The session cookie authenticates API reads...
    assert client.get("/api/v1/conversations").status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf
    # ...but a write without the CSRF header is refused, and with it accepted.
    url = f"/api/v1/conversations/{world.conversation.id}/notes"
    assert client.post(url, json={"body": "note"}).status_code == 403
    assert client.post(url, json={"body": "note"}, headers={"X-CSRF-Token": csrf.group(1)}).status_code == 201
    client.post("/logout", data={"csrf": csrf.group(1)})
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_logged_out_session_is_dead_server_side(client: TestClient, world: World) -> None:
    sign_in(client, world)
    token = client.cookies["omnidesk_session"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf
    client.post("/logout", data={"csrf": csrf.group(1)})
    # Replaying the old cookie after logout must not work.
    client.cookies.set("omnidesk_session", token)
    assert client.get("/api/v1/conversations").status_code == 401


def test_wrong_passwords_then_a_delay_not_a_redirect(client: TestClient, world: World) -> None:
    for _ in range(5):
        assert sign_in(client, world, password="wrong password!").startswith("/login?error=failed")
    page = client.get("/login?error=failed")
    assert page.status_code == 401
    # Delayed now (this browser never signed in to the account): even the right password waits, told how long.
    delayed = _post_login(client, world.slug, world.emails[Role.AGENT], PASSWORD)
    assert delayed.status_code == 429 and int(delayed.headers["retry-after"]) > 0


def test_login_form_needs_its_csrf_cookie(client: TestClient, world: World) -> None:
    response = client.post(
        "/login",
        data={"workspace": world.slug, "email": world.emails[Role.AGENT], "password": PASSWORD, "csrf": "forged"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/login?error=expired"


def test_deactivating_a_user_ends_their_sessions(client: TestClient, world: World) -> None:
    sign_in(client, world)
    assert client.get("/api/v1/conversations").status_code == 200
    admin = world.headers(Role.ADMIN)
    response = client.patch(f"/api/v1/staff/{world.staff[Role.AGENT].id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    assert client.get("/api/v1/conversations").status_code == 401


def test_api_keys_bad_expired_and_revoked(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/staff", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/api/v1/staff", headers={"Authorization": "Basic abc"}).status_code == 401
    tampered = world.keys[Role.ADMIN][:-2] + "xx"
    assert client.get("/api/v1/staff", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401

    admin = world.headers(Role.ADMIN)
    created = client.post("/api/v1/api-keys", json={"name": "ci", "role": "agent"}, headers=admin).json()
    key = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/conversations", headers=key).status_code == 200
    assert all("key" not in k for k in client.get("/api/v1/api-keys", headers=admin).json())
    client.post(f"/api/v1/api-keys/{created['id']}/revoke", headers=admin)
    revoked = client.get("/api/v1/conversations", headers=key)
    assert revoked.status_code == 401
    assert revoked.headers["content-type"] == "application/problem+json"

    past = (utcnow() - timedelta(days=1)).isoformat()
    assert (
        client.post(
            "/api/v1/api-keys", json={"name": "x", "role": "agent", "expires_at": past}, headers=admin
        ).status_code
        == 422
    )


def test_roles_endpoint_lists_permissions(client: TestClient, world: World) -> None:
    roles = {r["name"]: set(r["permissions"]) for r in client.get("/api/v1/roles", headers=world.headers()).json()}
    assert set(roles) == {r.value for r in Role}
    assert "audit.read" in roles["auditor"] and "audit.read" not in roles["agent"]
    assert "customers.pii" not in roles["quality_inspector"]


def test_new_staff_password_policy(client: TestClient, world: World) -> None:
    admin = world.headers()
    body = {"email": "new@x.example", "display_name": "新人", "role": "agent"}
    assert client.post("/api/v1/staff", json={**body, "password": "short"}, headers=admin).status_code == 422
    assert client.post("/api/v1/staff", json={**body, "password": "password123"}, headers=admin).status_code == 422
    created = client.post("/api/v1/staff", json=body, headers=admin)
    assert created.status_code == 201
    assert len(created.json()["one_time_password"]) >= 16
    assert client.post("/api/v1/staff", json=body, headers=admin).status_code == 409
