"""The "test your assistant" console in a real browser: a knowledge manager asks in Chinese and English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.factories import browser_sign_in

pytestmark = pytest.mark.browser


def test_console_answers_clarifies_and_runs_a_flow(
    browser: Any, live_server: str, bot_world: BotWorld, artifacts_dir: Path
) -> None:
    world = bot_world.world
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.KNOWLEDGE_MANAGER)
    page.get_by_role("link", name="智能助手").click()
    page.wait_for_url(f"{live_server}/admin/assistant")

    page.get_by_label("客户消息").fill("我想退货，怎么操作？")
    page.get_by_role("button", name="提问").click()
    answer = page.locator(".bot-line.bot").last
    answer.wait_for()
    assert "7 天" in answer.inner_text()
    assert "knowledge return-policy" in page.locator(".bot-line.meta").last.inner_text()

    page.get_by_label("客户消息").fill("where is my parcel?")
    page.get_by_role("button", name="提问").click()
    page.locator(".bot-line.bot").nth(1).wait_for()
    page.get_by_label("客户消息").fill("SF1234567890")
    page.get_by_role("button", name="提问").click()
    page.locator(".bot-line.bot").nth(2).wait_for()
    assert "in transit" in page.locator(".bot-line.bot").nth(2).inner_text()
    page.screenshot(path=str(artifacts_dir / "assistant-console.png"), full_page=True)
    context.close()
