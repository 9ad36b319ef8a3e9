"""Analytics in a real browser, in Chinese and English: a supervisor opens the metrics, breaks them down by
channel, follows the abandonment figure to the one conversation behind it, downloads its CSV, and opens the
wallboard; the page's SVG chart is labelled for assistive technology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnidesk.analytics import live, rollup
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.analytics.test_analytics_rollup import NOW, seed_queue
from tests.factories import World, browser_sign_in

pytestmark = pytest.mark.browser

TEXT = {
    "zh-CN": {"metrics": "指标", "by": "分组维度", "channel": "渠道", "apply": "应用", "from": "开始日期",
              "to": "结束日期", "catalogue": "指标目录", "wallboard": "实时大屏", "waiting": "当前排队",
              "drill": "计入分子的会话"},
    "en": {"metrics": "Metrics", "by": "Break down by", "channel": "Channel", "apply": "Apply", "from": "From",
           "to": "To", "catalogue": "Metric catalogue", "wallboard": "Wallboard", "waiting": "Waiting now",
           "drill": "Conversations counted in the numerator"},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_reports_drill_down_and_wallboard(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path, lang: str
) -> None:
    text = TEXT[lang]
    queued = seed_queue(db, world)
    rollup.run_tenant(db, world.tenant_id, now=NOW)
    live.WALLBOARDS._values.clear()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    try:
        browser_sign_in(page, live_server, world, Role.SUPERVISOR)
        page.goto(f"{live_server}/lang/{lang}?next=/reports")
        page.get_by_role("link", name=text["metrics"], exact=True).first.click()
        page.wait_for_url("**/reports/metrics**")
        page.get_by_label(text["from"], exact=True).fill("2026-03-02")
        page.get_by_label(text["to"], exact=True).fill("2026-03-03")
        page.locator("#m-dim").select_option("channel")
        page.get_by_role("button", name=text["apply"]).click()
        page.wait_for_url("**dimension=channel**")
        assert page.get_by_role("heading", name=text["catalogue"]).is_visible()
        assert page.locator("svg#chart-daily[role=img] > title").count() == 1
        assert page.locator("svg#chart-daily > desc").count() == 1
        cell = page.locator('td[data-metric="abandonment"][data-value="web"] a')
        assert cell.inner_text() == "33.3%"
        cell.click()
        page.wait_for_url("**/reports/metrics/drill**")
        assert text["drill"] in page.content()
        assert page.locator("tr[data-conversation]").evaluate_all("rs => rs.map(r => r.dataset.conversation)") == [
            str(queued[2])
        ]
        with page.expect_download() as download:
            page.locator("#drill-csv").click()
        body = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert str(queued[2]) in body and body.count("\n") == 2
        page.screenshot(path=str(artifacts_dir / f"analytics-drill-{lang}.png"))
        page.goto(f"{live_server}/wallboard")
        assert page.get_by_role("heading", name=text["wallboard"]).first.is_visible()
        assert text["waiting"] in page.content()
        page.screenshot(path=str(artifacts_dir / f"analytics-wallboard-{lang}.png"))
    finally:
        context.close()
