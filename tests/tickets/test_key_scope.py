"""An API key acts with its role's limits exactly as a person of that role would: an agent-role key is an agent
with no assignments, no teams and no watched tickets, so it sees the unassigned tickets and nothing personal to
someone else. Keys of roles with ``tickets.read_all`` still see everything."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World
from tests.tickets.helpers import new_ticket

API = "/api/v1"


def test_agent_key_sees_only_unassigned_tickets(client: TestClient, world: World) -> None:
    mine_of_someone = new_ticket(client, world, Role.ADMIN, assignee_id=str(world.staff[Role.AGENT].id))
    of_the_team = new_ticket(client, world, Role.ADMIN, team_id=str(world.team_id))
    queue = new_ticket(client, world, Role.ADMIN, subject="无人处理 Nobody's yet")
    # The team ticket went to the team's agent; a key is in no team.
    assert mine_of_someone["assignee_id"] and of_the_team["assignee_id"] and queue["assignee_id"] is None
    agent_key = world.headers(Role.AGENT)

    listed = {t["id"] for t in client.get(f"{API}/tickets", headers=agent_key).json()["items"]}
    assert queue["id"] in listed
    for hidden in (mine_of_someone, of_the_team):
        assert hidden["id"] not in listed
        for path in ("", "/messages", "/history", "/attachments"):
            assert client.get(f"{API}/tickets/{hidden['id']}{path}", headers=agent_key).status_code == 404
        r = client.patch(
            f"{API}/tickets/{hidden['id']}",
            json={"priority": "urgent", "version": hidden["version"]},
            headers=agent_key,
        )
        assert r.status_code == 404
    # Nothing is assigned to a key: "mine" is empty rather than "the unassigned ones".
    assert client.get(f"{API}/tickets", params={"assignee": "me"}, headers=agent_key).json()["items"] == []

    for role in (Role.ADMIN, Role.SUPERVISOR, Role.QUALITY_INSPECTOR):
        seen = {t["id"] for t in client.get(f"{API}/tickets", headers=world.headers(role)).json()["items"]}
        assert {mine_of_someone["id"], of_the_team["id"], queue["id"]} <= seen, role
        assert client.get(f"{API}/tickets/{mine_of_someone['id']}", headers=world.headers(role)).status_code == 200


def test_agent_key_sees_only_unassigned_conversations(client: TestClient, world: World) -> None:
    client.patch(
        f"{API}/conversations/{world.conversation.id}",
        json={"assignee_id": str(world.staff[Role.AGENT].id)},
        headers=world.headers(),
    )
    agent_key = world.headers(Role.AGENT)
    assert client.get(f"{API}/conversations/{world.conversation.id}", headers=agent_key).status_code == 404
    assert client.get(f"{API}/conversations/{world.conversation.id}/messages", headers=agent_key).status_code == 404
    listed = client.get(f"{API}/conversations", headers=agent_key).json()["items"]
    assert str(world.conversation.id) not in {c["id"] for c in listed}
    assert client.get(f"{API}/conversations", params={"assignee": "me"}, headers=agent_key).json()["items"] == []
    assert client.get(f"{API}/conversations/{world.conversation.id}", headers=world.headers()).status_code == 200
