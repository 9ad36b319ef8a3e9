"""The reconciler acts on all due clocks of a tenant in one go: each ticket ends up exactly as if its breaches had
been handled one at a time (history, priority, tags, status, notices, audit, events), and the bulk ticket write still
refuses a ticket that changed since it was loaded."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import Conflict
from omnidesk.jobs import tickets as jobs
from omnidesk.security.permissions import Role
from omnidesk.tickets import notify, ops
from omnidesk.tickets.models import Notification, Ticket, TicketChange
from tests.factories import World
from tests.tickets.helpers import new_ticket, policies

API = "/api/v1"
PRIORITIES = ("low", "normal", "high", "urgent")


def _rules(client: TestClient, world: World) -> None:
    rules: list[dict[str, Any]] = [
        # Fires on every breach (a second breach finds the tag already there and changes nothing).
        {"name": "tag breaches", "trigger": {"event": "sla.breached"}, "actions": [{"type": "add_tag", "tag": "sla"}]},
        # Chained on the tag, only for tickets the escalation made urgent: a status move (its own flush mid-tick).
        {
            "name": "urgent breaches get worked on",
            "trigger": {"event": "ticket.updated", "fields": ["tags"]},
            "conditions": [{"field": "priority", "op": "eq", "value": "urgent"}],
            "actions": [{"type": "set_field", "field": "status", "value": "in_progress"}],
        },
        # An illegal move: skipped inside its savepoint and noted in the history.
        {
            "name": "close normal ones",
            "trigger": {"event": "sla.breached"},
            "conditions": [{"field": "priority", "op": "eq", "value": "normal"}],
            "actions": [{"type": "set_field", "field": "status", "value": "closed"}],
        },
    ]
    for rule in rules:
        r = client.post(f"{API}/automations", json=rule, headers=world.headers(Role.ADMIN))
        assert r.status_code == 201, r.text


def _effects(db: Database, world: World, ticket_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything a user can see of a ticket's breaches, without ids and times that differ between runs."""
    tid = uuid.UUID(ticket_id)
    with db.tenant_transaction(world.tenant_id) as s:
        ticket = s.get(Ticket, tid)
        assert ticket is not None
        changes = s.scalars(select(TicketChange).where(TicketChange.ticket_id == tid)).all()
        notices = s.scalars(select(Notification)).all()
        audits = s.scalars(select(AuditRecord).where(AuditRecord.target_id == ticket_id)).all()
        return {
            "ticket": (ticket.priority, ticket.escalated, ticket.tags, ticket.status),
            "history": Counter(
                (c.field, str(c.old), str(c.new), c.actor_type, str(c.rule_id), c.note) for c in changes
            ),
            # Who was told (alerts are digests: one tick names all its breaches once per recipient).
            "notices": {(n.recipient_id, n.kind) for n in notices if ticket_id in n.ticket_ids},
            "audit": Counter((a.action, str(sorted(a.changes.items()))) for a in audits if a.action != "ticket.create"),
            "events": Counter(
                (e["op"], e.get("priority"), str(e.get("fields")), e.get("status"))
                for e in events
                if e.get("ticket_id") == ticket_id
            ),
        }


def test_one_tick_for_many_breaches_equals_one_breach_at_a_time(
    client: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies(db, world, first=10, resolution=30)
    _rules(client, world)
    events: list[dict[str, Any]] = []
    assert db.bus is not None
    publish, publish_many = db.bus.publish, db.bus.publish_many
    monkeypatch.setattr(db.bus, "publish", lambda ch, ev: (events.append(ev), publish(ch, ev)))
    monkeypatch.setattr(db.bus, "publish_many", lambda ch, evs: (events.extend(evs), publish_many(ch, evs)))

    def due_at() -> datetime:
        return utcnow() + timedelta(minutes=31)

    together = {p: new_ticket(client, world, priority=p)["id"] for p in PRIORITIES}
    batch = jobs.tick(db, due_at())
    assert batch["breaches"] == 8, "both clocks of all four tickets in one tick"

    alone = {p: new_ticket(client, world, priority=p)["id"] for p in PRIORITIES}
    singles = [jobs.tick(db, due_at(), batch=1) for _ in range(12)]
    assert [t["breaches"] for t in singles][:8] == [1] * 8 and sum(t["breaches"] for t in singles) == 8

    for p in PRIORITIES:
        got, want = _effects(db, world, together[p], events), _effects(db, world, alone[p], events)
        assert got == want, p
    urgent = _effects(db, world, together["high"], events)
    assert urgent["ticket"] == ("urgent", True, ["sla"], "in_progress"), "raised once, tagged, moved by the chain"
    assert urgent["history"][("priority", "high", "urgent", "system", "None", "SLA breach: first_response")] == 1
    normal = _effects(db, world, together["low"], events)
    assert normal["ticket"] == ("normal", True, ["sla"], "new")
    assert sum(n for (field, *_), n in normal["history"].items() if field == "automation") == 2, "skipped per breach"
    with db.tenant_transaction(world.tenant_id) as s:
        leads = notify.supervisors(s)
    assert normal["notices"] == {(person, "sla_breach") for person in leads}, "every supervisor and admin told"
    # The skipped close rolls back its savepoint only: the escalation queued before it is still announced.
    assert normal["events"][("escalate", "normal", "None", None)] == 1


def test_bulk_ticket_write_refuses_a_ticket_changed_since_it_was_loaded(
    client: TestClient, world: World, db: Database
) -> None:
    tid = uuid.UUID(new_ticket(client, world, priority="low")["id"])
    with pytest.raises(Conflict), db.tenant_transaction(world.tenant_id) as s:
        ticket = s.get(Ticket, tid)
        assert ticket is not None
        # Someone else's committed change, as seen by the row: the version moved on since the load.
        s.connection().execute(update(Ticket.__table__).where(Ticket.__table__.c.id == tid).values(version=9))
        ticket.priority = "urgent"
        ops.write_in_bulk(s, [ticket])
    detail = client.get(f"{API}/tickets/{tid}", headers=world.headers(Role.AGENT)).json()
    assert detail["ticket"]["priority"] == "low", "nothing written"
