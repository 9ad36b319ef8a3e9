"""Tenant isolation on the ticket routes not walked elsewhere: surveys, notifications, tenant-defined types,
watchers and attachments. Another tenant's key gets 404 and changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from omnidesk.tickets.models import Notification, Survey
from tests.factories import World
from tests.tickets.helpers import move, new_ticket

API = "/api/v1"


def test_other_tenant_cannot_reach_surveys_notifications_types_watchers_attachments(
    client: TestClient, db: Database, world: World, other_world: World
) -> None:
    foreign = other_world.headers(Role.ADMIN)
    t = new_ticket(client, world)
    agent_id = str(world.staff[Role.AGENT].id)
    client.post(f"{API}/tickets/{t['id']}/watchers", json={"staff_id": agent_id}, headers=world.headers(Role.AGENT))
    client.post(
        f"{API}/tickets/{t['id']}/messages",
        json={"body": f"@{world.emails[Role.SUPERVISOR].split('@')[0]} 请看", "public": False},
        headers=world.headers(Role.AGENT),
    )
    t = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    move(client, world, t, "resolved", resolution="done")
    client.post(f"{API}/ticket-types", json={"key": "warranty", "name": "保修 Warranty"}, headers=world.headers())
    with db.tenant_read(world.tenant_id) as s:
        survey_id = s.scalar(select(Survey.id))
        notification_id = s.scalar(select(Notification.id))
    assert survey_id is not None and notification_id is not None
    attachment = client.post(
        f"{API}/tickets/{t['id']}/attachments",
        files={"file": ("evidence.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")},
        headers=world.headers(Role.AGENT),
    )
    assert attachment.status_code == 201, attachment.text
    attachment_id = attachment.json()["id"]

    for method, path, body in [
        ("POST", f"{API}/ticket-surveys/{survey_id}/answer", {"score": 5}),
        ("POST", f"{API}/notifications/{notification_id}/read", None),
        ("PATCH", f"{API}/ticket-types/warranty", {"name": "pwned"}),
        ("DELETE", f"{API}/tickets/{t['id']}/watchers/{agent_id}", None),
        ("GET", f"{API}/tickets/{t['id']}/attachments/{attachment_id}", None),
    ]:
        response = client.request(method, path, json=body, headers=foreign)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
    types = client.get(f"{API}/ticket-types", headers=world.headers()).json()
    assert any(tt["key"] == "warranty" and tt["name"] == "保修 Warranty" for tt in types)
    assert client.get(f"{API}/notifications", headers=foreign).json() == []
