"""Bad input gets a clear 4xx problem and changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import World

PROBLEM = "application/problem+json"


def _count_customers(client: TestClient, world: World) -> int:
    return len(client.get("/api/v1/customers", params={"limit": 200}, headers=world.headers()).json()["items"])


def test_malformed_wrong_types_unknown_fields_oversize_and_bad_utf8(client: TestClient, world: World) -> None:
    h = {**world.headers(), "content-type": "application/json"}
    before = _count_customers(client, world)
    cases: list[tuple[bytes, int, str]] = [
        (b'{"name": ', 400, "not valid JSON"),
        (b'{"name": "\xff\xfe"}', 400, "UTF-8"),
        (b'{"name": 42}', 422, "name"),
        (b'{"name": "ok", "is_admin": true}', 422, "is_admin"),
        (b'{"name": "ok", "tags": "vip"}', 422, "tags"),
        (b'{"name": "ok", "email": "not-an-email"}', 422, "email"),
        (b"[1, 2, 3]", 422, ""),
        (b'{"name": "' + b"x" * 2_000_000 + b'"}', 413, "exceeds"),
    ]
    for raw, status, hint in cases:
        response = client.post("/api/v1/customers", content=raw, headers=h)
        assert response.status_code == status, (raw[:40], response.status_code, response.text[:200])
        assert response.headers["content-type"] == PROBLEM
        assert hint in response.text
    assert _count_customers(client, world) == before


def test_injection_attempts_are_stored_as_plain_text(client: TestClient, world: World) -> None:
    payloads = ["'; DROP TABLE customers; --", "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://x}", "名字\u202e"]
    for text in payloads:
        created = client.post("/api/v1/customers", json={"name": text}, headers=world.headers())
        assert created.status_code == 201
        assert client.get(f"/api/v1/customers/{created.json()['id']}", headers=world.headers()).json()["name"] == text
    assert _count_customers(client, world) >= len(payloads)


def test_invalid_ids_and_queries(client: TestClient, world: World) -> None:
    h = world.headers()
    assert client.get("/api/v1/customers/not-a-uuid", headers=h).status_code == 422
    assert client.get("/api/v1/conversations", params={"limit": 0}, headers=h).status_code == 422
    assert client.get("/api/v1/conversations", params={"limit": 10_000}, headers=h).status_code == 422
    assert client.get(
        "/api/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=world.headers()
    ).status_code in (403, 422)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["name", "email", "phone", "tags", "attributes", "language", "x"]), json_values
    )
)
def test_customer_validation_never_errors_and_never_half_writes(
    client: TestClient, world: World, body: dict[str, Any]
) -> None:
    before = _count_customers(client, world)
    response = client.post("/api/v1/customers", json=body, headers=world.headers())
    assert response.status_code in (201, 409, 422), response.text
    after = _count_customers(client, world)
    assert after == before + (1 if response.status_code == 201 else 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["status", "priority", "assignee_id", "tags", "snoozed_until", "version"]), json_values
    )
)
def test_conversation_updates_are_all_or_nothing(client: TestClient, world: World, body: dict[str, Any]) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}"
    before = client.get(url, headers=world.headers()).json()
    response = client.patch(url, json=body, headers=world.headers())
    assert response.status_code in (200, 404, 409, 422), response.text
    if response.status_code != 200:
        assert client.get(url, headers=world.headers()).json() == before
