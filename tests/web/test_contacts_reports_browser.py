"""The staff console in a real browser, in Chinese and English, at phone width (360 px), by keyboard where it
matters: an agent searches a contact, opens the profile, edits it (an invalid e-mail is explained beside the
field), and merges two duplicates; a supervisor opens the reports, changes the range and downloads a CSV; an agent
is refused the reports."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.customers import actions as customer_actions
from omnidesk.customers.models import Customer
from omnidesk.customers.schemas import CustomerCreate
from omnidesk.security.permissions import Role
from tests.analytics.test_reports import seed
from tests.factories import World, browser_sign_in

pytestmark = pytest.mark.browser

TEXT = {
    "zh-CN": {"contacts": "联系人", "search": "搜索联系人", "email": "邮箱", "save": "保存", "saved": "已保存。",
              "bad_email": "请输入有效的邮箱地址", "merge": "合并", "keep_other": "保留所选的联系人",
              "merged": "联系人已合并。", "reports": "报表", "from": "开始日期", "apply": "应用",
              "csv": "下载 CSV — 各渠道会话数"},
    "en": {"contacts": "Contacts", "search": "Search contacts", "email": "E-mail", "save": "Save", "saved": "Saved.",
           "bad_email": "Enter a valid e-mail address", "merge": "Merge", "keep_other": "Keep the selected contact",
           "merged": "The contacts were merged.", "reports": "Reports", "from": "From", "apply": "Apply",
           "csv": "Download CSV — Conversations by channel"},
}  # fmt: skip


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def _start(browser: Any, live_server: str, world: World, role: Role, lang: str) -> tuple[Any, Any]:
    # Signing in goes through the Chinese log-in page (the default); the language link then picks ``lang``.
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 780}, accept_downloads=True)
    page = context.new_page()
    browser_sign_in(page, live_server, world, role)
    page.goto(f"{live_server}/lang/{lang}?next=/inbox")
    return context, page


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_agent_searches_opens_edits_and_merges_contacts(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path, lang: str
) -> None:
    text = TEXT[lang]
    tag = uuid.uuid4().hex[:6]
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        first = customer_actions.create_customer(
            s, system, CustomerCreate(name=f"王小明 {tag}", phone="+8613911112222", tags=["vip"])
        )
        second = customer_actions.create_customer(
            s,
            system,
            CustomerCreate(name=f"王小明 {tag}", identities=[{"kind": "external", "value": f"crm-{tag}"}]),  # type: ignore[list-item]
        )
        first_id, second_id = first.id, second.id
    context, page = _start(browser, live_server, world, Role.AGENT, lang)
    page.get_by_role("link", name=text["contacts"], exact=True).click()
    page.wait_for_url(f"{live_server}/contacts")
    # By keyboard: focus the search box, type the external id, press Enter.
    page.get_by_label(text["search"]).focus()
    page.keyboard.type(f"crm-{tag}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/contacts?q=crm-{tag}")
    assert _fits(page)
    page.screenshot(path=str(artifacts_dir / f"contacts-search-{lang}.png"), full_page=True)
    page.get_by_role("link", name=f"王小明 {tag}").click()
    page.wait_for_url(f"{live_server}/contacts/{second_id}")
    assert f"crm-{tag}" in page.content() and _fits(page)
    # An invalid e-mail is refused beside its field; nothing is saved.
    page.get_by_label(text["email"], exact=True).fill("not-an-address")
    page.get_by_role("button", name=text["save"]).click()
    error = page.locator("#err-email")
    assert text["bad_email"] in error.inner_text()
    assert page.get_by_label(text["email"], exact=True).get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(artifacts_dir / f"contacts-invalid-{lang}.png"), full_page=True)
    page.get_by_label(text["email"], exact=True).fill(f"wang.{tag}@example.com")
    page.get_by_role("button", name=text["save"]).click()
    page.wait_for_url(f"{live_server}/contacts/{second_id}?saved=1")
    assert text["saved"] in page.get_by_role("status").inner_text()
    assert f"wang.{tag}@example.com" in page.content()
    # The duplicate (same name) is offered; keep the other one (the first profile) and merge.
    page.locator(f'input[name="other"][value="{first_id}"]').check()
    page.get_by_label(text["keep_other"]).check()
    page.screenshot(path=str(artifacts_dir / f"contacts-merge-{lang}.png"), full_page=True)
    page.get_by_role("button", name=text["merge"], exact=True).click()
    page.wait_for_url(f"{live_server}/contacts/{first_id}?merged={second_id}")
    assert text["merged"] in page.get_by_role("status").inner_text()
    content = page.content()
    assert f"crm-{tag}" in content and f"wang.{tag}@example.com" in content
    page.screenshot(path=str(artifacts_dir / f"contacts-merged-{lang}.png"), full_page=True)
    # The retired profile's address leads to the survivor.
    page.goto(f"{live_server}/contacts/{second_id}")
    page.wait_for_url(f"{live_server}/contacts/{first_id}?merged={second_id}")
    context.close()
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(Customer.merged_into_id).where(Customer.id == second_id)) == first_id


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_supervisor_reads_reports_changes_the_range_and_downloads_csv(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path, lang: str
) -> None:
    text = TEXT[lang]
    seed(db, world.tenant_id, world.customer.id)
    context, page = _start(browser, live_server, world, Role.SUPERVISOR, lang)
    page.get_by_role("link", name=text["reports"], exact=True).click()
    page.wait_for_url(f"{live_server}/reports")
    assert page.locator("svg[role=img] title").count() >= 3
    page.get_by_label(text["from"]).fill("2026-03-02")
    page.locator("#r-end").fill("2026-03-03")
    page.get_by_role("button", name=text["apply"]).click()
    page.wait_for_url(f"{live_server}/reports?start=2026-03-02&end=2026-03-03")
    assert page.locator('[data-kpi="total"]').inner_text() == "7"
    assert _fits(page)
    page.screenshot(path=str(artifacts_dir / f"reports-{lang}.png"), full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name=text["csv"]).click()
    download = info.value
    assert download.suggested_filename == "channels_2026-03-02_2026-03-03.csv"
    body = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
    assert [line.rsplit(",", 1)[1] for line in body[1:]] == ["4", "2", "1"]
    context.close()


def test_an_agent_is_refused_the_reports(browser: Any, live_server: str, world: World) -> None:
    context, page = _start(browser, live_server, world, Role.AGENT, "en")
    assert page.get_by_role("link", name="Reports", exact=True).count() == 0
    response = page.goto(f"{live_server}/reports")
    assert response is not None and response.status == 403
    context.close()
