"""Approvals with an approver chain, temporary grants that expire by themselves, and permissions."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from omnidesk.core.db import Database, utcnow
from omnidesk.security.permissions import Role
from omnidesk.tickets.models import PermissionGrant
from tests.factories import World
from tests.tickets.helpers import new_ticket

API = "/api/v1"


def test_lowering_priority_needs_the_approver_chain(client: TestClient, world: World) -> None:
    t = new_ticket(client, world, priority="high")
    direct = client.patch(
        f"{API}/tickets/{t['id']}", json={"version": t["version"], "priority": "low"}, headers=world.headers(Role.AGENT)
    )
    assert direct.status_code == 409 and direct.json()["type"] == "/problems/approval-required"
    req = client.post(
        f"{API}/tickets/{t['id']}/approvals",
        json={"operation": "lower_priority", "priority": "low", "reason": "客户说不急"},
        headers=world.headers(Role.AGENT),
    )
    assert req.status_code == 201 and req.json()["chain"] == ["supervisor", "admin"]
    aid = req.json()["id"]
    wrong_step = client.post(
        f"{API}/ticket-approvals/{aid}/decision", json={"approve": True}, headers=world.headers(Role.QUALITY_INSPECTOR)
    )
    assert wrong_step.status_code == 403
    step1 = client.post(
        f"{API}/ticket-approvals/{aid}/decision", json={"approve": True}, headers=world.headers(Role.SUPERVISOR)
    )
    assert step1.json()["status"] == "pending" and step1.json()["step"] == 1
    assert (
        client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]["priority"] == "high"
    )
    step2 = client.post(
        f"{API}/ticket-approvals/{aid}/decision", json={"approve": True}, headers=world.headers(Role.ADMIN)
    )
    assert step2.json()["status"] == "executed"
    assert (
        client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]["priority"] == "low"
    )
    done = client.post(
        f"{API}/ticket-approvals/{aid}/decision", json={"approve": True}, headers=world.headers(Role.ADMIN)
    )
    assert done.status_code == 409


def test_deletion_rejected_then_approved(client: TestClient, world: World) -> None:
    t = new_ticket(client, world)
    req = client.post(
        f"{API}/tickets/{t['id']}/approvals",
        json={"operation": "delete", "reason": "重复"},
        headers=world.headers(Role.AGENT),
    ).json()
    rejected = client.post(
        f"{API}/ticket-approvals/{req['id']}/decision",
        json={"approve": False, "note": "不行"},
        headers=world.headers(Role.SUPERVISOR),
    ).json()
    assert rejected["status"] == "rejected"
    req = client.post(
        f"{API}/tickets/{t['id']}/approvals",
        json={"operation": "delete", "reason": "重复"},
        headers=world.headers(Role.AGENT),
    ).json()
    for role in (Role.SUPERVISOR, Role.ADMIN):
        client.post(f"{API}/ticket-approvals/{req['id']}/decision", json={"approve": True}, headers=world.headers(role))
    assert client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).status_code == 404
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.ADMIN)).json()
    assert any(c["field"] == "deleted" for c in history)


def test_refunds_above_the_threshold_need_approval(client: TestClient, world: World) -> None:
    client.patch(f"{API}/ticket-settings", json={"refund_threshold": 200}, headers=world.headers(Role.ADMIN))
    t = new_ticket(client, world)
    small = client.post(
        f"{API}/tickets/{t['id']}/approvals",
        json={"operation": "refund", "amount": 50, "reason": "破损"},
        headers=world.headers(Role.AGENT),
    )
    assert small.json()["status"] == "executed"
    big = client.post(
        f"{API}/tickets/{t['id']}/approvals",
        json={"operation": "refund", "amount": 999, "reason": "整单"},
        headers=world.headers(Role.AGENT),
    )
    assert big.json()["status"] == "pending"


def test_temporary_grants_expire_by_themselves(client: TestClient, world: World, db: Database) -> None:
    agent = world.staff[Role.AGENT]
    r = client.post(
        f"{API}/ticket-grants",
        json={"staff_id": str(agent.id), "permission": "tickets.reports", "minutes": 30, "reason": "周报"},
        headers=world.headers(Role.ADMIN),
    )
    assert r.status_code == 201
    bad = client.post(
        f"{API}/ticket-grants",
        json={"staff_id": str(agent.id), "permission": "tickets.admin", "minutes": 30, "reason": "x"},
        headers=world.headers(Role.ADMIN),
    )
    assert bad.status_code == 422
    from omnidesk.tickets import reports

    actor = world.actor(Role.AGENT)
    with db.tenant_transaction(world.tenant_id) as s:
        assert reports.board(s, actor) == {"cells": {}, "escalated": {}}
        s.execute(update(PermissionGrant).values(expires_at=utcnow() - timedelta(seconds=1)))
    with db.tenant_transaction(world.tenant_id) as s:
        try:
            reports.board(s, actor)
            raise AssertionError("an expired grant must not work")
        except Exception as exc:
            assert "tickets.reports" in str(exc)


def test_settings_refuse_bad_calendars_and_rules(client: TestClient, world: World) -> None:
    r = client.patch(
        f"{API}/ticket-settings",
        json={"calendar": {"time_zone": "Asia/Shanghai", "hours": {"mon": [["18:00", "09:00"]]}}},
        headers=world.headers(Role.ADMIN),
    )
    assert r.status_code == 422 and "not before" in r.json()["detail"]
    r = client.patch(
        f"{API}/ticket-settings", json={"routing_rules": [{"keywords": "退款"}]}, headers=world.headers(Role.ADMIN)
    )
    assert r.status_code == 422
    ok = client.patch(
        f"{API}/ticket-settings",
        json={
            "routing_rules": [
                {"name": "退款", "keywords": ["退款"], "team_id": str(world.team_id), "priority": "high"}
            ],
            "calendar": {
                "time_zone": "Asia/Shanghai",
                "hours": {"mon": [["09:00", "18:00"]]},
                "holidays": ["2026-10-01"],
            },
        },
        headers=world.headers(Role.ADMIN),
    )
    assert ok.status_code == 200, ok.text
    t = new_ticket(client, world, subject="申请退款")
    assert t["team_id"] == str(world.team_id) and t["priority"] == "high"
    # Routed to the team, the ticket goes to its agent: a supervisor reads its history.
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.SUPERVISOR)).json()
    assert "routed by '退款'" in history[0]["note"]
    policy = client.put(
        f"{API}/sla-policies",
        json={"priority": "low", "first_response_minutes": 100, "resolution_minutes": 10},
        headers=world.headers(Role.ADMIN),
    )
    assert policy.status_code == 422
