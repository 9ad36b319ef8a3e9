"""The ticket page's requester, assign and macro controls, and /settings/macros, signed in like a person."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, make_world, session_csrf, sign_in
from tests.tickets.helpers import new_ticket


def test_change_requester_and_assign_from_the_ticket_page(client: TestClient, world: World, db: Database) -> None:
    t = new_ticket(client, world, customer_id=None)
    other = client.post(
        "/api/v1/customers", json={"name": "韩梅梅 Han Meimei"}, headers=world.headers(Role.ADMIN)
    ).json()
    sign_in(client, world, Role.AGENT)
    csrf = session_csrf(client)
    page = client.get(f"/tickets/{t['id']}?find=韩梅梅").text
    assert other["id"] in page and "无请求人" in page
    r = client.post(
        f"/tickets/{t['id']}/requester", data={"csrf": csrf, "customer_id": other["id"]}, follow_redirects=False
    )
    assert r.headers["location"] == f"/tickets/{t['id']}"
    page = client.get(f"/tickets/{t['id']}").text
    assert f'href="/contacts/{other["id"]}"' in page
    foreign = make_world(db)
    r = client.post(
        f"/tickets/{t['id']}/requester",
        data={"csrf": csrf, "customer_id": str(foreign.customer.id)},
        follow_redirects=False,
    )
    assert r.headers["location"].endswith("error=requester")
    assert "无法更换请求人" in client.get(r.headers["location"]).text

    now = client.get(f"/api/v1/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    lead = world.staff[Role.SUPERVISOR]
    assert f'value="{lead.id}"' in page, "a supervisor handles tickets: listed"
    assert f'value="{world.staff[Role.AUDITOR].id}"' not in page, "an auditor does not handle tickets: not listed"
    r = client.post(
        f"/tickets/{t['id']}/assign",
        data={"csrf": csrf, "version": now["version"], "assignee_id": str(lead.id), "team_id": str(world.team_id)},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/tickets/{t['id']}"
    after = client.get(f"/api/v1/tickets/{t['id']}", headers=world.headers(Role.ADMIN)).json()["ticket"]
    assert after["assignee_id"] == str(lead.id) and after["team_id"] == str(world.team_id)
    stale = client.post(
        f"/tickets/{t['id']}/assign",
        data={"csrf": csrf, "version": now["version"], "assignee_id": str(world.staff[Role.AGENT].id)},
        follow_redirects=False,
    )
    assert stale.headers["location"].endswith("error=conflict")
    bad = client.post(
        f"/tickets/{t['id']}/assign",
        data={"csrf": csrf, "version": after["version"], "assignee_id": str(world.staff[Role.AUDITOR].id)},
        follow_redirects=False,
    )
    assert bad.headers["location"].endswith("error=assign")
    client.get("/lang/en")
    assert "could not be assigned" in client.get(f"/tickets/{t['id']}?error=assign").text


def test_settings_macros_is_for_ticket_admins_and_shows_errors_inline(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.AGENT)
    assert client.get("/settings/macros").status_code == 403
    sign_in(client, world, Role.ADMIN)
    csrf = session_csrf(client)
    r = client.post("/settings/macros", data={"csrf": csrf, "name": "空 empty"})
    assert r.status_code == 422 and "宏至少需要一个操作" in r.text
    r = client.post("/settings/macros", data={"csrf": csrf, "name": "bad tag", "tags": "a b"})
    assert r.status_code == 422 and "add_tag needs a tag without spaces" in r.text
    r = client.post(
        "/settings/macros",
        data={"csrf": csrf, "name": "跟进 follow-up", "status": "in_progress", "tags": "follow"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    listed = client.get("/api/v1/macros", headers=world.headers(Role.AGENT)).json()
    assert [m["name"] for m in listed] == ["跟进 follow-up"]
    assert listed[0]["actions"] == [
        {"type": "set_field", "field": "status", "value": "in_progress"},
        {"type": "add_tag", "tag": "follow"},
    ]
    assert "/settings/macros" in client.get("/settings").text


def test_editing_on_the_page_keeps_actions_the_form_does_not_show(client: TestClient, world: World) -> None:
    agent_id = str(world.staff[Role.AGENT].id)
    made = client.post(
        "/api/v1/macros",
        json={
            "name": "VIP",
            "actions": [
                {"type": "reply_template", "body": "Hello", "bodies": {"zh-CN": "您好", "en": "Hello"}},
                {"type": "assign", "assignee_id": agent_id},
                {"type": "set_field", "field": "category", "value": "vip"},
            ],
        },
        headers=world.headers(Role.ADMIN),
    ).json()
    sign_in(client, world, Role.ADMIN)
    csrf = session_csrf(client)
    page = client.get(f"/settings/macros?edit={made['id']}").text
    assert ">Hello</textarea>" in page
    r = client.post(
        "/settings/macros",
        data={"csrf": csrf, "macro_id": made["id"], "name": "VIP", "reply": "Hi there", "priority": "high"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (after,) = client.get("/api/v1/macros", headers=world.headers(Role.ADMIN)).json()
    assert after["actions"] == [
        {"type": "reply_template", "body": "Hi there", "bodies": {"zh-CN": "您好", "en": "Hello"}},
        {"type": "set_field", "field": "priority", "value": "high"},
        {"type": "assign", "assignee_id": agent_id},
        {"type": "set_field", "field": "category", "value": "vip"},
    ]
