"""The server-rendered workspace: inbox views and filters, the pane, the supervisor page, tenant isolation."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World, sign_in, start_visitor, visitor_conversation


def test_inbox_views_pane_and_canned(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "我想退货")
    client.post(f"/api/v1/conversations/{conv['id']}/notes", json={"body": "老客户"}, headers=world.headers())
    client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "ret", "title": "退货", "body": "{customer_name} 您好"},
        headers=world.headers(),
    )
    sign_in(client, world, Role.AGENT)
    unassigned = client.get("/inbox", params={"view": "unassigned"})
    assert unassigned.status_code == 200 and conv["id"] in unassigned.text
    assert conv["id"] not in client.get("/inbox", params={"view": "mine"}).text
    assert conv["id"] not in client.get("/inbox/list", params={"view": "all", "channel": "email"}).text
    pane = client.get("/inbox", params={"view": "unassigned", "c": conv["id"]}).text
    assert "我想退货" in pane and "老客户" in pane and "/ret" in pane
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', pane)
    assert client.get("/supervisor").status_code == 403


def test_workspace_pages_never_show_another_tenant(client: TestClient, world: World, other_world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "A 公司的秘密")
    sign_in(client, other_world, Role.ADMIN)
    for url in (f"/inbox?view=all&c={conv['id']}", "/inbox/list?view=all", "/supervisor", "/supervisor/panel"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "A 公司的秘密" not in response.text and conv["id"] not in response.text


def test_supervisor_and_widget_settings_pages(client: TestClient, world: World) -> None:
    visitor_conversation(client, start_visitor(client, world.slug))
    sign_in(client, world, Role.ADMIN)
    board = client.get("/supervisor")
    assert board.status_code == 200 and "wait" in board.text
    settings = client.get("/settings/widget")
    assert settings.status_code == 200 and f"data-omnidesk-tenant=&#34;{world.slug}&#34;" in settings.text
    identity_help = settings.text.split('id="identity-help">')[1].split("</p>")[0]  # how to sign, and for how long
    assert "HMAC-SHA256" in identity_help and "10" in identity_help
    assert client.get("/inbox", follow_redirects=False).status_code == 200
    client.cookies.clear()
    assert client.get("/inbox", follow_redirects=False).headers["location"] == "/login"
