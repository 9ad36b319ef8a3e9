"""The tickets API end to end: types and custom fields, lifecycle, history, concurrency, collaboration, merge."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.tickets.helpers import move, new_ticket, policies

API = "/api/v1"


def test_builtin_types_and_a_tenant_type_with_custom_fields(client: TestClient, world: World) -> None:
    types = client.get(f"{API}/ticket-types", headers=world.headers(Role.AGENT)).json()
    assert {t["key"] for t in types} >= {"inquiry", "request", "fault", "complaint"}
    r = client.post(
        f"{API}/ticket-types",
        json={
            "key": "return",
            "name": "退货 Return",
            "default_team_id": str(world.team_id),
            "default_priority": "high",
            "fields": [
                {"key": "order_no", "kind": "order_number", "required": True},
                {"key": "reason", "kind": "choice", "options": ["damaged", "wrong_item"], "required": True},
                {"key": "amount", "kind": "number", "min": 0},
                {"key": "bought_on", "kind": "date"},
                {"key": "buyer", "kind": "customer"},
            ],
        },
        headers=world.headers(Role.ADMIN),
    )
    assert r.status_code == 201, r.text
    bad = client.post(
        f"{API}/tickets",
        json={"type": "return", "subject": "退货", "custom_fields": {"reason": "bored", "colour": "red"}},
        headers=world.headers(Role.AGENT),
    )
    assert bad.status_code == 422
    locs = {e["field"] for e in bad.json()["errors"]}
    assert {"custom_fields.order_no", "custom_fields.reason", "custom_fields.colour"} <= locs
    assert client.get(f"{API}/tickets", headers=world.headers(Role.ADMIN)).json()["items"] == []
    t = new_ticket(
        client,
        world,
        type="return",
        custom_fields={"order_no": "SK-20261125-001", "reason": "damaged", "buyer": str(world.customer.id)},
    )
    assert t["team_id"] == str(world.team_id) and t["priority"] == "high"
    assert t["assignee_id"] == str(world.staff[Role.AGENT].id), "assigned inside the default team"
    assert t["custom_fields"]["order_no"] == "SK-20261125-001"


def test_unknown_type_and_unknown_fields_are_clear_errors(client: TestClient, world: World) -> None:
    r = client.post(f"{API}/tickets", json={"type": "magic", "subject": "x"}, headers=world.headers(Role.AGENT))
    assert r.status_code == 422 and "unknown ticket type" in r.json()["detail"]
    r = client.post(f"{API}/tickets", json={"subject": "x", "colour": "red"}, headers=world.headers(Role.AGENT))
    assert r.status_code == 422


def test_lifecycle_history_and_closing_rules(client: TestClient, world: World) -> None:
    t = new_ticket(client, world)
    assert t["status"] == "new" and t["number"] >= 1
    illegal = client.post(
        f"{API}/tickets/{t['id']}/transitions",
        json={"status": "closed", "version": t["version"]},
        headers=world.headers(Role.AGENT),
    )
    assert illegal.status_code == 422 and "cannot become closed" in illegal.json()["detail"]
    t = move(client, world, t, "in_progress")
    t = move(client, world, t, "resolved", resolution="已补发 Resent the parcel")
    no_close = client.post(
        f"{API}/tickets/{t['id']}/transitions",
        json={"status": "closed", "version": t["version"]},
        headers=world.headers(Role.AGENT),
    )
    assert no_close.status_code == 422
    assert {e["field"] for e in no_close.json()["errors"]} == {"root_cause", "prevention"}
    assert client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]["status"] == (
        "resolved"
    ), "nothing half-applied"
    t = move(client, world, t, "closed", root_cause="包装不足 weak packaging", prevention="加厚包装 thicker boxes")
    no_reason = client.post(
        f"{API}/tickets/{t['id']}/transitions",
        json={"status": "reopened", "version": t["version"]},
        headers=world.headers(Role.AGENT),
    )
    assert no_reason.status_code == 422
    t = move(client, world, t, "reopened", reason="客户说又坏了 broken again")
    assert t["second_handling"] is True and t["reopen_count"] == 1
    assert t["assignee_id"] == str(world.staff[Role.AGENT].id) or t["assignee_id"] is None
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
    statuses = [(c["old"], c["new"]) for c in history if c["field"] == "status"]
    assert statuses == [
        ("new", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
        ("closed", "reopened"),
    ]
    assert all(c["actor_type"] == "api_key" and c["actor_id"] for c in history if c["field"] == "status")


def test_reopen_goes_back_to_the_last_handler(client: TestClient, world: World) -> None:
    # Assigned to the agent in person: the agent-role API key (nobody) no longer sees it, a supervisor does.
    t = new_ticket(client, world, assignee_id=str(world.staff[Role.AGENT].id))
    t = move(client, world, t, "resolved", Role.SUPERVISOR)
    r = client.patch(
        f"{API}/tickets/{t['id']}",
        json={"version": t["version"], "assignee_id": str(world.staff[Role.SUPERVISOR].id)},
        headers=world.headers(Role.SUPERVISOR),
    )
    assert r.status_code == 200
    t = r.json()
    r = client.patch(
        f"{API}/tickets/{t['id']}",
        json={"version": t["version"], "assignee_id": None},
        headers=world.headers(Role.SUPERVISOR),
    )
    t = move(client, world, r.json(), "reopened", Role.SUPERVISOR, reason="not fixed")
    assert t["assignee_id"] == str(world.staff[Role.SUPERVISOR].id)


def test_second_of_two_concurrent_edits_gets_a_conflict(client: TestClient, world: World) -> None:
    t = new_ticket(client, world)
    first = client.patch(
        f"{API}/tickets/{t['id']}", json={"version": t["version"], "subject": "A"}, headers=world.headers(Role.AGENT)
    )
    assert first.status_code == 200
    second = client.patch(
        f"{API}/tickets/{t['id']}",
        json={"version": t["version"], "subject": "B"},
        headers=world.headers(Role.SUPERVISOR),
    )
    assert second.status_code == 409 and "changed since you loaded it" in second.json()["detail"]
    final = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    assert final["subject"] == "A"
    null = client.patch(
        f"{API}/tickets/{t['id']}",
        json={"version": final["version"], "subject": None},
        headers=world.headers(Role.AGENT),
    )
    assert null.status_code == 422


def test_replies_comments_mentions_and_first_response(client: TestClient, world: World, db: Database) -> None:
    policies(db, world)
    t = new_ticket(client, world, conversation_id=str(world.conversation.id))
    messages = client.get(f"{API}/tickets/{t['id']}/messages", headers=world.headers(Role.AGENT)).json()
    assert [m["source"] for m in messages] == ["transcript"] and "快递" in messages[0]["body"]
    note = client.post(
        f"{API}/tickets/{t['id']}/messages",
        json={"body": f"@{world.emails[Role.SUPERVISOR].split('@')[0]} 请看一下", "public": False},
        headers=world.headers(Role.AGENT),
    )
    assert note.status_code == 201 and note.json()["mentions"] == [world.emails[Role.SUPERVISOR]]
    inbox = client.get(f"{API}/notifications", headers=world.headers(Role.SUPERVISOR)).json()
    assert any(n["kind"] == "mention" for n in inbox) or inbox == [], "API keys have no staff inbox"
    reply = client.post(
        f"{API}/tickets/{t['id']}/messages",
        json={"body": "已为您补发", "public": True},
        headers=world.headers(Role.AGENT),
    )
    assert reply.status_code == 201
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()
    assert detail["ticket"]["status"] == "open" and detail["ticket"]["first_responded_at"]
    assert detail["badges"]["first_response"] == "met"
    assert str(world.staff[Role.SUPERVISOR].id) in detail["watchers"]
    conv = client.get(f"{API}/conversations/{world.conversation.id}/messages", headers=world.headers(Role.AGENT)).json()
    assert conv["items"][-1]["body"] == "已为您补发", "the public reply reaches the customer's conversation"


def test_transfer_needs_a_note_and_merge_keeps_both_histories(client: TestClient, world: World) -> None:
    team = client.post(f"{API}/teams", json={"name": "物流 Logistics"}, headers=world.headers(Role.ADMIN)).json()
    t = new_ticket(client, world)
    no_note = client.post(
        f"{API}/tickets/{t['id']}/transfer", json={"team_id": team["id"]}, headers=world.headers(Role.AGENT)
    )
    assert no_note.status_code == 422
    moved = client.post(
        f"{API}/tickets/{t['id']}/transfer",
        json={"team_id": team["id"], "note": "物流问题"},
        headers=world.headers(Role.AGENT),
    )
    assert moved.status_code == 200 and moved.json()["team_id"] == team["id"]
    other = new_ticket(client, world, subject="同一个包裹 same parcel")
    merged = client.post(
        f"{API}/tickets/{other['id']}/merge", json={"target_id": t["id"]}, headers=world.headers(Role.AGENT)
    )
    assert merged.status_code == 200
    source = client.get(f"{API}/tickets/{other['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    assert source["status"] == "closed" and source["merged_into_id"] == t["id"]
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
    assert {c["ticket_id"] for c in history} == {t["id"], other["id"]}
    again = client.post(
        f"{API}/tickets/{other['id']}/merge", json={"target_id": t["id"]}, headers=world.headers(Role.AGENT)
    )
    assert again.status_code == 422


def test_links_refuse_cycles(client: TestClient, world: World) -> None:
    a, b = new_ticket(client, world), new_ticket(client, world)
    assert (
        client.post(
            f"{API}/tickets/{a['id']}/links",
            json={"other_id": b["id"], "kind": "parent"},
            headers=world.headers(Role.AGENT),
        ).status_code
        == 204
    )
    cyc = client.post(
        f"{API}/tickets/{b['id']}/links",
        json={"other_id": a["id"], "kind": "parent"},
        headers=world.headers(Role.AGENT),
    )
    assert cyc.status_code == 422


def test_complaints_green_channel_appeal_and_abuse(client: TestClient, world: World) -> None:
    agent = world.staff[Role.AGENT]
    t = new_ticket(
        client,
        world,
        type="complaint",
        major=True,
        concerned_staff_id=str(agent.id),
        subject="快递员态度恶劣 rude courier",
    )
    assert t["green_channel"] is True and t["priority"] == "urgent"
    flagged = client.post(
        f"{API}/tickets/{t['id']}/abuse", json={"note": "辱骂客服"}, headers=world.headers(Role.AGENT)
    )
    assert flagged.json()["abusive"] is True
    not_concerned = client.post(
        f"{API}/tickets/{t['id']}/appeal", json={"reason": "x"}, headers=world.headers(Role.SUPERVISOR)
    )
    assert not_concerned.status_code == 422


def test_tenant_isolation_on_every_ticket_route(client: TestClient, world: World, other_world: World) -> None:
    t = new_ticket(client, world)
    foreign = other_world.headers(Role.ADMIN)
    tid = t["id"]
    for method, path, body in [
        ("GET", f"{API}/tickets/{tid}", None),
        ("PATCH", f"{API}/tickets/{tid}", {"version": 1, "subject": "x"}),
        ("POST", f"{API}/tickets/{tid}/transitions", {"version": 1, "status": "open"}),
        ("GET", f"{API}/tickets/{tid}/messages", None),
        ("POST", f"{API}/tickets/{tid}/messages", {"body": "x"}),
        ("POST", f"{API}/tickets/{tid}/customer-messages", {"body": "x"}),
        ("GET", f"{API}/tickets/{tid}/history", None),
        ("POST", f"{API}/tickets/{tid}/transfer", {"team_id": str(other_world.team_id), "note": "x"}),
        ("POST", f"{API}/tickets/{tid}/watchers", {"staff_id": str(other_world.staff[Role.AGENT].id)}),
        ("POST", f"{API}/tickets/{tid}/links", {"other_id": tid}),
        ("POST", f"{API}/tickets/{tid}/merge", {"target_id": tid}),
        ("POST", f"{API}/tickets/{tid}/appeal", {"reason": "x"}),
        ("POST", f"{API}/tickets/{tid}/abuse", {"note": "x"}),
        ("GET", f"{API}/tickets/{tid}/attachments", None),
        ("POST", f"{API}/tickets/{tid}/approvals", {"operation": "delete", "reason": "x"}),
    ]:
        r = client.request(method, path, json=body, headers=foreign)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert client.get(f"{API}/tickets", headers=foreign).json()["items"] == []
    listing = client.post(
        f"{API}/tickets", json={"subject": "x", "conversation_id": str(world.conversation.id)}, headers=foreign
    )
    assert listing.status_code == 404


def test_saved_views_filter_the_list(client: TestClient, world: World) -> None:
    new_ticket(client, world, priority="urgent", subject="紧急 urgent one")
    new_ticket(client, world, priority="low")
    view = client.post(
        f"{API}/ticket-views",
        json={"name": "紧急", "filters": {"priority": "urgent"}},
        headers=world.headers(Role.AGENT),
    )
    assert view.status_code == 201
    bad = client.post(
        f"{API}/ticket-views", json={"name": "x", "filters": {"colour": "red"}}, headers=world.headers(Role.AGENT)
    )
    assert bad.status_code == 422
    urgent = client.get(f"{API}/tickets?priority=urgent", headers=world.headers(Role.AGENT)).json()["items"]
    assert [t["subject"] for t in urgent] == ["紧急 urgent one"]
    page = client.get(f"{API}/tickets?limit=1", headers=world.headers(Role.AGENT)).json()
    assert page["next_cursor"] and len(page["items"]) == 1


def test_tenant_isolation_on_configuration_routes(client: TestClient, world: World, other_world: World) -> None:
    rule = client.post(
        f"{API}/automations",
        json={"name": "r", "trigger": {"event": "ticket.created"}, "actions": [{"type": "add_tag", "tag": "x"}]},
        headers=world.headers(Role.ADMIN),
    ).json()
    t = new_ticket(client, world)
    approval = client.post(
        f"{API}/tickets/{t['id']}/approvals",
        json={"operation": "delete", "reason": "dup"},
        headers=world.headers(Role.AGENT),
    ).json()
    foreign = other_world.headers(Role.ADMIN)
    assert (
        client.put(
            f"{API}/automations/{rule['id']}",
            json={"name": "r", "trigger": {"event": "ticket.created"}, "actions": [{"type": "add_tag", "tag": "y"}]},
            headers=foreign,
        ).status_code
        == 404
    )
    assert client.delete(f"{API}/automations/{rule['id']}", headers=foreign).status_code == 404
    assert (
        client.post(
            f"{API}/ticket-approvals/{approval['id']}/decision", json={"approve": True}, headers=foreign
        ).status_code
        == 404
    )
    assert client.get(f"{API}/automations", headers=foreign).json() == []
    assert client.get(f"{API}/ticket-approvals", headers=foreign).json() == []
    assert client.get(f"{API}/ticket-views", headers=foreign).json() == []
    grant = client.post(
        f"{API}/ticket-grants",
        json={
            "staff_id": str(world.staff[Role.AGENT].id),
            "permission": "tickets.reports",
            "minutes": 5,
            "reason": "x",
        },
        headers=foreign,
    )
    assert grant.status_code == 404
    assert client.get(f"{API}/ticket-reports/board", headers=foreign).json() == {"cells": {}, "escalated": {}}
    assert (
        client.patch(
            f"{API}/ticket-settings", json={"complaint_team_id": str(world.team_id)}, headers=foreign
        ).status_code
        == 404
    )
