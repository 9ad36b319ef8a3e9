"""The workforce pages in a real browser, in Chinese and English: a supervisor opens 工作量/Workforce from the
navigation, reads the forecast's back-tested error and the charts, runs the simulator with one more agent per
interval; an agent opens their own schedule and is refused the planning page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in
from tests.wfm.history import seed_history

pytestmark = pytest.mark.browser

TEXT = {
    "zh-CN": {"publish": "发布", "nav": "排班", "simulate": "仿真", "extra": "每时段增加坐席", "mine": "我的排班"},
    "en": {
        "publish": "Publish the shifts",
        "nav": "Workforce",
        "simulate": "Simulate",
        "extra": "Agents added per interval",
        "mine": "My schedule",
    },
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_supervisor_plans_and_simulates_agent_sees_own_schedule(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path, lang: str
) -> None:
    text = TEXT[lang]
    seed_history(db, world.tenant_id, world.customer.id, world.team_id, days=21, per_interval=4)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.SUPERVISOR)
    page.goto(f"{live_server}/lang/{lang}?next=/inbox")
    page.get_by_role("link", name=text["nav"], exact=True).click()
    page.wait_for_url(f"{live_server}/wfm")
    assert "WAPE" in page.locator("[data-accuracy]").inner_text()
    assert page.locator("svg.chart[role=img]").count() == 3
    assert page.locator("#chart-forecast polyline.forecast").count() == 1
    assert page.locator("#roster-table tbody tr").count() >= 1
    page.screenshot(path=str(artifacts_dir / f"wfm-plan-{lang}.png"), full_page=True)
    page.get_by_role("button", name=text["publish"]).click()
    page.wait_for_selector("#published")
    page.get_by_label(text["extra"]).fill("1")
    page.get_by_role("button", name=text["simulate"]).click()
    page.wait_for_selector("#sim-results")
    assert int(page.locator('[data-sim="offered"]').inner_text()) > 50
    assert "%" in page.locator('[data-sim="service-level"]').inner_text()
    page.screenshot(path=str(artifacts_dir / f"wfm-simulated-{lang}.png"), full_page=True)
    context.close()

    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 780})
    context.set_default_timeout(60_000)
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.AGENT)
    page.goto(f"{live_server}/lang/{lang}?next=/inbox")
    page.get_by_role("link", name=text["mine"], exact=True).click()
    page.wait_for_url(f"{live_server}/me/schedule")
    assert page.locator("#my-shifts, #no-shift").count() == 1
    page.screenshot(path=str(artifacts_dir / f"wfm-me-{lang}.png"), full_page=True)
    assert page.goto(f"{live_server}/wfm").status == 403
    context.close()
