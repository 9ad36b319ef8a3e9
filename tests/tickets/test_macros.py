"""Macros: a named set of ticket actions applied in one click, each change audited and announced as by hand."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, make_world
from tests.tickets.helpers import new_ticket

API = "/api/v1"
MACRO = {
    "name": "破损退款 Broken parcel",
    "description": "refund path",
    "actions": [
        {"type": "reply_template", "body": "{{customer.name}}，您好：工单 #{{ticket.number}} 已收到，我们将为您退款。"},
        {"type": "set_field", "field": "status", "value": "pending_customer"},
        {"type": "set_field", "field": "priority", "value": "high"},
        {"type": "add_tag", "tag": "refund"},
    ],
}


def _macro(client: TestClient, world: World, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post(f"{API}/macros", json=body or MACRO, headers=world.headers(Role.ADMIN))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def test_apply_sets_status_priority_tags_and_replies_once(client: TestClient, world: World, db: Database) -> None:
    macro = _macro(client, world)
    ticket = new_ticket(client, world)
    agent = world.headers(Role.AGENT)
    r = client.post(
        f"{API}/tickets/{ticket['id']}/macros/{macro['id']}/apply", json={"version": ticket["version"]}, headers=agent
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["status"] == "pending_customer" and after["priority"] == "high" and "refund" in after["tags"]
    messages = client.get(f"{API}/tickets/{ticket['id']}/messages", headers=agent).json()
    replies = [m for m in messages if m["public"] and "退款" in m["body"]]
    assert len(replies) == 1
    assert replies[0]["body"].startswith(f"{world.customer.name}，您好：工单 #{ticket['number']}")
    history = client.get(f"{API}/tickets/{ticket['id']}/history", headers=agent).json()
    assert {"status", "priority", "tags"} <= {c["field"] for c in history}
    with db.tenant_transaction(world.tenant_id) as s:
        kinds = list(s.scalars(select(AuditRecord.action).where(AuditRecord.target_id == ticket["id"])))
    assert "ticket.macro_apply" in kinds and "ticket.transition" in kinds and "ticket.message_add" in kinds

    # A retry of the same request (same version) is refused and changes nothing.
    again = client.post(
        f"{API}/tickets/{ticket['id']}/macros/{macro['id']}/apply", json={"version": ticket["version"]}, headers=agent
    )
    assert again.status_code == 409
    messages = client.get(f"{API}/tickets/{ticket['id']}/messages", headers=agent).json()
    assert len([m for m in messages if m["public"] and "退款" in m["body"]]) == 1


def test_idempotency_key_replays_instead_of_applying_twice(client: TestClient, world: World) -> None:
    macro = _macro(client, world)
    ticket = new_ticket(client, world)
    headers = {**world.headers(Role.AGENT), "Idempotency-Key": f"macro-{uuid.uuid4()}"}
    url = f"{API}/tickets/{ticket['id']}/macros/{macro['id']}/apply"
    first = client.post(url, json={}, headers=headers)
    second = client.post(url, json={}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["version"] == second.json()["version"]
    messages = client.get(f"{API}/tickets/{ticket['id']}/messages", headers=world.headers(Role.AGENT)).json()
    assert len([m for m in messages if m["public"] and "退款" in m["body"]]) == 1


def test_all_or_nothing_when_an_action_cannot_apply(client: TestClient, world: World) -> None:
    macro = _macro(
        client,
        world,
        {
            "name": "close now",
            "actions": [
                {"type": "add_tag", "tag": "closing"},
                {"type": "set_field", "field": "status", "value": "closed"},
            ],
        },
    )
    ticket = new_ticket(client, world)
    r = client.post(f"{API}/tickets/{ticket['id']}/macros/{macro['id']}/apply", headers=world.headers(Role.AGENT))
    assert r.status_code == 422 and "cannot become closed" in r.json()["detail"], r.text
    now = client.get(f"{API}/tickets/{ticket['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    assert "closing" not in now["tags"] and now["version"] == ticket["version"]


def test_other_tenants_macro_is_not_found(client: TestClient, world: World, db: Database) -> None:
    other = make_world(db)
    theirs = _macro(client, other)
    ticket = new_ticket(client, world)
    r = client.post(f"{API}/tickets/{ticket['id']}/macros/{theirs['id']}/apply", headers=world.headers(Role.AGENT))
    assert r.status_code == 404
    assert theirs["id"] not in {m["id"] for m in client.get(f"{API}/macros", headers=world.headers()).json()}
    r = client.delete(f"{API}/macros/{theirs['id']}", headers=world.headers())
    assert r.status_code == 404


def test_agent_cannot_manage_macros_and_actions_are_validated(client: TestClient, world: World) -> None:
    r = client.post(f"{API}/macros", json=MACRO, headers=world.headers(Role.AGENT))
    assert r.status_code == 403
    bad = {
        "name": "bad",
        "actions": [
            {"type": "escalate"},
            {"type": "set_field", "field": "status", "value": "nonsense"},
            {"type": "add_tag", "tag": "two words"},
        ],
    }
    r = client.post(f"{API}/macros", json=bad, headers=world.headers(Role.ADMIN))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"actions[0]", "actions[1]", "actions[2]"}
    made = _macro(client, world)
    assert client.post(f"{API}/macros", json=MACRO, headers=world.headers(Role.ADMIN)).status_code == 409
    r = client.put(f"{API}/macros/{made['id']}", json={**MACRO, "name": "renamed"}, headers=world.headers())
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    assert client.delete(f"{API}/macros/{made['id']}", headers=world.headers(Role.AGENT)).status_code == 403


def test_requester_can_be_changed(client: TestClient, world: World, db: Database) -> None:
    ticket = new_ticket(client, world, customer_id=None)
    r = client.put(
        f"{API}/tickets/{ticket['id']}/requester",
        json={"customer_id": str(world.customer.id)},
        headers=world.headers(Role.AGENT),
    )
    assert r.status_code == 200 and r.json()["customer_id"] == str(world.customer.id)
    other = make_world(db)
    r = client.put(
        f"{API}/tickets/{ticket['id']}/requester",
        json={"customer_id": str(other.customer.id)},
        headers=world.headers(Role.AGENT),
    )
    assert r.status_code == 404
