"""The security controls as the people who use them meet them in a real browser, in Chinese and in English: an
admin makes a one-time reset link for a colleague, the colleague sets a new password with it (and the link is dead
afterwards), and an admin stores the assistant's language-model key, which the page never shows back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a brand new passphrase 2026"
LLM_KEY = "sk-test-0123456789-secret-9f3a"

TEXT = {
    "zh-CN": {
        "workspace": "工作区",
        "email": "邮箱",
        "password": "密码",
        "sign_in": "登录",
        "reset": "重置密码",
        "new": "新密码",
        "confirm": "再次输入新密码",
        "set": "设置密码",
        "password_set": "新密码已设置",
        "link_gone": "此链接已过期或已被使用",
        "key": "API 密钥",
        "save": "保存",
        "key_set": "已保存密钥",
    },
    "en": {
        "workspace": "Workspace",
        "email": "E-mail",
        "password": "Password",
        "sign_in": "Sign in",
        "reset": "Reset password",
        "new": "New password",
        "confirm": "New password again",
        "set": "Set password",
        "password_set": "Your new password is set",
        "link_gone": "This link has expired or was already used",
        "key": "API key",
        "save": "Save",
        "key_set": "A key is stored (ending in 9f3a)",
    },
}


def _sign_in(page: Any, base: str, world: World, email: str, password: str, words: dict[str, str]) -> None:
    page.goto(f"{base}/login")
    page.get_by_label(words["workspace"]).fill(world.slug)
    page.get_by_label(words["email"]).fill(email)
    page.get_by_label(words["password"], exact=True).fill(password)
    page.get_by_role("button", name=words["sign_in"]).click()
    page.wait_for_url(f"{base}/")
    _in_language(page, words)


def _in_language(page: Any, words: dict[str, str]) -> None:
    """Pages follow the account's language (Chinese for these accounts) until the person switches."""
    if words is TEXT["en"] and page.get_by_role("link", name="English").count():
        page.get_by_role("link", name="English").click()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_admin_reset_link_sets_a_new_password_once(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    words = TEXT[locale]
    admin = browser.new_context(locale=locale)
    page = admin.new_page()
    _sign_in(page, live_server, world, world.emails[Role.ADMIN], PASSWORD, words)
    page.goto(f"{live_server}/admin/staff")  # the old address leads to the console's user list
    page.wait_for_url(f"{live_server}/settings/users")
    page.locator("tr", has_text=world.emails[Role.AGENT]).get_by_role("link").click()
    page.get_by_role("button", name=words["reset"]).click()
    link = page.locator("#reset-link").input_value()
    assert "/password-reset/" in link
    page.screenshot(path=str(artifacts_dir / f"security-reset-link-{locale}.png"), full_page=True)
    admin.close()

    colleague = browser.new_context(locale=locale)
    page = colleague.new_page()
    page.goto(link)
    _in_language(page, words)
    page.get_by_label(words["new"], exact=True).fill(NEW_PASSWORD)
    page.get_by_label(words["confirm"]).fill(NEW_PASSWORD)
    page.screenshot(path=str(artifacts_dir / f"security-reset-form-{locale}.png"), full_page=True)
    page.get_by_role("button", name=words["set"]).click()
    page.wait_for_url(f"{live_server}/login*")
    assert words["password_set"] in page.content()
    _sign_in(page, live_server, world, world.emails[Role.AGENT], NEW_PASSWORD, words)
    page.goto(link)  # the link worked once
    assert words["link_gone"] in page.content()
    colleague.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_llm_key_is_stored_and_never_shown_back(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    words = TEXT[locale]
    context = browser.new_context(locale=locale)
    page = context.new_page()
    _sign_in(page, live_server, world, world.emails[Role.ADMIN], PASSWORD, words)
    page.goto(f"{live_server}/admin/assistant#llm")
    page.get_by_label(words["key"], exact=True).fill(LLM_KEY)
    page.locator("#llm").get_by_role("button", name=words["save"]).click()
    page.wait_for_load_state()
    page.goto(f"{live_server}/admin/assistant#llm")
    assert words["key_set"] in page.locator("#llm-key-state").inner_text()
    assert page.get_by_label(words["key"], exact=True).input_value() == ""
    assert LLM_KEY not in page.content()
    page.screenshot(path=str(artifacts_dir / f"security-llm-key-{locale}.png"), full_page=True)
    context.close()
