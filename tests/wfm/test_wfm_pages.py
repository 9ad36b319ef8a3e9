"""The workforce pages through the real app: history from the contacts, the supervisor's /wfm page (forecast
with its back-tested error, staffing, roster, intraday, simulator) and an agent's own schedule."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from omnidesk.wfm import queries
from omnidesk.wfm.models import WfmShift
from tests.factories import World, session_csrf, sign_in
from tests.wfm.history import ZONE, seed_history


def test_history_per_interval_from_the_contacts(db: Database, world: World) -> None:
    n = seed_history(db, world.tenant_id, world.customer.id, world.team_id, days=3)
    today = datetime.now(UTC).astimezone(ZONE).date()
    with db.tenant_read(world.tenant_id) as s:
        by_queue = queries.history(s, world.tenant_id, "Asia/Shanghai", today - timedelta(days=3), today, 30)
    series = next(v for k, v in by_queue.items() if k != queries.NO_TEAM)
    assert len(series) == 4 * 48
    offered = sum(x.offered for x in series)
    assert offered == n
    assert all(x.offered == 0 for x in series if x.start.hour < 9 or x.start.hour >= 21)
    answered, abandoned = sum(x.answered for x in series), sum(x.abandoned for x in series)
    assert answered + abandoned == offered and 0.03 < abandoned / offered < 0.2
    aht = sum(x.handle_total for x in series) / sum(x.handled for x in series)
    assert 299 < aht < 301  # resolved 5 minutes after the first answer
    quarter = queries.history(s2 := db.session(world.tenant_id, read_only=True), world.tenant_id, "Asia/Shanghai",
                              today - timedelta(days=3), today, 15)  # fmt: skip
    s2.close()
    assert sum(len(v) for v in quarter.values()) == len(quarter) * 4 * 96


def test_supervisor_page_and_agent_schedule(client: TestClient, db: Database, world: World) -> None:
    seed_history(db, world.tenant_id, world.customer.id, world.team_id, days=21, per_interval=4)
    sign_in(client, world, Role.SUPERVISOR)
    page = client.get("/wfm", params={"aht": "300", "patience": "120"}, headers={"accept-language": "en"})
    assert page.status_code == 200
    text = page.text
    assert re.search(r"WAPE \d+(\.\d)? %", text)  # the back-tested error is on the screen
    assert text.count('<svg class="chart"') == 3
    assert 'id="staffing-table"' in text and 'id="roster-table"' in text
    assert re.search(r'data-alert="(blue|yellow|orange|red|pending)"', text)  # ended intervals get a colour
    assert "召集备班坐席" in text  # the red runbook, in the supervisor's language
    sim = client.get("/wfm", params={"aht": "300", "patience": "120", "simulate": "1", "seed": "3"})
    offered = re.search(r'data-sim="offered">(\d+)<', sim.text)
    assert offered and int(offered.group(1)) > 50
    assert re.search(r'data-sim="service-level">[\d.]+ %<', sim.text)
    bad = client.get("/wfm", params={"target": "7"}, headers={"accept-language": "en"})
    assert bad.status_code == 200 and "目标须在 0.01 到 0.99 之间" in bad.text
    # Publishing stores tomorrow's roster (audited); an agent then sees their own shift and nobody else's.
    csrf = re.search(r'name="csrf" value="([^"]+)"', text)
    query = re.search(r'name="query" value="([^"]*)"', text)
    assert csrf and query
    done = client.post("/wfm/publish", data={"csrf": csrf.group(1), "query": html.unescape(query.group(1))},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and "published=1" in done.headers["location"]
    assert 'id="published"' in client.get(done.headers["location"]).text
    with db.tenant_read(world.tenant_id) as s:
        rows = list(s.scalars(select(WfmShift)))
        assert s.scalar(select(AuditRecord.id).where(AuditRecord.action == "wfm.roster_published"))
    tomorrow = datetime.now(UTC).astimezone(ZONE).date() + timedelta(days=1)
    assert rows and all(r.day == tomorrow and r.end_minute - r.start_minute in (240, 480) for r in rows)
    agent = world.staff[Role.AGENT]
    client.cookies.clear()
    sign_in(client, world, Role.AGENT)
    assert client.get("/wfm").status_code == 403
    assert client.post("/wfm/publish", data={"csrf": session_csrf(client)}).status_code == 403
    mine = client.get("/me/schedule")
    assert mine.status_code == 200 and "我的排班" in mine.text
    own = [r for r in rows if r.staff_id == agent.id]
    assert mine.text.count(tomorrow.isoformat()) == len(own)
    if own:
        assert f"{own[0].start_minute // 60:02d}:{own[0].start_minute % 60:02d}" in mine.text
    else:
        assert 'id="no-shift"' in mine.text


def test_intraday_colours_only_ended_intervals(db: Database, world: World) -> None:
    from omnidesk.wfm import plan as wfm_plan

    seed_history(db, world.tenant_id, world.customer.id, world.team_id, days=21, per_interval=4)
    now = datetime.now(UTC)
    with db.tenant_read(world.tenant_id) as s:
        plan = wfm_plan.build(s, world.tenant_id, "Asia/Shanghai", wfm_plan.Params(time_limit=1), now)
    local = now.astimezone(ZONE)
    ended = (local.hour * 60 + local.minute) // 30
    assert all(a is not None for a in plan.alerts[:ended]) and all(a is None for a in plan.alerts[ended:])
    assert len(plan.forecast_tomorrow) == 48 and plan.accuracy and plan.method in ("holt_winters", "seasonal_naive")
    assert all(r >= 0 for r in plan.required) and max(plan.required) >= 1
