"""The ACD's queue settings, skill matrix and live queue wall in a real browser (Chinese, then English)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_queue_settings_matrix_and_wall(browser: Any, live_server: str, world: World, artifacts_dir: Path) -> None:
    base = live_server
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    browser_sign_in(page, base, world, Role.ADMIN)
    page.goto(f"{base}/settings/routing")
    new = page.locator("form.queue-form[data-queue='']")
    new.get_by_label("名称").fill("VIP 专线")
    new.get_by_label("所需技能（逗号分隔）").fill("vip")
    new.get_by_label("步骤").fill("4:20, 2, 0:30")  # only the last step may have no seconds
    new.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert")).to_contain_text("only the last step may have no timeout")
    new = page.locator("form.queue-form[data-queue='']")
    new.get_by_label("名称").fill("VIP 专线")
    new.get_by_label("所需技能（逗号分隔）").fill("vip")
    new.get_by_label("步骤").fill("4:20, 2:20, 0")
    new.get_by_label("坐席选择").select_option(label="技能分最高")
    new.get_by_label("无团队会话的默认队列").check()
    new.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("队列已保存。")
    saved = page.locator("form.queue-form[data-queue='VIP 专线']")
    expect(saved.get_by_label("步骤")).to_have_value("4:20, 2:20, 0")
    expect(saved.get_by_label("坐席选择")).to_have_value("best_score")
    # The skill matrix: the queue's skill is a column; give the agent proficiency 5.
    agent_row = page.locator(f"tr[data-agent='{world.emails[Role.AGENT]}']")
    agent_row.locator("input[type=number]").first.fill("5")
    page.locator("#skills").get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("技能矩阵已保存。")
    expect(page.locator(f"tr[data-agent='{world.emails[Role.AGENT]}'] input[type=number]").first).to_have_value("5")
    page.screenshot(path=str(artifacts_dir / "routing-acd-settings-zh.png"), full_page=True)

    # A customer waits (no agent online): the wall shows the queue with one waiting and the longest wait.
    with httpx.Client(base_url=base) as http:
        visitor = http.post(f"/api/v1/widget/{world.slug}/session", json={}).json()
        made = http.post(
            f"/api/v1/widget/{world.slug}/conversations",
            json={"message": "人工客服", "client_id": "c-acd-browser"},
            headers={"Authorization": f"Bearer {visitor['token']}"},
        )
        assert made.status_code == 201, made.text
    page.goto(f"{base}/supervisor/queues")
    expect(page.get_by_role("heading", name="队列墙")).to_be_visible()
    row = page.locator("tr[data-queue='VIP 专线']")
    expect(row.locator("td.waiting")).to_have_text("1")
    expect(row.locator("td.available")).to_have_text("0")
    row.get_by_role("button", name="暂停").click()
    expect(page.get_by_role("status")).to_have_text("已完成。")
    expect(page.locator("tr[data-queue='VIP 专线']")).to_contain_text("已暂停")
    # Set the agent online from the wall (audited in the action).
    agent = page.locator(f"tr[data-agent='{world.emails[Role.AGENT]}']")
    agent.get_by_label("设置状态 agent 员工").select_option("online")
    agent.get_by_role("button", name="设置状态").click()
    expect(page.locator(f"tr[data-agent='{world.emails[Role.AGENT]}'] td.presence")).to_have_text("在线")
    page.screenshot(path=str(artifacts_dir / "routing-acd-wall-zh.png"), full_page=True)
    page.goto(f"{base}/lang/en")
    page.goto(f"{base}/supervisor/queues")
    expect(page.get_by_role("heading", name="Queue wall")).to_be_visible()
    expect(page.locator("tr[data-queue='VIP 专线']")).to_contain_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("tr[data-queue='VIP 专线']")).not_to_contain_text("paused")
    context.close()
