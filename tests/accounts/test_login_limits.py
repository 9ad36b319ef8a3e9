"""Log-in limits as an attacker and the account's owner experience them: failures elsewhere slow the guesser with a
growing delay (429 + Retry-After, a page in the person's language), never lock the owner out of a device they
signed in with before, and count per workspace + account, so one workspace's failures never touch another's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import StaffCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.security.permissions import Role
from omnidesk.web.app import create_app
from tests.factories import PASSWORD, World, sign_in


def _post_login(client: TestClient, workspace: str, email: str, password: str, **headers: str) -> httpx.Response:
    page = client.get("/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    return client.post(
        "/login",
        data={"workspace": workspace, "email": email, "password": password, "csrf": csrf.group(1)},
        headers=headers,
        follow_redirects=False,
    )


def _sign_out(client: TestClient) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf
    client.post("/logout", data={"csrf": csrf.group(1)})


@pytest.fixture
def attacker(app: FastAPI) -> Iterator[TestClient]:
    """Another browser (its own cookies), as someone elsewhere would use."""
    with TestClient(app) as c:
        yield c


def test_failures_from_elsewhere_do_not_stop_the_owner_on_a_known_device(
    client: TestClient, attacker: TestClient, world: World
) -> None:
    email = world.emails[Role.AGENT]
    assert sign_in(client, world) == "/"  # the owner's browser: it now carries a signed device cookie
    _sign_out(client)
    answers = [_post_login(attacker, world.slug, email, f"guess number {i}").status_code for i in range(12)]
    assert answers[:5] == [303] * 5 and set(answers[5:]) == {429}
    # The guesser is held back even with the right password, but the owner on their device gets straight in.
    assert _post_login(attacker, world.slug, email, PASSWORD).status_code == 429
    owner = _post_login(client, world.slug, email, PASSWORD)
    assert owner.status_code == 303 and owner.headers["location"] == "/"
    assert client.get("/api/v1/conversations").status_code == 200
    # A forged device cookie is just an unknown device.
    attacker.cookies.set("omnidesk_device", client.cookies["omnidesk_device"][:-4] + "AAAA")
    assert _post_login(attacker, world.slug, email, PASSWORD).status_code == 429


def test_failures_in_another_workspace_never_touch_this_one(
    client: TestClient, attacker: TestClient, db: Database, world: World, other_world: World
) -> None:
    email = world.emails[Role.AGENT]
    # The same e-mail address is a different account in another workspace.
    with db.tenant_transaction(other_world.tenant_id) as s:
        accounts.do_create_staff(
            s,
            system_actor(other_world.tenant_id),
            StaffCreate(email=email, display_name="同名", role=Role.AGENT, password=PASSWORD),
        )
    for i in range(15):
        _post_login(attacker, other_world.slug, email, f"wrong {i}")
    # The owner in this workspace, on a browser that never signed in before, is not affected at all.
    response = _post_login(client, world.slug, email, PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert _post_login(attacker, other_world.slug, email, PASSWORD).status_code == 429


def test_over_the_limit_is_a_429_page_with_a_growing_retry_after(attacker: TestClient, world: World) -> None:
    email = world.emails[Role.SUPERVISOR]
    for i in range(5):
        assert _post_login(attacker, world.slug, email, f"wrong {i}").status_code == 303
    waits = []
    for language in ("en", "zh-CN", "en"):
        response = _post_login(attacker, world.slug, email, "still wrong", **{"Accept-Language": language})
        assert response.status_code == 429
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        waits.append(int(response.headers["retry-after"]))
        assert ("Try again in" in response.text) if language == "en" else ("后再试" in response.text)
        assert 'name="password"' in response.text  # the form is there to try again later
    assert waits[0] < waits[1] < waits[2]
    # Unknown accounts behave the same, so the answers do not tell which addresses exist.
    nobody = [_post_login(attacker, world.slug, f"nobody@{world.slug}.example", "x" * 12) for _ in range(6)]
    assert [r.status_code for r in nobody] == [303] * 5 + [429]


def test_a_known_device_still_has_a_limit_of_its_own(client: TestClient, world: World) -> None:
    email = world.emails[Role.AGENT]
    assert sign_in(client, world) == "/"
    _sign_out(client)
    answers = [_post_login(client, world.slug, email, f"typo {i}").status_code for i in range(12)]
    assert 429 in answers  # a stolen device cookie does not give unlimited guesses
    assert answers[:5] == [303] * 5


def test_per_ip_limit_answers_429_with_retry_after(settings: Settings, db: Database, world: World) -> None:
    strict = create_app(settings.model_copy(update={"login_rate_per_ip": 5}), db=db, bus=db.bus)
    with TestClient(strict) as browser:
        answers = [
            _post_login(browser, world.slug, f"someone{i}@{world.slug}.example", "wrong password") for i in range(7)
        ]
    assert [a.status_code for a in answers[:5]] == [303] * 5
    assert answers[6].status_code == 429 and int(answers[6].headers["retry-after"]) > 0
