"""Every change through an action leaves an audit record in the same transaction; auditors can read and filter."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World


def test_changes_are_audited_with_actor_and_fields(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}"
    client.patch(url, json={"priority": "urgent", "tags": ["vip"]}, headers=world.headers(Role.SUPERVISOR))
    records = client.get(
        "/api/v1/audit", params={"action": "conversation.update"}, headers=world.headers(Role.AUDITOR)
    ).json()["items"]
    assert len(records) == 1
    record = records[0]
    assert record["actor_type"] == "api_key"
    assert record["target_id"] == str(world.conversation.id)
    assert record["changes"] == {"priority": ["normal", "urgent"], "tags": [[], ["vip"]]}
    assert record["request_id"]


def test_refused_change_leaves_no_record(client: TestClient, world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}"
    auditor = world.headers(Role.AUDITOR)
    before = client.get("/api/v1/audit", params={"action": "conversation."}, headers=auditor).json()["items"]
    client.patch(url, json={"status": "snoozed"}, headers=world.headers())  # invalid: no snoozed_until
    after = client.get("/api/v1/audit", params={"action": "conversation."}, headers=auditor).json()["items"]
    assert after == before


def test_audit_filters_and_pagination(client: TestClient, world: World) -> None:
    auditor = world.headers(Role.AUDITOR)
    staff_created = client.get("/api/v1/audit", params={"action": "staff.create"}, headers=auditor).json()["items"]
    assert len(staff_created) == len(Role) + 1  # one per persona plus the tenant's first admin
    assert all("password" not in str(r["changes"]) for r in staff_created)
    pages, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/audit", params=params, headers=auditor).json()
        pages += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [r["id"] for r in pages]
    assert len(ids) == len(set(ids)) > 10
    by_target = client.get("/api/v1/audit", params={"target_type": "team"}, headers=auditor).json()["items"]
    assert {r["action"] for r in by_target} == {"team.create", "team.member_add"}
    assert client.get("/api/v1/audit", headers=world.headers(Role.AGENT)).status_code == 403
