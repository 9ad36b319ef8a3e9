"""The ACD through the real app and database: skill steps that widen with a controllable clock, supervisor
controls over HTTP (audited), automatic away, queue status from the handling rate and the callback offer."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.accounts.models import StaffUser
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database, utcnow
from omnidesk.events.presence import MemoryPresence
from omnidesk.routing import actions, queries, service
from omnidesk.routing.models import AgentPresence, CallbackRequest
from omnidesk.routing.strategy import Presence
from omnidesk.security.permissions import Role
from tests.factories import World, start_visitor, visitor_conversation


def _online(db: Database, world: World, presence: MemoryPresence, role: Role) -> uuid.UUID:
    staff_id = world.staff[role].id
    presence.touch(world.tenant_id, staff_id, f"conn-{role}")
    with db.tenant_transaction(world.tenant_id) as s:
        actions.set_presence(s, world.actor(role), Presence.ONLINE)
    return staff_id


def _entry(db: Database, world: World, conversation_id: str) -> tuple[str, uuid.UUID | None, dict]:  # type: ignore[type-arg]
    with db.tenant_transaction(world.tenant_id) as s:
        entry = queries.entry_for(s, uuid.UUID(conversation_id))
        assert entry is not None
        return entry.state, entry.offered_to, dict(entry.last_trace)


def _vip_queue(client: TestClient, world: World, **extra: object) -> dict:  # type: ignore[type-arg]
    body = {
        "name": "VIP 专线",
        "skills": ["vip"],
        "steps": [
            {"min_proficiency": 4, "timeout_seconds": 20},
            {"min_proficiency": 2, "timeout_seconds": 20},
            {"min_proficiency": 0},
        ],
        "selection": "best_score",
        "is_default": True,
        **extra,
    }
    response = client.post("/api/v1/routing/queues", json=body, headers=world.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_reconciler_offers_the_proficient_agent_first_and_widens_after_the_timeout(
    client: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _vip_queue(client, world)
    expert, junior = world.staff[Role.SUPERVISOR].id, world.staff[Role.AGENT].id
    for staff_id, level in ((expert, 5), (junior, 2)):
        put = client.put(
            f"/api/v1/routing/agents/{staff_id}/skills", json={"levels": {"vip": level}}, headers=world.headers()
        )
        assert put.status_code == 200, put.text
    with db.tenant_transaction(world.tenant_id) as s:
        s.get(StaffUser, expert).max_concurrent = 1  # type: ignore[union-attr]
    presence = MemoryPresence()
    _online(db, world, presence, Role.SUPERVISOR)
    _online(db, world, presence, Role.AGENT)
    visitor = start_visitor(client, world.slug)
    first = visitor_conversation(client, visitor, "我的订单")
    second = visitor_conversation(client, start_visitor(client, world.slug), "我的退款")
    assert service.reconcile_once(db, presence) >= 1
    state, offered_to, trace = _entry(db, world, first["id"])
    assert (state, offered_to) == ("offered", expert)
    assert trace["step"] == 0 and trace["chosen"] == str(expert) and "best score" in trace["why"]
    # The expert is full; the junior lacks proficiency 4: the second contact waits at step 0, and says why.
    state, offered_to, trace = _entry(db, world, second["id"])
    assert (state, offered_to) == ("waiting", None)
    assert trace["step"] == 0 and trace["rejected"]["counts"] == {
        "missing_skill": 1,
        "no_capacity": 1,
        "unavailable": 5,
    }
    later = utcnow() + timedelta(seconds=21)
    monkeypatch.setattr(actions, "utcnow", lambda: later)
    assert service.reconcile_once(db, presence) >= 1
    state, offered_to, trace = _entry(db, world, second["id"])
    assert (state, offered_to) == ("offered", junior) and trace["step"] == 1
    # Supervisors read the trace over the API; agents may not.
    read = client.get(f"/api/v1/routing/conversations/{second['id']}/trace", headers=world.headers(Role.SUPERVISOR))
    assert read.status_code == 200 and read.json()["trace"]["chosen"] == str(junior)
    assert "vip" in read.json()["requirements"]["skills"]
    assert (
        client.get(f"/api/v1/routing/conversations/{second['id']}/trace", headers=world.headers(Role.AGENT)).status_code
        == 403
    )


def test_supervisor_controls_over_http_are_audited(client: TestClient, world: World, db: Database) -> None:
    vip = _vip_queue(client, world, steps=[{"min_proficiency": 0}])
    other = client.post("/api/v1/routing/queues", json={"name": "普通"}, headers=world.headers()).json()
    presence = MemoryPresence()
    client.app.state.presence = presence  # type: ignore[attr-defined]
    supervisor = world.headers(Role.SUPERVISOR)
    paused = client.post(f"/api/v1/routing/queues/{vip['id']}/pause", json={"paused": True}, headers=supervisor)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    agent = _online(db, world, presence, Role.AGENT)
    conv = visitor_conversation(client, start_visitor(client, world.slug))
    service.reconcile_once(db, presence)
    state, _, trace = _entry(db, world, conv["id"])
    assert state == "waiting" and trace["why"] == "queue paused"
    wall = {w["name"]: w for w in client.get("/api/v1/routing/wall", headers=supervisor).json()}
    assert wall["VIP 专线"]["paused"] and wall["VIP 专线"]["waiting"] == 1 and wall["VIP 专线"]["agents_available"] == 1
    # Move the contact to the other queue: offered there at once.
    moved = client.post(
        f"/api/v1/routing/conversations/{conv['id']}/move", json={"queue_id": other["id"]}, headers=supervisor
    )
    assert moved.status_code == 200, moved.text
    assert _entry(db, world, conv["id"])[:2] == ("offered", agent)
    # Set the agent away: their offer goes back; resume the VIP queue.
    away = client.put(f"/api/v1/routing/agents/{agent}/state", json={"status": "away"}, headers=supervisor)
    assert away.status_code == 200 and away.json()["status"] == "away"
    assert _entry(db, world, conv["id"])[:2] == ("waiting", None)
    assert (
        client.post(f"/api/v1/routing/queues/{vip['id']}/pause", json={"paused": False}, headers=supervisor).status_code
        == 200
    )
    # Force-assign to the (away) agent: it leaves the queue.
    forced = client.post(
        f"/api/v1/conversations/{conv['id']}/assign", json={"assignee_id": str(agent)}, headers=supervisor
    )
    assert forced.status_code == 200 and forced.json()["assignee_id"] == str(agent)
    assert _entry(db, world, conv["id"])[0] == "assigned"
    # An agent may not use the controls; bad input changes nothing.
    assert (
        client.post(
            f"/api/v1/routing/queues/{vip['id']}/pause", json={"paused": True}, headers=world.headers(Role.AGENT)
        ).status_code
        == 403
    )
    bad = client.put(
        f"/api/v1/routing/queues/{vip['id']}",
        json={"name": "VIP 专线", "steps": [{"min_proficiency": 0}, {"min_proficiency": 2, "timeout_seconds": 5}]},
        headers=world.headers(),
    )
    assert bad.status_code == 422
    with db.tenant_transaction(world.tenant_id) as s:
        done = set(s.scalars(select(AuditRecord.action).where(AuditRecord.action.like("routing.%"))))
    assert {
        "routing.queue_save",
        "routing.queue_pause",
        "routing.move",
        "routing.agent_state",
        "routing.skills",
    } - done == {"routing.skills"}


def test_missed_offers_set_the_agent_away(
    client: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    presence = MemoryPresence()
    agent = _online(db, world, presence, Role.AGENT)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.update_policy(s, world.actor(Role.ADMIN), accept_timeout_seconds=10, missed_offers_limit=2)
    conv = visitor_conversation(client, start_visitor(client, world.slug))
    now = utcnow()
    for n in range(1, 4):  # the first pass offers; each later one finds the offer lapsed
        monkeypatch.setattr(actions, "utcnow", lambda n=n: now + timedelta(seconds=11 * n))
        service.reconcile_once(db, presence)
    with db.tenant_transaction(world.tenant_id) as s:
        row = s.scalar(select(AgentPresence).where(AgentPresence.staff_id == agent))
        assert row is not None and row.status == "away" and row.missed_offers == 2
        assert s.scalar(select(AuditRecord).where(AuditRecord.action == "routing.auto_away")) is not None
    assert _entry(db, world, conv["id"])[:2] == ("waiting", None)


def test_queue_status_and_the_callback_offer(client: TestClient, world: World, db: Database) -> None:
    _vip_queue(client, world, steps=[{"min_proficiency": 0}], callback_threshold_seconds=30)
    presence = MemoryPresence()
    _online(db, world, presence, Role.AGENT)
    with db.tenant_transaction(world.tenant_id) as s:
        s.get(StaffUser, world.staff[Role.AGENT].id).max_concurrent = 0  # type: ignore[union-attr]
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "请帮我查一下")
    status = client.get(f"{visitor['base']}/conversations/{conv['id']}/queue", headers=visitor["headers"]).json()
    assert status["waiting"] and status["position"] == 1 and status["expected_wait_seconds"] > 30
    assert status["callback_offered"] is True and "回电" in status["message"]
    en = client.get(
        f"{visitor['base']}/conversations/{conv['id']}/queue", headers={**visitor["headers"], "Accept-Language": "en"}
    ).json()
    assert (
        en["expected_wait_seconds"] == status["expected_wait_seconds"]
        or abs(en["expected_wait_seconds"] - status["expected_wait_seconds"]) <= 1
    )
    assert "call you back" in en["message"]
    bad = client.post(
        f"{visitor['base']}/conversations/{conv['id']}/callback", json={"phone": "abc"}, headers=visitor["headers"]
    )
    assert bad.status_code == 422
    made = client.post(
        f"{visitor['base']}/conversations/{conv['id']}/callback",
        json={"phone": "+86 138 0013 8000"},
        headers=visitor["headers"],
    )
    assert made.status_code == 201 and made.json()["state"] == "requested"
    with db.tenant_transaction(world.tenant_id) as s:
        assert s.scalar(select(CallbackRequest.phone)) == "+86 138 0013 8000"


def test_an_accepted_chat_left_unanswered_is_offered_again(
    client: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    presence = MemoryPresence()
    agent = _online(db, world, presence, Role.AGENT)
    other = _online(db, world, presence, Role.SUPERVISOR)
    put = client.put(
        "/api/v1/routing/policy",
        json={"accept_timeout_seconds": 60, "reoffer_unanswered_minutes": 1},
        headers=world.headers(),
    )
    assert put.status_code == 200 and put.json()["reoffer_unanswered_minutes"] == 1
    conv = visitor_conversation(client, start_visitor(client, world.slug))
    service.reconcile_once(db, presence)
    _, first, _ = _entry(db, world, conv["id"])
    role = Role.AGENT if first == agent else Role.SUPERVISOR
    with db.tenant_transaction(world.tenant_id) as s:
        actions.accept_offer(s, world.actor(role), uuid.UUID(conv["id"]))
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(actions, "utcnow", lambda: later)
    service.reconcile_once(db, presence)
    state, offered_to, _ = _entry(db, world, conv["id"])
    assert state == "offered" and offered_to == (other if first == agent else agent)
    with db.tenant_transaction(world.tenant_id) as s:
        assert s.scalar(select(AuditRecord).where(AuditRecord.action == "routing.reoffer_unanswered")) is not None
