"""Authorization failures and probes for other tenants' objects leave audit records the tenant's auditor can
find, with who (actor), what (action, target), when, where (IP, request id, route), although the refused
request's own transaction rolled back."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World, session_csrf, sign_in
from tests.tickets.helpers import new_ticket

API = "/api/v1"


def _audit(client: TestClient, world: World, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/audit", params=params, headers=world.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_an_api_denial_is_audited_with_who_where_and_why(client: TestClient, world: World) -> None:
    refused = client.get(f"{API}/audit", headers={**world.headers(Role.AGENT), "X-Request-ID": "probe-req-0001"})
    assert refused.status_code == 403
    [record] = _audit(client, world, action="security.denied")
    assert record["actor_type"] == "api_key" and record["actor_id"]
    assert record["target_type"] == "route" and record["target_id"] == "GET /api/v1/audit"
    assert record["request_id"] == "probe-req-0001" and record["ip"] == "testclient"
    assert record["changes"]["status"] == 403 and "audit.read" in record["changes"]["reasons"][0]
    assert record["created_at"]


def test_page_denials_and_a_bad_csrf_token_are_audited_for_the_person(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.AGENT)
    assert client.get("/supervisor").status_code == 403  # a page that renders its own "forbidden"
    csrf = session_csrf(client)
    assert client.post(f"{API}/tickets", json={"subject": "x"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert csrf
    records = _audit(client, world, action="security.denied")
    assert {r["target_id"] for r in records} == {"GET /supervisor", "POST /api/v1/tickets"}
    assert {r["actor_id"] for r in records} == {str(world.staff[Role.AGENT].id)}
    assert all(r["actor_type"] == "staff" and r["request_id"] and r["ip"] for r in records)
    [csrf_record] = [r for r in records if r["target_id"] == "POST /api/v1/tickets"]
    assert "X-CSRF-Token" in csrf_record["changes"]["reasons"][0]


def test_a_cross_tenant_probe_is_audited_for_the_probed_tenant_only(
    client: TestClient, world: World, other_world: World
) -> None:
    victim_ticket = new_ticket(client, world, Role.ADMIN)
    probes = [
        f"{API}/tickets/{victim_ticket['id']}",
        f"{API}/customers/{world.customer.id}",
        f"{API}/conversations/{world.conversation.id}/messages",
    ]
    for url in probes:
        assert client.get(url, headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert client.get(f"{API}/tickets/{uuid.uuid4()}", headers=other_world.headers(Role.ADMIN)).status_code == 404

    # Recorded for the tenant whose objects were probed, with the prober's actor, IP and request id ...
    records = _audit(client, world, action="security.cross_tenant_probe")
    assert {(r["target_type"], r["target_id"]) for r in records} == {
        ("tickets", victim_ticket["id"]),
        ("customers", str(world.customer.id)),
        ("conversations", str(world.conversation.id)),
    }
    assert all(r["actor_type"] == "api_key" and r["actor_id"] and r["ip"] and r["request_id"] for r in records)
    assert all(r["changes"]["actor_of_another_workspace"] for r in records)
    # ... and nothing in the prober's own trail, where it would tell which ids exist elsewhere.
    assert _audit(client, other_world, action="security.") == []


def test_an_object_of_the_own_tenant_outside_the_callers_scope_is_audited(client: TestClient, world: World) -> None:
    hidden = new_ticket(client, world, Role.ADMIN, assignee_id=str(world.staff[Role.SUPERVISOR].id))
    assert client.get(f"{API}/tickets/{hidden['id']}", headers=world.headers(Role.AGENT)).status_code == 404
    [record] = _audit(client, world, action="security.not_visible")
    assert record["target_id"] == hidden["id"] and record["actor_type"] == "api_key"


def test_the_happy_path_records_no_security_event(client: TestClient, world: World) -> None:
    for role in (Role.ADMIN, Role.AGENT, Role.SUPERVISOR):
        assert client.get(f"{API}/tickets", headers=world.headers(role)).status_code == 200
        assert (
            client.get(f"{API}/conversations/{world.conversation.id}", headers=world.headers(role)).status_code == 200
        )
    assert _audit(client, world, action="security.") == []
