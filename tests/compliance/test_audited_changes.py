"""State changes and security-relevant reads that used to leave no audit record: each now leaves one that the
tenant's auditor finds through GET /api/v1/audit, with who (actor), what (action, target), when, and where (IP,
request id)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World
from tests.tickets.helpers import new_ticket

API = "/api/v1"


def _audit(client: TestClient, world: World, action: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/audit", params={"action": action}, headers=world.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    for record in items:  # who, when, where: always there
        assert record["actor_type"] and record["created_at"] and record["target_type"] and record["target_id"]
        if record["actor_type"] in ("api_key", "staff"):
            assert record["actor_id"] and record["ip"] and record["request_id"], record
    return items


def test_ticket_field_edits_are_audited_with_old_and_new_values(client: TestClient, world: World) -> None:
    t = new_ticket(client, world, Role.ADMIN)
    r = client.patch(
        f"{API}/tickets/{t['id']}",
        json={"version": t["version"], "priority": "urgent", "subject": "包裹破损，要求换货"},
        headers=world.headers(Role.SUPERVISOR),
    )
    assert r.status_code == 200, r.text
    [record] = _audit(client, world, "ticket.update")
    assert record["target_id"] == t["id"] and record["actor_type"] == "api_key"
    assert record["changes"]["fields"] == ["priority", "subject"]
    assert record["changes"]["values"] == {
        "priority": ["normal", "urgent"],
        "subject": ["快递破损 Parcel arrived broken", "包裹破损，要求换货"],
    }


def test_field_edits_by_an_automation_are_audited(client: TestClient, world: World) -> None:
    rule = client.post(
        f"{API}/automations",
        json={
            "name": "退款加急",
            "trigger": {"event": "ticket.created"},
            "conditions": [{"field": "subject", "op": "contains", "value": "退款"}],
            "actions": [{"type": "set_field", "field": "priority", "value": "high"}],
        },
        headers=world.headers(),
    ).json()
    t = new_ticket(client, world, Role.ADMIN, subject="我要退款")
    [record] = _audit(client, world, "automation.apply")
    assert record["actor_type"] == "system" and record["target_id"] == t["id"]
    assert record["changes"] == {"rule": "退款加急", "rule_id": rule["id"], "fields": ["priority"]}


def test_saved_views_are_audited_when_created_changed_and_deleted(client: TestClient, world: World) -> None:
    supervisor = world.headers(Role.SUPERVISOR)
    view = client.post(
        f"{API}/ticket-views", json={"name": "紧急", "filters": {"priority": "urgent"}}, headers=supervisor
    )
    assert view.status_code == 201
    view_id = view.json()["id"]
    client.post(
        f"{API}/ticket-views",
        json={"name": "紧急", "filters": {"priority": "high"}, "shared": True},
        headers=supervisor,
    )
    # Someone else's shared view: an agent may not delete it, its owner (or a reports holder) may.
    assert client.delete(f"{API}/ticket-views/{view_id}", headers=world.headers(Role.AGENT)).status_code == 403
    assert client.delete(f"{API}/ticket-views/{view_id}", headers=supervisor).status_code == 204
    assert client.delete(f"{API}/ticket-views/{view_id}", headers=supervisor).status_code == 404
    assert view_id not in {v["id"] for v in client.get(f"{API}/ticket-views", headers=supervisor).json()}

    records = {r["action"]: r for r in _audit(client, world, "ticket_view.")}
    assert set(records) == {"ticket_view.create", "ticket_view.update", "ticket_view.delete"}
    assert all(r["target_id"] == view_id for r in records.values())
    assert records["ticket_view.update"]["changes"]["shared"] == [False, True]
    assert records["ticket_view.update"]["changes"]["filters"] == [{"priority": "urgent"}, {"priority": "high"}]
    assert len(_audit(client, world, "security.denied")) == 1  # the agent's refused delete


def test_reading_the_widget_identity_secret_is_audited(client: TestClient, world: World) -> None:
    secret = client.get(f"{API}/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    [record] = _audit(client, world, "widget.identity_secret_read")
    assert record["actor_type"] == "api_key" and record["target_type"] == "widget_config"
    assert secret not in str(record)


def test_knowledge_export_is_audited(client: TestClient, world: World) -> None:
    r = client.get(f"{API}/knowledge/export", params={"format": "csv"}, headers=world.headers(Role.KNOWLEDGE_MANAGER))
    assert r.status_code == 200
    [record] = _audit(client, world, "knowledge.export")
    assert record["changes"]["format"] == "csv" and "entries" in record["changes"]


def test_customer_lists_with_personal_data_are_audited(client: TestClient, world: World) -> None:
    assert client.get(f"{API}/customers", params={"q": "Li"}, headers=world.headers(Role.AGENT)).status_code == 200
    # The inspector's list is masked: no personal data in clear, nothing to audit.
    assert client.get(f"{API}/customers", headers=world.headers(Role.QUALITY_INSPECTOR)).status_code == 200
    [record] = _audit(client, world, "customer.list_read")
    assert record["changes"]["count"] == 1 and record["changes"]["search"] == "**"  # masked for the auditor
    [seen_by_admin] = client.get(
        f"{API}/audit", params={"action": "customer.list_read"}, headers=world.headers()
    ).json()["items"]
    assert seen_by_admin["changes"]["search"] == "Li"


def test_minting_a_socket_token_is_audited(client: TestClient, world: World) -> None:
    assert client.post(f"{API}/realtime/token", headers=world.headers(Role.SUPERVISOR)).status_code == 200
    [record] = _audit(client, world, "realtime.token_mint")
    assert record["changes"] == {"read_all": True, "teams": 0, "supervise": True}


def test_reading_the_audit_trail_is_itself_audited(client: TestClient, world: World) -> None:
    client.get(f"{API}/audit", params={"action": "staff."}, headers=world.headers(Role.ADMIN))
    reads = _audit(client, world, "audit.read")
    assert reads[-1]["changes"] == {"action": "staff.", "count": len(Role) + 1}
