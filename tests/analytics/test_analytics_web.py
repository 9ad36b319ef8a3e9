"""The analytics pages through the real HTTP app: figures from the interval tables, drill-down, CSV equal to the
screen, permissions, settings and goals, the wallboard (and its shared cache) and the agent's own dashboard."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omnidesk.analytics import live, rollup
from omnidesk.analytics.metrics import BY_ID, CATALOGUE
from omnidesk.analytics.models import AnalyticsSettings, Goal
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import ConversationCreate, SenderType
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing.models import AgentPresence, QueueEntry
from omnidesk.security.permissions import Role
from tests.analytics.test_analytics_rollup import NOW, seed_queue
from tests.analytics.test_reports import seed
from tests.factories import World, session_csrf, sign_in

RANGE = {"start": "2026-03-02", "end": "2026-03-03"}


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _cells(html: str) -> dict[tuple[str, str], str]:
    return {
        (m.group(1), m.group(2)): re.sub(r"<[^>]+>", "", m.group(3)).strip()
        for m in re.finditer(r'<td data-metric="([^"]+)" data-value="([^"]*)">(.*?)</td>', html)
    }


def test_metrics_page_drill_down_and_csv_agree(client: TestClient, db: Database, world: World) -> None:
    seed(db, world.tenant_id, world.customer.id)
    queued = seed_queue(db, world)
    rollup.run_tenant(db, world.tenant_id, now=NOW)
    sign_in(client, world, Role.AGENT)
    for path in ("/reports/metrics", "/reports/metrics/figures.csv", "/reports/metrics/drill", "/wallboard"):
        assert client.get(path).status_code == 403, path
    client.cookies.clear()
    sign_in(client, world, Role.SUPERVISOR)
    page = client.get("/reports/metrics", params={**RANGE, "dimension": "channel"}, headers={"accept-language": "en"})
    assert page.status_code == 200
    assert 'id="metric-first_response"' in page.text
    assert "<svg" in page.text and '<title id="chart-daily-title">' in page.text
    cells = _cells(page.text)
    assert cells[("conversations", "web")] == "7" and cells[("abandonment", "web")] == "33.3%"
    # The CSV has the same figures as the screen (raw numbers: seconds and percentages).
    rows = _csv(client.get("/reports/metrics/figures.csv", params={**RANGE, "dimension": "channel"}).text)
    ids = [m.id for m in CATALOGUE]
    assert len(rows[0]) == 1 + len(ids) and len(rows) == 4  # email, web, wechat in value order
    web = rows[2]
    assert web[1 + ids.index("conversations")] == "7.0" and web[1 + ids.index("abandonment")] == "33.3"
    assert web[1 + ids.index("speed_of_answer")] == "50.0"
    # Every figure on the screen is the CSV's number, formatted.
    for row, value in zip(rows[1:], ("email", "web", "wechat"), strict=True):
        for i, metric in enumerate(ids):
            shown, raw = cells[(metric, value)], row[1 + i]
            assert (shown == "—") == (raw == ""), (metric, value)
            if raw and BY_ID[metric].kind == "percent":
                assert shown == f"{raw}%"
            elif raw and BY_ID[metric].kind == "count":
                assert shown == str(int(float(raw)))
    # Drill-down from the abandonment figure lists exactly the abandoned conversation; its CSV the same.
    drill = client.get("/reports/metrics/drill", params={**RANGE, "metric": "abandonment", "dimension": "channel",
                                                         "value": "web"})  # fmt: skip
    assert drill.status_code == 200 and 'data-kpi="drill-count">1<' in drill.text
    assert re.findall(r'data-conversation="([^"]+)"', drill.text) == [str(queued[2])]
    drill_rows = _csv(client.get("/reports/metrics/drill.csv", params={**RANGE, "metric": "abandonment",
                                                                       "dimension": "channel", "value": "web"}).text)  # fmt: skip
    assert [r[0] for r in drill_rows[1:]] == [str(queued[2])]
    # The denominator of the speed of answer: the two answered ones.
    answered = client.get("/reports/metrics/drill", params={**RANGE, "metric": "speed_of_answer"})
    assert set(re.findall(r'data-conversation="([^"]+)"', answered.text)) == {str(q) for q in queued[:2]}
    assert client.get("/reports/metrics/drill", params={"metric": "nope"}).status_code == 404
    zh = client.get("/reports/metrics", params=RANGE, headers={"accept-language": "zh-CN"})
    assert "指标目录" in zh.text and "首次解决率" in zh.text


def test_settings_and_goals_are_validated_audited_and_reach_the_dashboard(
    client: TestClient, db: Database, world: World
) -> None:
    agent = world.staff[Role.AGENT]
    now = datetime.now(UTC)
    with db.tenant_transaction(world.tenant_id) as s:
        c = conversation_actions.open_conversation(
            s, system_actor(world.tenant_id),
            ConversationCreate(customer_id=world.customer.id, channel="web", subject="today", message="hi"),
        )  # fmt: skip
        conversation_actions.do_post_message(s, system_actor(world.tenant_id), c, body="hello",
                                             sender_type=SenderType.AGENT, sender_id=agent.id)  # fmt: skip
        s.execute(update(Conversation).where(Conversation.id == c.id).values(
            assignee_id=agent.id, status="resolved", resolved_at=now))  # fmt: skip
    rollup.run_tenant(db, world.tenant_id)
    sign_in(client, world, Role.SUPERVISOR)
    csrf = session_csrf(client)
    bad = client.post("/reports/metrics/settings", data={"csrf": csrf, "fcr_hours": "0", "service_level_seconds": "20",
                      "service_level_target": "80", "alert_waiting": "5", "alert_wait_seconds": "60"},
                      follow_redirects=False)  # fmt: skip
    assert bad.status_code == 303 and "error=" in bad.headers["location"]
    ok = client.post("/reports/metrics/settings", data={"csrf": csrf, "fcr_hours": "48", "service_level_seconds": "20",
                     "service_level_target": "80", "alert_waiting": "5", "alert_wait_seconds": "60",
                     "ranking_enabled": "on"}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303 and "saved=settings" in ok.headers["location"]
    month = now.astimezone(live.ZoneInfo(world_zone(db, world))).strftime("%Y-%m")
    goal = client.post("/reports/metrics/goals", data={"csrf": csrf, "staff_id": str(agent.id), "metric": "resolved",
                       "month": month, "target": "220"}, follow_redirects=False)  # fmt: skip
    assert goal.status_code == 303 and "saved=goal" in goal.headers["location"]
    with db.tenant_read(world.tenant_id) as s:
        row = s.scalar(select(AnalyticsSettings))
        assert row is not None and row.fcr_hours == 48 and row.ranking_enabled and row.watermark is None
        assert s.scalar(select(Goal.target)) == 220.0
        assert {a for (a,) in s.execute(select(AuditRecord.action).where(AuditRecord.action.like("analytics.%")))} == {
            "analytics.settings_update", "analytics.goal_set"}  # fmt: skip
    rollup.run_tenant(db, world.tenant_id)
    client.cookies.clear()
    sign_in(client, world, Role.AGENT)
    page = client.get("/me/dashboard", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert 'data-kpi="conversations">1<' in page.text and 'data-kpi="resolved">1<' in page.text
    days = len(live.working_days(month))
    assert f'data-daily="{round(220 / days, 1)}"' in page.text
    assert 'data-kpi="my-rank"' in page.text and 'aria-current="true"' in page.text


def world_zone(db: Database, world: World) -> str:
    from omnidesk.accounts.models import Tenant

    with db.platform_read() as s:
        tenant = s.get(Tenant, world.tenant_id)
        assert tenant is not None
        return tenant.time_zone


def test_wallboard_shows_the_queue_agents_and_alerts_and_shares_one_computation(
    client: TestClient, db: Database, world: World
) -> None:
    now = datetime.now(UTC)
    with db.tenant_transaction(world.tenant_id) as s:
        for i, (since, assigned, state) in enumerate(((300, None, "waiting"), (30, None, "waiting"),
                                                      (600, 10, "assigned"), (500, 40, "assigned"),
                                                      (400, None, "cancelled"))):  # fmt: skip
            c = conversation_actions.open_conversation(
                s, system_actor(world.tenant_id),
                ConversationCreate(customer_id=world.customer.id, channel="web", subject=f"w{i}", message="hi"),
            )  # fmt: skip
            start = now - timedelta(seconds=since)
            s.add(QueueEntry(tenant_id=world.tenant_id, conversation_id=c.id, state=state, waiting_since=start,
                             assigned_at=start + timedelta(seconds=assigned) if assigned else None))  # fmt: skip
        s.add(AgentPresence(tenant_id=world.tenant_id, staff_id=world.staff[Role.AGENT].id, status="away"))
    live.WALLBOARDS._values.clear()
    sign_in(client, world, Role.SUPERVISOR)
    before = live.WALLBOARDS.computed
    page = client.get("/wallboard", headers={"accept-language": "en"})
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text
    assert 'data-kpi="waiting">2<' in page.text and 'data-kpi="answered">2<' in page.text
    assert 'data-kpi="abandoned">1<' in page.text
    # Within 30 s: 1 of (2 answered + 1 abandoned).
    assert 'data-kpi="service-level">33.3%<' in page.text and 'data-kpi="agents-away">1<' in page.text
    assert 'data-alert="longest_wait"' in page.text and 'data-alert="service_level"' in page.text
    assert 'data-alert="no_agents"' in page.text
    for _ in range(5):  # more viewers within the TTL: no new query set
        assert client.get("/wallboard").status_code == 200
    assert live.WALLBOARDS.computed == before + 1
    live.WALLBOARDS._values.clear()
    zh = client.get("/wallboard", headers={"accept-language": "zh-CN"})
    assert "实时大屏" in zh.text and "当前排队" in zh.text
