"""Small helpers for ticket tests: set-up goes through the product's actions."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from omnidesk.tickets import admin
from omnidesk.tickets.schemas import PolicyIn
from omnidesk.tickets.states import Priority
from tests.factories import World


def policies(db: Database, world: World, first: int = 60, resolution: int = 240) -> None:
    with db.tenant_transaction(world.tenant_id) as s:
        for p in Priority:
            admin.put_policy(
                s,
                system_actor(world.tenant_id),
                PolicyIn(priority=p, first_response_minutes=first, resolution_minutes=resolution),
            )


def new_ticket(client: TestClient, world: World, role: Role = Role.AGENT, **fields: Any) -> dict[str, Any]:
    body = {"subject": "快递破损 Parcel arrived broken", "customer_id": str(world.customer.id), **fields}
    r = client.post("/api/v1/tickets", json=body, headers=world.headers(role))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def move(
    client: TestClient, world: World, ticket: dict[str, Any], status: str, role: Role = Role.AGENT, **extra: Any
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/tickets/{ticket['id']}/transitions",
        json={"status": status, "version": ticket["version"], **extra},
        headers=world.headers(role),
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data
