"""Passwords over an account's life, as a new hire, an admin and someone holding an old password experience it:
one-time passwords must be replaced at first sign-in, a person changes their own password and signs out their other
sessions, and an admin's one-time reset link works once, for 30 minutes, and ends every session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import TenantCreate
from omnidesk.core.db import Database, utcnow
from omnidesk.security.permissions import Role
from tests.accounts.test_login_limits import _post_login
from tests.factories import PASSWORD, World, sign_in

NEW_PASSWORD = "a brand new passphrase 2026"


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _new_hire(client: TestClient, world: World) -> tuple[str, str]:
    email = f"new.hire@{world.slug}.example"
    created = client.post(
        "/api/v1/staff", json={"email": email, "display_name": "新同事", "role": "agent"}, headers=world.headers()
    )
    assert created.status_code == 201
    return email, created.json()["one_time_password"]


def test_a_one_time_password_must_be_replaced_before_anything_else(client: TestClient, world: World) -> None:
    email, one_time = _new_hire(client, world)
    signed_in = _post_login(client, world.slug, email, one_time)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account/password"
    # Every page leads to the change-password page; the API answers 403 with a problem saying what to do.
    for page in ("/", "/inbox", "/tickets", "/knowledge", "/admin/staff"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/account/password", page
    form = client.get("/account/password")
    assert form.status_code == 200 and ("one-time password" in form.text or "一次性密码" in form.text)
    csrf = _csrf(form.text)
    api = client.get("/api/v1/conversations")
    assert api.status_code == 403 and api.json()["type"] == "/problems/password-change-required"
    token = client.post("/api/v1/realtime/token", headers={"X-CSRF-Token": csrf})
    assert token.status_code == 403
    # The policy applies to the new password; reusing the one-time password is refused too.
    weak = client.post(
        "/account/password",
        data={"csrf": csrf, "current_password": one_time, "new_password": "password", "confirm_password": "password"},
    )
    assert weak.status_code == 422 and client.get("/", follow_redirects=False).status_code == 303
    done = client.post(
        "/account/password",
        data={
            "csrf": csrf,
            "current_password": one_time,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/conversations").status_code == 200
    # The printed password no longer works; the chosen one does.
    with TestClient(client.app) as later:
        assert _post_login(later, world.slug, email, one_time).headers["location"].startswith("/login?error=failed")
        assert _post_login(later, world.slug, email, NEW_PASSWORD).headers["location"] == "/"


def test_init_and_cli_passwords_are_one_time(db: Database) -> None:
    with db.platform_transaction() as s:
        _, admin, _ = accounts.create_tenant(
            s, TenantCreate(slug="one-time-admin", name="One time", admin_email="boss@one-time.example")
        )
        assert admin.must_change_password is True


def test_change_password_over_the_api_ends_other_sessions(
    client: TestClient, other_browser: TestClient, world: World
) -> None:
    sign_in(client, world)
    sign_in(other_browser, world)
    csrf = {"X-CSRF-Token": _csrf(client.get("/").text)}
    wrong = client.post(
        "/api/v1/me/password", json={"current_password": "not it", "new_password": NEW_PASSWORD}, headers=csrf
    )
    assert wrong.status_code == 422 and "current password" in wrong.json()["detail"]
    ok = client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=csrf
    )
    assert ok.status_code == 200 and ok.json() == {"other_sessions_ended": 1}
    assert client.get("/api/v1/conversations").status_code == 200  # this session stays
    assert other_browser.get("/api/v1/conversations").status_code == 401  # the other one ended
    # An API key has no password of its own.
    assert (
        client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=world.headers(Role.AGENT),
        ).status_code
        == 403
    )
    # The audit trail says what happened, never the passwords.
    records = client.get(
        "/api/v1/audit", params={"action": "staff.password_change"}, headers=world.headers(Role.AUDITOR)
    ).json()["items"]
    assert len(records) == 1 and NEW_PASSWORD not in str(records) and PASSWORD not in str(records)


def test_sign_out_my_other_sessions(client: TestClient, other_browser: TestClient, world: World) -> None:
    sign_in(client, world)
    sign_in(other_browser, world)
    page = client.get("/account/password")
    assert "/account/sessions/end-others" in page.text
    response = client.post("/account/sessions/end-others", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert other_browser.get("/api/v1/conversations").status_code == 401
    assert client.get("/api/v1/conversations").status_code == 200
    # The same over the API.
    sign_in(other_browser, world)
    ended = client.post("/api/v1/me/sessions/end-others", headers={"X-CSRF-Token": _csrf(client.get("/").text)})
    assert ended.status_code == 200 and ended.json() == {"sessions_ended": 1}
    assert other_browser.get("/api/v1/conversations").status_code == 401


def test_admin_reset_link_works_once_and_ends_every_session(
    client: TestClient, other_browser: TestClient, db: Database, world: World
) -> None:
    agent = world.staff[Role.AGENT]
    sign_in(other_browser, world)  # someone who knows the old password is signed in
    assert client.post(f"/api/v1/staff/{agent.id}/password-reset", headers=world.headers(Role.AGENT)).status_code == 403
    created = client.post(f"/api/v1/staff/{agent.id}/password-reset", headers=world.headers())
    assert created.status_code == 201
    url = created.json()["url"]
    path = url[url.index("/password-reset/") :]
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits
    page = client.get(path)
    assert page.status_code == 200 and agent.email in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    mismatch = client.post(
        path, data={"csrf": _csrf(page.text), "new_password": NEW_PASSWORD, "confirm_password": "other words here"}
    )
    assert mismatch.status_code == 422
    done = client.post(
        path,
        data={"csrf": _csrf(mismatch.text), "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/login?error=password_set")
    assert other_browser.get("/api/v1/conversations").status_code == 401
    with TestClient(client.app) as fresh:
        assert _post_login(fresh, world.slug, agent.email, PASSWORD).headers["location"].startswith("/login?error")
        assert _post_login(fresh, world.slug, agent.email, NEW_PASSWORD).headers["location"] == "/"
    # Used once: the link now gives a clear page, and cannot set a password again.
    again = client.get(path)
    assert again.status_code == 410 and ("expired or was already used" in again.text or "已过期" in again.text)
    replay = client.post(path, data={"csrf": "x", "new_password": "another long phrase", "confirm_password": "x"})
    assert replay.status_code == 410
    # The audit trail has the link's creation and its use, never the token or the password.
    trail = client.get("/api/v1/audit", params={"action": "staff."}, headers=world.headers(Role.AUDITOR))
    items = [i for i in trail.json()["items"] if i["action"].startswith("staff.password_reset")]
    assert {i["action"] for i in items} == {"staff.password_reset", "staff.password_reset_link"}
    assert token not in str(items) and NEW_PASSWORD not in str(items)
    # An expired link: same clear page.
    from omnidesk.accounts.models import PasswordReset

    second = client.post(f"/api/v1/staff/{agent.id}/password-reset", headers=world.headers()).json()["url"]
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(
            update(PasswordReset)
            .where(PasswordReset.used_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert client.get(second[second.index("/password-reset/") :]).status_code == 410


def test_reset_links_are_rate_limited_and_only_the_newest_works(client: TestClient, world: World) -> None:
    target = world.staff[Role.SUPERVISOR].id
    urls = []
    for _ in range(5):
        response = client.post(f"/api/v1/staff/{target}/password-reset", headers=world.headers())
        assert response.status_code == 201
        urls.append(response.json()["url"])
    limited = client.post(f"/api/v1/staff/{target}/password-reset", headers=world.headers())
    assert limited.status_code == 429 and "retry-after" in limited.headers
    paths = [u[u.index("/password-reset/") :] for u in urls]
    assert client.get(paths[0]).status_code == 410
    assert client.get(paths[-1]).status_code == 200


def test_staff_page_offers_reset_to_admins_only(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.ADMIN)
    assert client.get("/admin/staff", follow_redirects=False).headers["location"] == "/settings/users"
    page = client.get("/settings/users")
    assert page.status_code == 200 and world.emails[Role.AGENT] in page.text
    agent_id = world.staff[Role.AGENT].id
    person = client.get(f"/settings/users/{agent_id}")
    assert f"/settings/users/{agent_id}/password-reset" in person.text
    shown = client.post(f"/settings/users/{agent_id}/password-reset", data={"csrf": _csrf(person.text)})
    assert shown.status_code == 200
    link = re.search(r'id="reset-link" readonly value="([^"]+)"', shown.text)
    assert link and "/password-reset/" in link.group(1)
    with TestClient(client.app) as agent_browser:
        sign_in(agent_browser, world, Role.AGENT)
        assert agent_browser.get("/settings/users").status_code == 403  # the console is for admins
        csrf = _csrf(agent_browser.get("/").text)
        refused = agent_browser.post(f"/settings/users/{agent_id}/password-reset", data={"csrf": csrf})
        assert refused.status_code == 403
        assert "/account/password" in agent_browser.get("/").text  # the account link in the header
