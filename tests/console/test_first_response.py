"""Issue "The staff console", bug 3: an automatic acknowledgement is not the ticket's first response; only a
person's reply is (or a template the tenant marked as counting), and the SLA report says the same."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.tickets.helpers import new_ticket, policies

API = "/api/v1"


def _ack_rule(client: TestClient, world: World, **extra: Any) -> None:
    r = client.post(
        f"{API}/automations",
        json={
            "name": "自动回执 ack",
            "trigger": {"event": "ticket.created"},
            "conditions": [],
            "actions": [{"type": "reply_template", "body": "已收到工单 #{number}", **extra}],
        },
        headers=world.headers(Role.ADMIN),
    )
    assert r.status_code == 201, r.text


def _first_response(client: TestClient, world: World) -> dict[str, Any]:
    rows = client.get(f"{API}/ticket-reports/sla", headers=world.headers(Role.ADMIN)).json()
    met = [r for r in rows if r["metric"] == "first_response"]
    return {"total": sum(r["total"] for r in met), "met": sum(r["met"] for r in met)}


def test_the_automatic_acknowledgement_is_not_a_first_response(client: TestClient, db: Database, world: World) -> None:
    policies(db, world)
    _ack_rule(client, world)
    t = new_ticket(client, world)
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers()).json()
    messages = client.get(f"{API}/tickets/{t['id']}/messages", headers=world.headers()).json()
    assert any(m["source"] == "automation" for m in messages)  # the customer was acknowledged
    assert detail["ticket"]["first_responded_at"] is None
    assert detail["badges"]["first_response"] != "met"
    assert _first_response(client, world) == {"total": 0, "met": 0}
    reply = client.post(
        f"{API}/tickets/{t['id']}/messages", json={"body": "您好，已为您处理", "public": True},
        headers=world.headers(Role.AGENT),
    )  # fmt: skip
    assert reply.status_code == 201
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers()).json()
    assert detail["ticket"]["first_responded_at"] is not None and detail["badges"]["first_response"] == "met"
    assert _first_response(client, world) == {"total": 1, "met": 1}


def test_a_template_the_tenant_marks_as_counting_is_a_first_response(
    client: TestClient, db: Database, world: World
) -> None:
    policies(db, world)
    _ack_rule(client, world, counts_as_first_response=True)
    t = new_ticket(client, world)
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers()).json()
    assert detail["ticket"]["first_responded_at"] is not None
