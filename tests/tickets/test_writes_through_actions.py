"""Every state change goes through an action and is announced: reads store nothing; approvals, escalations,
attachments and read markers each emit their ticket or notification event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.core.actor import system_actor
from omnidesk.core.blobs import LocalEncryptedBlobStore
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.events.outbox import pending_events
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Role
from omnidesk.tickets import actions, approvals, notify, ops
from omnidesk.tickets.models import Notification, Ticket, TicketSettings, TicketType
from omnidesk.tickets.schemas import ApprovalCreate, Decision, Operation, TicketCreate
from tests.factories import World

API = "/api/v1"


def _ticket(db: Database, world: World) -> Ticket:
    with db.tenant_transaction(world.tenant_id) as s:
        ticket = actions.create_ticket(
            s, world.actor(Role.AGENT), TicketCreate(subject="退款 Refund", customer_id=world.customer.id)
        )
        s.expunge(ticket)
    return ticket


def _ticket_events(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(e["op"], e) for e in events if e["type"] == "ticket"]


def test_reading_settings_and_types_stores_nothing(client: TestClient, world: World, db: Database) -> None:
    settings = client.get(f"{API}/ticket-settings", headers=world.headers(Role.ADMIN))
    types = client.get(f"{API}/ticket-types", headers=world.headers(Role.ADMIN))
    assert settings.status_code == 200 and settings.json()["approval_chain"] == ["supervisor", "admin"]
    assert {t["key"] for t in types.json()} >= {"inquiry", "request", "fault", "complaint"}
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(TicketSettings.id)) is None
        assert s.scalar(select(TicketType.id)) is None
    # The first ticket stores them, and a built-in type keeps the id it was listed with.
    _ticket(db, world)
    with db.tenant_read(world.tenant_id) as s:
        stored = {t.key: str(t.id) for t in s.scalars(select(TicketType))}
    assert {t["key"]: t["id"] for t in types.json()} == stored


def test_approvals_announce_each_step_and_what_they_changed(db: Database, world: World) -> None:
    ticket = _ticket(db, world)
    with db.tenant_transaction(world.tenant_id) as s:
        approval = approvals.request(
            s, world.actor(Role.AGENT), ticket.id, ApprovalCreate(operation=Operation.DELETE, reason="重复工单")
        )
        requested = _ticket_events(pending_events(s))
    assert [(op, e["status"]) for op, e in requested] == [("approval", "pending")]
    for role in (Role.SUPERVISOR, Role.ADMIN):
        with db.tenant_transaction(world.tenant_id) as s:
            approvals.decide(s, world.actor(role), approval.id, Decision(approve=True))
            decided = _ticket_events(pending_events(s))
    assert ("update", ["deleted_at"]) in [(op, e.get("fields")) for op, e in decided]
    assert [e["status"] for op, e in decided if op == "approval"] == ["executed"]


def test_an_escalation_is_announced(db: Database, world: World) -> None:
    ticket = _ticket(db, world)
    with db.tenant_transaction(world.tenant_id) as s:
        row = s.get(Ticket, ticket.id)
        assert row is not None
        ops.escalate(s, system_actor(world.tenant_id), row, rule_id=None, note="SLA breached")
        events = _ticket_events(pending_events(s))
    assert [(op, e["priority"]) for op, e in events if op == "escalate"] == [("escalate", "high")]


def test_attachments_and_read_markers_are_actions_with_events(
    db: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    ticket = _ticket(db, world)
    store = LocalEncryptedBlobStore(tmp_path, for_purpose(settings, Purpose.BLOBS))
    with db.tenant_transaction(world.tenant_id) as s:
        row = actions.attach(
            s, world.actor(Role.AGENT), ticket.id, store, b"%PDF-1.4 receipt", content_type="application/pdf",
            filename="../发票.pdf", evidence=True, max_bytes=1024,
        )  # fmt: skip
        events = _ticket_events(pending_events(s))
    assert row.filename == ".._发票.pdf" and store.get(row.blob_key) == b"%PDF-1.4 receipt"
    assert [(op, e["attachment_id"]) for op, e in events] == [("attachment", str(row.id))]

    agent = world.staff[Role.AGENT]
    with db.tenant_transaction(world.tenant_id) as s:
        notify.notify(s, world.tenant_id, [agent.id], "mention", ("tickets.notice.escalated_by", {"number": 1,
                      "rule": "r"}), "body", [ticket.id])  # fmt: skip
    with db.tenant_read(world.tenant_id) as s:
        notification_id = s.scalars(select(Notification.id).where(Notification.recipient_id == agent.id)).one()
    with db.tenant_transaction(world.tenant_id) as s:
        actions.mark_notification_read(s, world.actor(Role.AGENT), notification_id)
        read = [e for e in pending_events(s) if e["type"] == "notification"]
    assert [(e["op"], e["read"]) for e in read] == [("update", True)]
