"""An SLA policy counts its targets in business hours or in calendar time (around the clock); a running clock
keeps the way it counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World

API = "/api/v1"


def _first_response_deadline(client: TestClient, world: World, priority: str) -> tuple[datetime, datetime]:
    made = client.post(f"{API}/tickets", json={"subject": f"SLA {priority}", "priority": priority},
                       headers=world.headers(Role.ADMIN))  # fmt: skip
    assert made.status_code == 201, made.text
    detail = client.get(f"{API}/tickets/{made.json()['id']}", headers=world.headers(Role.ADMIN)).json()
    [clock] = [c for c in detail["clocks"] if c["metric"] == "first_response"]
    created = datetime.fromisoformat(detail["ticket"]["created_at"])
    return created, datetime.fromisoformat(clock["deadline_at"])


def test_calendar_time_ignores_business_hours(client: TestClient, world: World) -> None:
    admin = world.headers(Role.ADMIN)
    calendar = {"time_zone": "Asia/Shanghai", "hours": {"mon": [["09:00", "10:00"]]}}
    assert client.patch(f"{API}/ticket-settings", json={"calendar": calendar}, headers=admin).status_code == 200
    for priority, business in (("urgent", False), ("high", True)):
        policy = client.put(f"{API}/sla-policies", headers=admin, json={
            "priority": priority, "first_response_minutes": 30, "resolution_minutes": 120, "business_hours": business})  # fmt: skip
        assert policy.status_code == 200 and policy.json()["business_hours"] is business

    created, deadline = _first_response_deadline(client, world, "urgent")
    assert abs((deadline - created) - timedelta(minutes=30)) < timedelta(seconds=5)

    created, deadline = _first_response_deadline(client, world, "high")
    local = deadline.astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.weekday() == 0 and 9 * 60 < local.hour * 60 + local.minute <= 10 * 60  # inside Monday's hour
    assert deadline - created >= timedelta(minutes=30)
