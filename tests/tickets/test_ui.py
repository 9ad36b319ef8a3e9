"""The ticket pages, signed in like a person: list, create, detail with SLA badges and history, status changes,
board and reports; plus a real browser walk-through with screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World, session_csrf, sign_in
from tests.tickets.helpers import policies


def test_create_reply_and_close_through_the_pages(client: TestClient, world: World, db: Database) -> None:
    policies(db, world)
    sign_in(client, world, Role.AGENT)
    csrf = session_csrf(client)
    page = client.get("/tickets/new")
    assert page.status_code == 200 and 'name="subject"' in page.text
    r = client.post(
        "/tickets/new",
        data={
            "csrf": csrf,
            "type": "fault",
            "subject": "App 无法支付 payment fails",
            "description": "点击支付无反应",
            "priority": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    detail = client.get(url)
    assert "App 无法支付 payment fails" in detail.text and 'data-metric="first_response"' in detail.text
    client.post(f"{url}/reply", data={"csrf": csrf, "body": "正在排查", "public": "true"})
    version = re.search(r'name="version" value="(\d+)"', client.get(url).text)
    assert version
    bad = client.post(
        f"{url}/status", data={"csrf": csrf, "version": version.group(1), "status": "closed"}, follow_redirects=False
    )
    assert "error=status" in bad.headers["location"]
    stale = client.post(
        f"{url}/status", data={"csrf": csrf, "version": "1", "status": "resolved"}, follow_redirects=False
    )
    assert "error=conflict" in stale.headers["location"]
    ok = client.post(
        f"{url}/status",
        data={"csrf": csrf, "version": version.group(1), "status": "resolved", "resolution": "修复了支付网关配置"},
        follow_redirects=False,
    )
    assert ok.headers["location"] == url
    page = client.get(url).text
    assert "修复了支付网关配置" in page and "正在排查" in page
    listing = client.get("/tickets?status=resolved")
    assert "App 无法支付 payment fails" in listing.text
    forged = client.post(f"{url}/reply", data={"csrf": "wrong", "body": "x"})
    assert forged.status_code == 403


def test_board_and_reports_render_for_supervisors(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/tickets", json={"subject": "投诉 major", "type": "complaint", "major": True}, headers=world.headers()
    )
    assert r.status_code == 201
    sign_in(client, world, Role.SUPERVISOR)
    page = client.get("/tickets").text
    assert "绿色通道" in page, "the green-channel notice is in the supervisor's inbox"
    assert client.get("/tickets/board").status_code == 200
    assert client.get("/tickets/reports").status_code == 200


def test_pages_need_sign_in_and_stay_in_the_tenant(client: TestClient, world: World, other_world: World) -> None:
    r = client.post("/api/v1/tickets", json={"subject": "secret"}, headers=world.headers(Role.AGENT))
    assert client.get("/tickets", follow_redirects=False).status_code == 303
    sign_in(client, other_world, Role.ADMIN)
    assert client.get(f"/tickets/{r.json()['id']}").status_code == 404
    assert "secret" not in client.get("/tickets").text


@pytest.mark.browser
def test_browser_walk_through(browser: Any, live_server: str, world: World, artifacts_dir: Path) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{live_server}/login?workspace={world.slug}")
        page.fill("input[name=email]", world.emails[Role.AGENT])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server}/tickets/new")
        page.select_option("select[name=type]", "complaint")
        page.fill("input[name=subject]", "快递员态度差 rude courier")
        page.click("form[action='/tickets/new'] button[type=submit]")
        page.wait_for_selector("h1:has-text('rude courier')")
        page.fill("textarea[name=body]", "已联系配送站")
        page.check("input[name=public]")
        page.click("form[action$='/reply'] button[type=submit]")
        page.wait_for_selector("text=已联系配送站")
        page.screenshot(path=str(artifacts_dir / "tickets-detail.png"), full_page=True)
        page.goto(f"{live_server}/tickets")
        assert page.locator("text=rude courier").count() == 1
        page.screenshot(path=str(artifacts_dir / "tickets-list.png"), full_page=True)
    finally:
        page.close()


def test_supervisor_approves_and_agent_transfers_in_the_pages(client: TestClient, world: World) -> None:
    t = client.post(
        "/api/v1/tickets", json={"subject": "降级 please", "priority": "high"}, headers=world.headers(Role.AGENT)
    ).json()
    client.post(
        f"/api/v1/tickets/{t['id']}/approvals",
        json={"operation": "lower_priority", "priority": "normal", "reason": "客户不急"},
        headers=world.headers(Role.AGENT),
    )
    sign_in(client, world, Role.SUPERVISOR)
    csrf = session_csrf(client)
    page = client.get("/tickets/approvals").text
    assert "客户不急" in page
    approval_id = re.search(r'action="/tickets/approvals/([0-9a-f-]+)"', page)
    assert approval_id
    client.post(f"/tickets/approvals/{approval_id.group(1)}", data={"csrf": csrf, "approve": "true"})
    after = client.get("/api/v1/ticket-approvals?status=pending", headers=world.headers(Role.ADMIN)).json()
    assert [a["step"] for a in after] == [1], "the supervisor's step is done; the admin's remains"
    team = client.post("/api/v1/teams", json={"name": "财务 Finance"}, headers=world.headers(Role.ADMIN)).json()
    moved = client.post(
        f"/tickets/{t['id']}/transfer",
        data={"csrf": csrf, "team_id": team["id"], "note": "退款问题"},
        follow_redirects=False,
    )
    assert moved.headers["location"] == f"/tickets/{t['id']}"
    assert "退款问题" in client.get(f"/tickets/{t['id']}").text
    no_note = client.post(
        f"/tickets/{t['id']}/transfer", data={"csrf": csrf, "team_id": str(world.team_id)}, follow_redirects=False
    )
    assert "error=transfer" in no_note.headers["location"]
