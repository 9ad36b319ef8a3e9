"""A staff member signs in with a real browser, in Chinese and in English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World

pytestmark = pytest.mark.browser


def test_sign_in_switch_language_and_sign_out(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "登录"
    page.get_by_label("工作区").fill(world.slug)
    page.get_by_label("邮箱").fill(world.emails[Role.SUPERVISOR])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")
    assert "欢迎" in page.locator("h1").inner_text()
    assert "主管" in page.content()
    page.screenshot(path=str(artifacts_dir / "home-zh.png"), full_page=True)
    page.get_by_role("link", name="English").click()
    assert "Welcome" in page.locator("h1").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/")
    assert page.url.endswith("/login")
    context.close()


def test_wrong_password_shows_a_clear_message(browser: Any, live_server: str, world: World) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Workspace").fill(world.slug)
    page.get_by_label("E-mail").fill(world.emails[Role.AGENT])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong workspace, e-mail or password" in page.get_by_role("alert").inner_text()
    context.close()
