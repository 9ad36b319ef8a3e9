"""Routing against the real database: queue, offers, accept, lapse, capacity, round robin, presence, restart."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from omnidesk.accounts.models import StaffUser
from omnidesk.conversations.models import Conversation
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import Conflict, NotFound
from omnidesk.events.presence import MemoryPresence
from omnidesk.routing import actions, queries, service
from omnidesk.routing.strategy import Presence, QueueState
from omnidesk.security.permissions import Role
from tests.factories import World, start_visitor, visitor_conversation


def _online(db: Database, world: World, presence: MemoryPresence, role: Role = Role.AGENT) -> uuid.UUID:
    staff_id = world.staff[role].id
    presence.touch(world.tenant_id, staff_id, f"conn-{role}")
    with db.tenant_transaction(world.tenant_id) as s:
        actions.set_presence(s, world.actor(role), Presence.ONLINE)
    return staff_id


def _route(db: Database, world: World, presence: MemoryPresence) -> list[uuid.UUID]:
    with db.tenant_transaction(world.tenant_id) as s:
        return [e.conversation_id for e in actions.route_waiting(s, connected=presence.connected(world.tenant_id))]


def _entry_state(db: Database, world: World, conversation_id: str) -> tuple[str, uuid.UUID | None]:
    with db.tenant_transaction(world.tenant_id) as s:
        entry = queries.entry_for(s, uuid.UUID(conversation_id))
        assert entry is not None
        return entry.state, entry.offered_to


def test_waiting_conversation_is_offered_accepted_and_assigned(client: TestClient, world: World, db: Database) -> None:
    presence = MemoryPresence()
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "人工客服")
    assert _entry_state(db, world, conv["id"]) == ("waiting", None)
    status = client.get(f"{visitor['base']}/conversations/{conv['id']}/queue", headers=visitor["headers"]).json()
    # Nobody online: a place in line but no made-up wait.
    assert status["waiting"] is True and status["position"] >= 1 and status["expected_wait_seconds"] is None
    agent = _online(db, world, presence)
    status = client.get(f"{visitor['base']}/conversations/{conv['id']}/queue", headers=visitor["headers"]).json()
    assert status["expected_wait_seconds"] > 0
    assert uuid.UUID(conv["id"]) in _route(db, world, presence)
    assert _entry_state(db, world, conv["id"]) == ("offered", agent)
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = actions.accept_offer(s, world.actor(Role.AGENT), uuid.UUID(conv["id"]))
        assert conversation.assignee_id == agent
    assert _entry_state(db, world, conv["id"])[0] == "assigned"
    after = client.get(f"{visitor['base']}/conversations/{conv['id']}/queue", headers=visitor["headers"]).json()
    assert after["waiting"] is False
    with db.tenant_transaction(world.tenant_id) as s, pytest.raises(NotFound):
        actions.accept_offer(s, world.actor(Role.AGENT), uuid.UUID(conv["id"]))  # accepting twice: gone


def test_an_offer_not_accepted_in_time_returns_to_the_queue(
    client: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    presence = MemoryPresence()
    with db.tenant_transaction(world.tenant_id) as s:
        actions.update_policy(s, world.actor(Role.ADMIN), accept_timeout_seconds=30)
    agent = _online(db, world, presence)
    supervisor = _online(db, world, presence, Role.SUPERVISOR)
    conv = visitor_conversation(client, start_visitor(client, world.slug))
    _route(db, world, presence)
    state, first = _entry_state(db, world, conv["id"])
    assert state == "offered" and first in (agent, supervisor)
    later = utcnow() + timedelta(seconds=31)
    monkeypatch.setattr(actions, "utcnow", lambda: later)
    with db.tenant_transaction(world.tenant_id) as s:
        assert actions.expire_offers(s) >= 1
    with db.tenant_transaction(world.tenant_id) as s, pytest.raises((Conflict, NotFound)):
        actions.accept_offer(s, world.actor(Role.AGENT if first == agent else Role.SUPERVISOR), uuid.UUID(conv["id"]))
    _route(db, world, presence)
    state, second = _entry_state(db, world, conv["id"])
    assert state == "offered" and second != first  # the one who let it lapse is skipped this round


def test_capacity_and_round_robin(client: TestClient, world: World, db: Database) -> None:
    presence = MemoryPresence()
    with db.tenant_transaction(world.tenant_id) as s:
        for role in (Role.AGENT, Role.SUPERVISOR):
            s.get(StaffUser, world.staff[role].id).max_concurrent = 1  # type: ignore[union-attr]
    a = _online(db, world, presence)
    b = _online(db, world, presence, Role.SUPERVISOR)
    visitor = start_visitor(client, world.slug)
    convs = [visitor_conversation(client, visitor, f"问题 {n}") for n in range(3)]
    _route(db, world, presence)
    offered = [_entry_state(db, world, c["id"]) for c in convs]
    assert sorted(str(o[1]) for o in offered if o[0] == "offered") == sorted([str(a), str(b)])
    assert [o[0] for o in offered].count("waiting") == 1  # both agents are full: the third waits


def test_going_offline_withdraws_offers_and_disconnected_agents_get_none(
    client: TestClient, world: World, db: Database
) -> None:
    presence = MemoryPresence()
    agent = _online(db, world, presence)
    conv = visitor_conversation(client, start_visitor(client, world.slug))
    _route(db, world, presence)
    assert _entry_state(db, world, conv["id"]) == ("offered", agent)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.set_presence(s, world.actor(Role.AGENT), Presence.AWAY)
    assert _entry_state(db, world, conv["id"]) == ("waiting", None)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.set_presence(s, world.actor(Role.AGENT), Presence.ONLINE)
    presence.leave(world.tenant_id, agent, f"conn-{Role.AGENT}")  # online, but the browser is closed
    assert _route(db, world, presence) == []


def test_assignment_survives_a_restart_and_the_reconciler_resumes(
    client: TestClient, world: World, db: Database, database_url: str
) -> None:
    presence = MemoryPresence()
    conv = visitor_conversation(client, start_visitor(client, world.slug))
    _online(db, world, presence)
    # A "restarted" process: a new engine, a new presence store that has seen the agent's heartbeat again.
    fresh = Database(database_url)
    try:
        assert service.reconcile_once(fresh, presence) >= 1
        state, offered_to = _entry_state(fresh, world, conv["id"])
        assert state == QueueState.OFFERED and offered_to == world.staff[Role.AGENT].id
        with fresh.tenant_transaction(world.tenant_id) as s:
            actions.accept_offer(s, world.actor(Role.AGENT), uuid.UUID(conv["id"]))
    finally:
        fresh.dispose()
    with db.tenant_transaction(world.tenant_id) as s:
        assert s.get(Conversation, uuid.UUID(conv["id"])).assignee_id == world.staff[Role.AGENT].id  # type: ignore[union-attr]


def test_transfer_with_a_note_and_back_to_a_team_queue(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/assign"
    supervisor = world.staff[Role.SUPERVISOR].id
    moved = client.post(url, json={"assignee_id": str(supervisor), "note": "VIP，请优先处理"}, headers=world.headers())
    assert moved.status_code == 200 and moved.json()["assignee_id"] == str(supervisor)
    notes = client.get(f"/api/v1/conversations/{world.conversation.id}/messages", headers=world.headers()).json()
    assert notes["items"][-1]["internal"] is True and notes["items"][-1]["body"] == "VIP，请优先处理"
    to_team = client.post(url, json={"team_id": str(world.team_id)}, headers=world.headers())
    assert to_team.status_code == 200 and to_team.json()["team_id"] == str(world.team_id)
    board = client.get("/api/v1/routing/supervisor", headers=world.headers(Role.SUPERVISOR)).json()
    assert str(world.conversation.id) in [e["conversation_id"] for e in board["queue"]]
    assert client.get("/api/v1/routing/supervisor", headers=world.headers(Role.AGENT)).status_code == 403
    assert client.post(url, json={}, headers=world.headers()).status_code == 422
