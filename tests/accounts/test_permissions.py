"""Each role reaches exactly what its permissions allow."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World, sign_in


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        (Role.AUDITOR, "/api/v1/audit", True),
        (Role.AGENT, "/api/v1/audit", False),
        (Role.SUPERVISOR, "/api/v1/audit", False),
        (Role.AUDITOR, "/api/v1/conversations", False),
        (Role.QUALITY_INSPECTOR, "/api/v1/conversations", True),
        (Role.KNOWLEDGE_MANAGER, "/api/v1/customers", False),
        (Role.AGENT, "/api/v1/api-keys", False),
        (Role.ADMIN, "/api/v1/api-keys", True),
    ],
)
def test_read_access_by_role(client: TestClient, world: World, role: Role, path: str, allowed: bool) -> None:
    status = client.get(path, headers=world.headers(role)).status_code
    assert (status == 200) is allowed, status


def test_agent_cannot_manage_staff_or_teams(client: TestClient, world: World) -> None:
    agent = world.headers(Role.AGENT)
    body = {"email": "x@y.example", "display_name": "X", "role": "admin"}
    denied = client.post("/api/v1/staff", json=body, headers=agent)
    assert denied.status_code == 403
    assert "staff.manage" in denied.json()["detail"]
    assert client.post("/api/v1/teams", json={"name": "T"}, headers=agent).status_code == 403


def test_inspector_sees_masked_contact_details(client: TestClient, world: World) -> None:
    url = f"/api/v1/customers/{world.customer.id}"
    full = client.get(url, headers=world.headers(Role.AGENT)).json()
    masked = client.get(url, headers=world.headers(Role.QUALITY_INSPECTOR)).json()
    assert full["phone"] == "+8613800138000"
    assert masked["phone"] != full["phone"] and masked["phone"].endswith("8000")
    assert masked["email"].startswith("l***@")
    assert all("*" in i["value"] for i in masked["identities"] if i["kind"] in ("email", "phone"))


def test_agent_sees_only_own_unassigned_and_team_conversations(client: TestClient, world: World) -> None:
    admin = world.headers(Role.ADMIN)
    supervisor_id = str(world.staff[Role.SUPERVISOR].id)
    conv = world.conversation.id
    assert (
        client.patch(f"/api/v1/conversations/{conv}", json={"assignee_id": supervisor_id}, headers=admin).status_code
        == 200
    )
    # An agent-role API key is nobody's inbox: it sees the unassigned queue only.
    assert client.get(f"/api/v1/conversations/{conv}", headers=world.headers(Role.AGENT)).status_code == 404
    sign_in(client, world, Role.AGENT)
    # Assigned to someone else, in no team of the agent: invisible (404, not 403).
    assert client.get(f"/api/v1/conversations/{conv}").status_code == 404
    assert client.get("/api/v1/conversations").json()["items"] == []
    # Put it into the agent's team: visible again.
    client.patch(f"/api/v1/conversations/{conv}", json={"team_id": str(world.team_id)}, headers=admin)
    assert client.get(f"/api/v1/conversations/{conv}").status_code == 200
