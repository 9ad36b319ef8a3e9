"""The staff console in Chromium, each page walked by its role in zh-CN and en, on a 360 px wide screen: an admin
invites a person and puts them in a new team, sees the roles and makes and revokes an API key; an auditor filters
the audit log and downloads it as CSV; an agent is refused. Screenshots go to test-output/."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

PHONE = {"width": 360, "height": 740}


def _fits(page: Any) -> None:
    """Nothing sticks out sideways at 360 px (tables scroll inside their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def test_an_admin_invites_a_person_and_adds_them_to_a_new_team(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    base = live_server
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = context.new_page()
    browser_sign_in(page, base, world, Role.ADMIN)
    page.get_by_role("link", name="设置", exact=True).click()
    page.wait_for_url(f"{base}/settings")
    nav = page.get_by_role("navigation", name="设置")
    for label in ("用户", "团队与技能", "角色", "API 密钥", "渠道", "智能助手", "Webhook", "后台任务"):
        assert nav.get_by_role("link", name=label, exact=True).is_visible(), label
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-settings-zh.png"), full_page=True)

    # Keyboard: focus the navigation link and press Enter.
    nav.get_by_role("link", name="用户", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/settings/users")
    rows_before = page.locator("tr[data-user]").count()

    # Bad input: the messages sit beside their fields, and nobody is created.
    page.get_by_label("邮箱").fill("not-an-address")
    page.get_by_role("button", name="邀请", exact=True).click()
    assert page.locator("#email-error").inner_text() == "请输入邮箱地址，例如 name@example.com。"
    assert page.locator("#display_name-error").is_visible()
    assert page.get_by_label("邮箱").get_attribute("aria-invalid") == "true"
    assert page.locator("tr[data-user]").count() == rows_before
    page.screenshot(path=str(artifacts_dir / "console-invite-error-zh.png"), full_page=True)

    page.get_by_label("邮箱").fill("li.na@x.example")
    page.get_by_label("姓名").fill("李娜")
    page.get_by_label("角色").select_option("agent")
    page.get_by_role("button", name="邀请", exact=True).click()
    one_time = page.get_by_label("一次性密码").inner_text()
    assert len(one_time) >= 12 and "已邀请 李娜" in page.locator("[data-created]").inner_text()
    assert page.locator("tr[data-user]").count() == rows_before + 1
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-invited-zh.png"), full_page=True)

    page.get_by_role("navigation", name="设置").get_by_role("link", name="团队与技能").click()
    page.wait_for_url(f"{base}/settings/teams")
    page.get_by_label("团队名称").fill("退款组")
    page.get_by_label("技能（用逗号分隔）").fill("退款，发票")
    page.get_by_label("团队名称").press("Enter")  # the form submits from the keyboard
    page.wait_for_url(f"{base}/settings/teams/*?done=created")
    assert page.get_by_role("status").inner_text() == "团队已创建。"
    page.get_by_label("添加成员").select_option(label="李娜 (li.na@x.example)")
    page.get_by_role("button", name="添加", exact=True).click()
    page.wait_for_url(f"{base}/settings/teams/*?done=member_added")
    assert "李娜" in page.locator("#members li[data-member]").inner_text()
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-team-zh.png"), full_page=True)
    nav = page.get_by_role("navigation", name="设置")
    nav.get_by_role("link", name="角色", exact=True).click()
    assert "查看审计日志" in page.locator('tr[data-perm="audit.read"]').inner_text()
    nav = page.get_by_role("navigation", name="设置")
    nav.get_by_role("link", name="API 密钥", exact=True).click()
    assert page.get_by_role("heading", name="新建 API 密钥").is_visible()
    keys = page.locator("tr[data-key]").count()
    page.get_by_role("button", name="创建密钥").click()  # no name: refused beside the field
    assert page.locator("#name-error").inner_text() == "请输入名称（单行，最多 200 个字符）。"
    assert page.locator("tr[data-key]").count() == keys

    # The same console in English: the person's row shows the new team.
    page.goto(f"{base}/lang/en?next=/settings/users")
    page.wait_for_url(f"{base}/settings/users")
    assert page.get_by_role("heading", name="Users", exact=True).is_visible()
    row = page.locator("tr[data-user]", has_text="li.na@x.example")
    assert "退款组" in row.inner_text() and "Agent" in row.inner_text()
    assert one_time not in page.content()  # the one-time password was shown once
    row.get_by_role("link", name="李娜").click()
    assert page.get_by_label("Team name").count() == 0 and page.get_by_label("退款组").is_checked()
    page.screenshot(path=str(artifacts_dir / "console-user-en.png"), full_page=True)

    page.get_by_role("link", name="Roles", exact=True).click()
    matrix = page.get_by_role("table", name="Permissions by role")
    assert "Read the audit log" in matrix.locator('tr[data-perm="audit.read"]').inner_text()
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-roles-en.png"), full_page=True)

    page.get_by_role("link", name="API keys", exact=True).click()
    page.get_by_label("Name").fill("ERP sync")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("API key", exact=True).inner_text()
    assert secret.startswith("odk_") and "shown only this once" in page.locator("[data-created]").inner_text()
    page.screenshot(path=str(artifacts_dir / "console-api-key-en.png"), full_page=True)
    page.get_by_role("button", name="Revoke ERP sync").click()
    page.wait_for_url(f"{base}/settings/api-keys?done=revoked")
    assert "revoked" in page.locator("tr[data-key]", has_text="ERP sync").inner_text()
    assert secret not in page.content()
    _fits(page)

    page.get_by_role("link", name="Teams & skills", exact=True).click()
    field = page.get_by_label("李娜 Agent")
    field.fill("Cantonese, refunds")
    field.press("Enter")
    page.wait_for_url(f"{base}/settings/teams?done=skills_saved*")
    assert page.get_by_role("status").inner_text() == "The skills were saved."
    assert page.get_by_label("李娜 Agent").input_value() == "Cantonese, refunds"
    assert "李娜" in page.locator("tr[data-team]", has_text="退款组").inner_text()
    page.screenshot(path=str(artifacts_dir / "console-teams-en.png"), full_page=True)
    _fits(page)
    context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_an_auditor_filters_the_log_and_downloads_it(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    base = live_server
    words = {
        "zh-CN": {"log": "审计日志", "type": "对象类型", "go": "筛选", "csv": "下载 CSV", "time": "时间",
                  "bad": "请输入日期，或日期和时间。"},
        "en": {"log": "Audit log", "type": "Object type", "go": "Filter", "csv": "Download CSV", "time": "Time",
               "bad": "Enter a date, or a date and time."},
    }[locale]  # fmt: skip
    context = browser.new_context(locale="zh-CN", viewport=PHONE)  # the log-in helper reads Chinese labels
    page = context.new_page()
    browser_sign_in(page, base, world, Role.AUDITOR)
    if locale == "en":
        page.goto(f"{base}/lang/en?next=/")
    page.goto(f"{base}/settings")
    page.get_by_role("link", name=words["log"], exact=True).first.click()
    page.wait_for_url(f"{base}/audit")
    everything = page.locator("tr[data-record]").count()
    page.get_by_label(words["type"]).fill("team")
    page.get_by_role("button", name=words["go"]).click()
    page.wait_for_url(f"{base}/audit?*target_type=team*")
    rows = page.locator("tr[data-record]")
    assert 0 < rows.count() < everything
    for i in range(rows.count()):
        assert rows.nth(i).locator("td").nth(3).inner_text().startswith("team")
    _fits(page)
    page.screenshot(path=str(artifacts_dir / f"console-audit-{locale}.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name=words["csv"]).click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == words["time"] and len(table) == 1 + rows.count()
    assert {r[5] for r in table[1:]} == {"team"}

    page.goto(f"{base}/audit?since=last-week")
    assert page.locator("#since-error").inner_text() == words["bad"]
    context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_an_agent_is_refused_the_console(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    context = browser.new_context(locale="zh-CN", viewport=PHONE)  # the log-in helper reads Chinese labels
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.AGENT)
    if locale == "en":
        page.goto(f"{live_server}/lang/en?next=/")
    assert page.get_by_role("link", name="设置" if locale == "zh-CN" else "Settings", exact=True).count() == 0
    for path in ("/settings", "/settings/users", "/settings/teams", "/settings/api-keys", "/audit"):
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 403, path
    assert page.locator(".settings-nav").count() == 0
    page.screenshot(path=str(artifacts_dir / f"console-refused-{locale}.png"), full_page=True)
    context.close()
