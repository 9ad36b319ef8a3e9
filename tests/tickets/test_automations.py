"""Tenant-defined automations: validated with clear errors, loops refused, every automated change in the history
with the rule that made it; elapsed-time rules fire once per ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from omnidesk.core.db import Database, utcnow
from omnidesk.jobs import tickets as jobs
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.tickets.helpers import new_ticket

API = "/api/v1"


def save(client: TestClient, world: World, **rule: Any) -> Any:
    return client.post(f"{API}/automations", json=rule, headers=world.headers(Role.ADMIN))


def test_created_rule_changes_fields_with_the_rule_in_history(client: TestClient, world: World) -> None:
    r = save(
        client,
        world,
        name="退款加急 refunds are high",
        trigger={"event": "ticket.created"},
        conditions=[{"field": "subject", "op": "contains", "value": "退款"}],
        actions=[
            {"type": "set_field", "field": "priority", "value": "high"},
            {"type": "add_tag", "tag": "refund"},
            {"type": "add_watcher", "staff_id": str(world.staff[Role.SUPERVISOR].id)},
            {"type": "reply_template", "body": "您的工单 #{number} 已收到"},
        ],
    )
    assert r.status_code == 201, r.text
    rule_id = r.json()["id"]
    t = new_ticket(client, world, subject="我要退款 refund")
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()
    assert detail["ticket"]["priority"] == "high" and detail["ticket"]["tags"] == ["refund"]
    assert str(world.staff[Role.SUPERVISOR].id) in detail["watchers"]
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
    automated = [c for c in history if c["actor_type"] == "automation"]
    assert {c["field"] for c in automated} >= {"priority", "tags", "watcher", "reply"}
    assert all(c["rule_id"] == rule_id for c in automated)
    messages = client.get(f"{API}/tickets/{t['id']}/messages", headers=world.headers(Role.AGENT)).json()
    assert messages[-1]["body"] == f"您的工单 #{t['number']} 已收到" and messages[-1]["source"] == "automation"
    plain = new_ticket(client, world, subject="where is my parcel")
    assert plain["priority"] == "normal"


def test_bad_rules_get_clear_errors_and_nothing_is_saved(client: TestClient, world: World) -> None:
    r = save(
        client,
        world,
        name="bad",
        trigger={"event": "ticket.created"},
        conditions=[{"field": "custom.nope", "op": "eq", "value": 1}],
        actions=[{"type": "explode"}],
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"conditions[0]", "actions[0]"}
    assert client.get(f"{API}/automations", headers=world.headers(Role.ADMIN)).json() == []
    assert (
        save(client, world, name="x", trigger={"event": "ticket.created"}, actions=[{"type": "escalate"}]).status_code
        == 201
    )
    agent = client.post(
        f"{API}/automations",
        json={"name": "y", "trigger": {"event": "ticket.created"}, "actions": [{"type": "escalate"}]},
        headers=world.headers(Role.AGENT),
    )
    assert agent.status_code == 403


def test_cycles_between_rules_are_refused(client: TestClient, world: World) -> None:
    a = save(
        client,
        world,
        name="A",
        trigger={"event": "ticket.updated", "fields": ["priority"]},
        actions=[{"type": "set_field", "field": "category", "value": "x"}],
    )
    assert a.status_code == 201
    b = save(
        client,
        world,
        name="B",
        trigger={"event": "ticket.updated", "fields": ["category"]},
        actions=[{"type": "set_field", "field": "priority", "value": "high"}],
    )
    assert (b.status_code == 422 and "A → B → A" in b.json()["detail"]) or "B → A → B" in b.json()["detail"]
    disabled = save(
        client,
        world,
        name="B",
        enabled=False,
        trigger={"event": "ticket.updated", "fields": ["category"]},
        actions=[{"type": "set_field", "field": "priority", "value": "high"}],
    )
    assert disabled.status_code == 201, "a disabled rule cannot loop"


def test_chains_run_and_stop(client: TestClient, world: World) -> None:
    looping = save(
        client,
        world,
        name="urgent→escalate",
        trigger={"event": "ticket.updated", "fields": ["priority"]},
        actions=[{"type": "escalate"}],
    )
    assert looping.status_code == 422, "escalating raises the priority, which would fire the rule again"
    vip = save(
        client,
        world,
        name="vip→escalate",
        trigger={"event": "ticket.updated", "fields": ["tags"]},
        conditions=[{"field": "tags", "op": "contains", "value": "vip"}],
        actions=[{"type": "escalate"}],
    )
    assert vip.status_code == 201
    save(
        client,
        world,
        name="escalated→tell supervisors",
        trigger={"event": "ticket.updated", "fields": ["escalated"]},
        actions=[{"type": "notify", "to": "supervisors", "message": "VIP"}],
    )
    t = new_ticket(client, world)
    r = client.patch(
        f"{API}/tickets/{t['id']}", json={"version": t["version"], "tags": ["vip"]}, headers=world.headers(Role.AGENT)
    )
    assert r.json()["escalated"] is True and r.json()["priority"] == "high"
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
    assert [c["new"] for c in history if c["field"] == "notified"] == ["supervisors"], "the chain ran to its end"


def test_elapsed_rules_fire_once(client: TestClient, world: World, db: Database) -> None:
    save(
        client,
        world,
        name="4h no answer",
        trigger={"event": "elapsed", "since": "created_at", "minutes": 240},
        conditions=[{"field": "status", "op": "eq", "value": "new"}],
        actions=[{"type": "add_tag", "tag": "stale"}],
    )
    t = new_ticket(client, world)
    jobs.tick(db, utcnow() + timedelta(minutes=100))
    assert client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]["tags"] == []
    later = utcnow() + timedelta(minutes=300)
    jobs.tick(db, later)
    jobs.tick(db, later)
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
    assert len([c for c in history if c["field"] == "tags"]) == 1
