"""The SLA reconciler: stored deadlines, pause while waiting on the customer, warnings and breaches acted on once,
batched alerts, and correct results after a "restart" (a fresh database handle reading only stored state)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.core.db import Database, utcnow
from omnidesk.jobs import tickets as jobs
from omnidesk.security.permissions import Role
from omnidesk.tickets.models import Notification, SlaClock, SlaEvent
from tests.factories import World
from tests.tickets.helpers import move, new_ticket, policies

API = "/api/v1"


def clocks(db: Database, world: World, ticket_id: str) -> dict[str, SlaClock]:
    with db.tenant_transaction(world.tenant_id) as s:
        rows = s.scalars(select(SlaClock).where(SlaClock.ticket_id == uuid.UUID(ticket_id))).all()
        return {r.metric: r for r in rows}


def test_deadlines_are_stored_and_paused_while_waiting(client: TestClient, world: World, db: Database) -> None:
    policies(db, world, first=60, resolution=240)
    t = new_ticket(client, world)
    c = clocks(db, world, t["id"])
    created = c["resolution"].running_since
    assert created is not None
    assert c["first_response"].deadline_at == created + timedelta(minutes=60)
    assert c["resolution"].due_at == created + timedelta(minutes=240 * 0.8), "the warning is due first"
    t = move(client, world, t, "pending_customer")
    c = clocks(db, world, t["id"])
    assert c["resolution"].deadline_at is None and c["resolution"].due_at is None
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()
    assert detail["badges"]["resolution"] == "paused"
    r = client.post(
        f"{API}/tickets/{t['id']}/customer-messages", json={"body": "照片在这里"}, headers=world.headers(Role.AGENT)
    )
    assert r.status_code == 201
    detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()
    assert detail["ticket"]["status"] == "open" and detail["badges"]["resolution"] == "ok"
    assert clocks(db, world, t["id"])["resolution"].deadline_at is not None


def test_breach_escalates_once_and_alerts_are_batched(client: TestClient, world: World, db: Database) -> None:
    policies(db, world, first=10, resolution=30)
    tickets = [new_ticket(client, world, priority="normal") for _ in range(3)]
    now = utcnow()
    first = jobs.tick(db, now + timedelta(minutes=9))
    assert first["warnings"] >= 3
    breach = jobs.tick(db, now + timedelta(minutes=31))
    assert breach["breaches"] >= 6
    for t in tickets:
        detail = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()
        assert detail["ticket"]["escalated"] is True and detail["ticket"]["priority"] == "high", "raised one step"
        assert detail["badges"]["resolution"] == "breached"
        history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
        assert [c["new"] for c in history if c["field"] == "priority"] == ["high"], "raised once, not per metric"
        assert all(c["actor_type"] == "system" for c in history if c["field"] == "escalated")
    jobs.tick(db, now + timedelta(minutes=90))
    with db.tenant_transaction(world.tenant_id) as s:
        kinds = s.execute(select(SlaEvent.kind, func.count()).group_by(SlaEvent.kind)).all()
        assert dict(kinds) == {"warning": 3, "breach": 6}, "the later tick found nothing new to act on"
        supervisor = world.staff[Role.SUPERVISOR].id
        notices = s.scalars(
            select(Notification).where(Notification.recipient_id == supervisor, Notification.kind == "sla_breach")
        ).all()
        assert len(notices) <= 2 and sum(len(n.ticket_ids) for n in notices) == 3, "one digest per tick, not per ticket"


def test_two_workers_never_escalate_the_same_breach_twice(client: TestClient, world: World, db: Database) -> None:
    policies(db, world, first=5, resolution=5)
    t = new_ticket(client, world)
    later = utcnow() + timedelta(minutes=10)
    other = Database(db.url)  # a second worker process: its own engine, only the stored state in common
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run(handle: Database) -> None:
        try:
            results.append(jobs.tick(handle, later))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h,)) for h in (db, other)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    other.dispose()
    assert not errors
    with db.tenant_transaction(world.tenant_id) as s:
        events = s.scalar(
            select(func.count())
            .select_from(SlaEvent)
            .join(SlaClock, SlaClock.id == SlaEvent.clock_id)
            .where(SlaClock.ticket_id == uuid.UUID(t["id"]), SlaEvent.kind == "breach")
        )
    assert events == 2, "one breach marker per metric"
    history = client.get(f"{API}/tickets/{t['id']}/history", headers=world.headers(Role.AGENT)).json()
    assert len([c for c in history if c["field"] == "escalated"]) == 1


def test_restart_reads_only_stored_deadlines(client: TestClient, world: World, db: Database) -> None:
    policies(db, world, first=5, resolution=60)
    t = new_ticket(client, world)
    fresh = Database(db.url)  # as after a restart: nothing in memory
    try:
        assert jobs.tick(fresh, utcnow() + timedelta(minutes=6))["breaches"] >= 1
    finally:
        fresh.dispose()
    assert clocks(db, world, t["id"])["first_response"].breached_at is not None


def test_resolve_stops_clocks_and_the_report_counts_them(client: TestClient, world: World, db: Database) -> None:
    policies(db, world, first=60, resolution=240)
    t = new_ticket(client, world)
    client.post(
        f"{API}/tickets/{t['id']}/messages", json={"body": "处理中", "public": True}, headers=world.headers(Role.AGENT)
    )
    t = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    move(client, world, t, "resolved", resolution="done")
    report = client.get(f"{API}/ticket-reports/sla", headers=world.headers(Role.SUPERVISOR)).json()
    assert {r["metric"]: r["percent"] for r in report} == {"first_response": 100.0, "resolution": 100.0}
    assert client.get(f"{API}/ticket-reports/sla", headers=world.headers(Role.AGENT)).status_code == 403
    process = client.get(f"{API}/ticket-reports/process", headers=world.headers(Role.SUPERVISOR)).json()
    assert process["paths"][0]["path"] == "new → open → resolved"
    board = client.get(f"{API}/ticket-reports/board", headers=world.headers(Role.SUPERVISOR)).json()
    assert sum(sum(v.values()) for v in board["cells"].values()) == 1
