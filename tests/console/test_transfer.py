"""Issue "The staff console", bug 1: a transfer to a colleague of another team works (or is refused with a reason)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import StaffCreate, TeamCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World, session_csrf, sign_in


def _colleague_in_other_team(db: Database, world: World) -> str:
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        user, _ = accounts.do_create_staff(
            s,
            system,
            StaffCreate(email=f"b@{world.slug}.example", display_name="王芳", role=Role.AGENT, password=PASSWORD),
        )
        team = accounts.create_team(s, system, TeamCreate(name="账务 Billing"))
        accounts.add_team_member(s, system, team.id, user.id)
        return str(user.id)


def test_agent_transfers_to_a_colleague_of_another_team_with_a_note(
    client: TestClient, db: Database, world: World
) -> None:
    colleague = _colleague_in_other_team(db, world)
    conv = str(world.conversation.id)  # a chat of no team, assigned to the agent of team After-sales
    assigned = client.post(
        f"/api/v1/conversations/{conv}/assign", json={"assignee_id": str(world.staff[Role.AGENT].id)},
        headers=world.headers(),
    )  # fmt: skip
    assert assigned.status_code == 200, assigned.text
    sign_in(client, world, Role.AGENT)
    csrf = session_csrf(client)
    moved = client.post(
        f"/api/v1/conversations/{conv}/assign",
        json={"assignee_id": colleague, "note": "客户要开发票"},
        headers={"X-CSRF-Token": csrf},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee_id"] == colleague
    messages = client.get(f"/api/v1/conversations/{conv}/messages", headers=world.headers(Role.ADMIN)).json()
    assert any(m["internal"] and m["body"] == "客户要开发票" for m in messages["items"])


def test_a_chat_cannot_go_to_staff_who_cannot_handle_chats(client: TestClient, world: World) -> None:
    refused = client.post(
        f"/api/v1/conversations/{world.conversation.id}/assign",
        json={"assignee_id": str(world.staff[Role.AUDITOR].id)},
        headers=world.headers(),
    )
    assert refused.status_code == 422
    assert "cannot open or answer conversations" in refused.json()["detail"]
