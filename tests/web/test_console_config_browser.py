"""The console's configuration pages in a real browser, as an admin, in Chinese and English; at 360 px wide
with no sideways scrolling; forms driven by keyboard; a person without the permission sees the 403 page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _admin_page(browser: Any, base: str, world: World, lang: str, width: int = 1280, role: Role = Role.ADMIN) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    page = context.new_page()
    browser_sign_in(page, base, world, role)
    if lang != "zh-CN":
        page.goto(f"{base}/lang/{lang}")
    return page


def _fits(page: Any, width: int = 360) -> None:
    """Nothing wider than the screen: the page never scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_hours_sla_and_ticket_types(browser: Any, live_server: str, world: World, artifacts_dir: Path) -> None:
    base = live_server
    page = _admin_page(browser, base, world, "zh-CN", width=360)
    page.goto(f"{base}/settings/hours")
    expect(page.get_by_role("heading", name="营业时间", exact=True)).to_be_visible()
    page.get_by_label("星期一").fill("9点到18点")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "请更正以下问题，未做任何修改：\n星期一：“9点到18点”不是 09:00-18:00 这样的时间段"
    )
    page.get_by_label("时区").fill("Asia/Shanghai")
    page.get_by_label("星期一").fill("09:00-12:00, 13:00-18:00")
    page.get_by_label("星期二").fill("09:00-18:00")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("已保存。")
    expect(page.get_by_label("星期一")).to_have_value("09:00-12:00, 13:00-18:00")
    page.get_by_label("日期").fill("2026-10-01")
    page.get_by_role("button", name="添加").click()
    expect(page.locator("[data-holiday='2026-10-01']")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-hours-zh-360.png"), full_page=True)

    # A policy for every type (no team, no type): refused when the first response outlasts the resolution.
    page.goto(f"{base}/settings/sla")
    page.get_by_label("工单类型").select_option(label="全部类型")
    page.get_by_label("优先级").select_option(label="紧急")
    page.get_by_label("首次响应（分钟）").fill("300")
    page.get_by_label("解决（分钟）").fill("240")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be longer than the resolution target")
    assert page.locator("tr[data-policy]").count() == 0
    page.get_by_label("首次响应（分钟）").fill("15")
    page.get_by_label("自然时间（7×24 小时）").check()
    page.get_by_role("button", name="保存").click()
    row = page.locator("tr[data-policy='*:urgent']")
    expect(row).to_contain_text("全部类型")
    expect(row).to_contain_text("15 分钟")
    expect(row).to_contain_text("240 分钟")
    expect(row).to_contain_text("自然时间")
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-sla-zh-360.png"), full_page=True)
    page.context.close()

    page = _admin_page(browser, base, world, "en")
    page.goto(f"{base}/settings/sla")
    expect(page.get_by_role("heading", name="SLA policies")).to_be_visible()
    expect(page.locator("tr[data-policy='*:urgent']")).to_contain_text("All types")
    page.goto(f"{base}/settings/ticket-types")
    page.get_by_label("Key", exact=True).fill("warranty")
    page.get_by_label("Name", exact=True).fill("Warranty claim")
    first = page.locator("[data-field-row='0']")
    first.get_by_label("Field key").fill("model")
    first.get_by_label("Kind").select_option(label="Choice")
    first.get_by_label("Required").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("needs a list of distinct, non-empty options")
    first = page.locator("[data-field-row='0']")
    first.get_by_label("Options").fill("A1, B2")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Created.")
    expect(page.locator("tr[data-type='warranty']")).to_contain_text("model (Choice, Required)")
    page.screenshot(path=str(artifacts_dir / "console-ticket-types-en.png"), full_page=True)
    page.context.close()


def _row(page: Any, builder: str, index: int, **values: str) -> None:
    """Fill one row of the automation form builder: select lists by value, the value box by text."""
    row = page.locator(f"#{builder} .rule-row").nth(index)
    for name, value in values.items():
        box = row.locator(f"[name='{name}']")
        if name == "c_value" or name == "a_value":
            box.fill(value)
        else:
            box.select_option(value)


def test_automations_refuse_a_bad_condition_and_dry_run(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    base = live_server
    api = httpx.Client(base_url=f"{base}/api/v1", headers=world.headers())
    for subject in ("VIP 客户投诉", "普通咨询", "VIP 退款"):
        made = api.post(
            "/tickets",
            json={"subject": subject, "priority": "normal", "tags": ["vip-lead"] if "VIP" in subject else []},
        )
        assert made.status_code == 201, made.text
    page = _admin_page(browser, base, world, "zh-CN")
    page.goto(f"{base}/settings/automations")
    expect(page.get_by_role("heading", name="自动化规则", exact=True)).to_be_visible()
    page.get_by_label("名称").fill("VIP 提级")
    _row(page, "conditions", 0, c_field="reopen_count", c_op="gt", c_value="很多")
    _row(page, "actions", 0, a_type="set_field", a_target="priority", a_value="high")
    _row(page, "actions", 1, a_type="add_tag", a_value="vip")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert")).to_contain_text("conditions[0]: 'gt' needs a number")
    expect(page.locator("#conditions [name='c_value']").first).to_have_value("很多")  # what was typed is kept
    assert api.get("/automations").json() == []
    page.screenshot(path=str(artifacts_dir / "console-automation-error-zh.png"), full_page=True)

    _row(page, "conditions", 0, c_field="tags", c_op="contains", c_value="vip-lead")
    page.get_by_role("button", name="试运行", exact=True).click()
    result = page.locator("#dry-run")
    expect(result.get_by_role("status")).to_have_text("最近 3 个工单中有 2 个匹配；未做任何修改。")
    expect(result).to_contain_text("VIP 客户投诉")
    expect(result).to_contain_text("VIP 退款")
    expect(result).not_to_contain_text("普通咨询")
    expect(result).to_contain_text("设置字段 · priority: normal → high")
    assert api.get("/automations").json() == []
    assert {t["priority"] for t in api.get("/tickets").json()["items"]} == {"normal"}
    page.screenshot(path=str(artifacts_dir / "console-automation-dry-run-zh.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("已创建。")
    expect(page.locator("tr[data-rule='VIP 提级']")).to_contain_text("已启用")
    page.context.close()

    page = _admin_page(browser, base, world, "en", width=360)
    page.goto(f"{base}/settings/automations")
    page.get_by_role("button", name="Disable VIP 提级").click()
    expect(page.get_by_role("status")).to_have_text("The rule was disabled.")
    expect(page.locator("tr[data-rule='VIP 提级']")).to_contain_text("Disabled")
    assert api.get("/automations").json()[0]["enabled"] is False
    _fits(page)
    page.screenshot(path=str(artifacts_dir / "console-automations-en-360.png"), full_page=True)
    page.context.close()


def test_routing_canned_and_knowledge_categories(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    base = live_server
    api = httpx.Client(base_url=f"{base}/api/v1", headers=world.headers())
    page = _admin_page(browser, base, world, "zh-CN")
    page.goto(f"{base}/settings/routing")
    page.get_by_label("接受时限（秒）").fill("90")
    page.get_by_role("button", name="保存").first.click()
    expect(page.get_by_role("status")).to_have_text("已保存。")
    assert api.get("/routing/policy").json()["accept_timeout_seconds"] == 90

    # Canned response written with the keyboard only, then used in a reply.
    page.goto(f"{base}/settings/canned")
    page.get_by_label("快捷词").focus()
    page.keyboard.type("thanks")
    page.keyboard.press("Tab")
    page.keyboard.type("致谢")
    page.keyboard.press("Tab")
    page.keyboard.type("{customer_name}，感谢您的耐心等待。")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("已创建。")
    expect(page.locator("tr[data-canned='thanks']")).to_contain_text("致谢")
    page.screenshot(path=str(artifacts_dir / "console-canned-zh.png"), full_page=True)
    page.goto(f"{base}/inbox?view=all&c={world.conversation.id}")
    page.wait_for_selector("#workspace[data-live='1']")
    page.locator("#canned").select_option(label="/thanks — 致谢")
    expect(page.locator("#reply-body")).to_have_value(
        re.compile(f"{re.escape(world.customer.name)}，感谢您的耐心等待。")
    )
    page.context.close()

    page = _admin_page(browser, base, world, "en")
    page.goto(f"{base}/settings/knowledge-categories")
    for slug, en in (("returns", "Returns"), ("shipping", "Shipping")):
        page.get_by_label("Slug (in the address)").fill(slug)
        page.locator("form[action='/settings/knowledge-categories']").get_by_label("Name (English)").fill(en)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Created.")
    page.get_by_role("button", name="Move up shipping").click()
    expect(page.get_by_role("status")).to_have_text("The order was changed.")
    assert [c["slug"] for c in api.get("/knowledge/categories").json()] == ["shipping", "returns"]
    shipping = api.get("/knowledge/categories").json()[0]["id"]
    made = api.post("/knowledge/articles", json={"title": "Delivery times", "body": "Three days.", "language": "en",
                                                 "category_id": shipping})  # fmt: skip
    assert made.status_code == 201, made.text
    page.reload()
    page.get_by_role("button", name="Delete shipping").click()
    alert = page.locator("[data-category='shipping']").get_by_role("alert")
    expect(alert).to_contain_text("still holds 1 article(s), so it was not deleted")
    assert len(api.get("/knowledge/categories").json()) == 2
    page.screenshot(path=str(artifacts_dir / "console-knowledge-categories-en.png"), full_page=True)
    page.context.close()


def test_an_agent_sees_the_403_page(browser: Any, live_server: str, world: World, artifacts_dir: Path) -> None:
    page = _admin_page(browser, live_server, world, "zh-CN", role=Role.AGENT)
    for path in ("/settings/sla", "/settings/automations", "/settings/knowledge-categories"):
        answer = page.goto(f"{live_server}{path}")
        assert answer.status == 403
        expect(page.locator("main")).to_contain_text("你没有修改这些设置的权限。")
    page.goto(f"{live_server}/lang/en")
    answer = page.goto(f"{live_server}/settings/hours")
    assert answer.status == 403
    expect(page.locator("main")).to_contain_text("You do not have permission to change these settings.")
    page.screenshot(path=str(artifacts_dir / "console-403-en.png"), full_page=True)
    page.context.close()


PAGES = ("hours", "sla", "ticket-types", "automations", "routing", "canned", "knowledge-categories")


def test_every_page_fits_a_phone_inside_the_settings_navigation(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    page = _admin_page(browser, live_server, world, "en", width=360)
    for name in PAGES:
        page.goto(f"{live_server}/settings/{name}")
        nav = page.get_by_role("navigation", name="Settings")
        expect(nav.locator(f'a[href="/settings/{name}"]')).to_have_attribute("aria-current", "page")
        _fits(page)
        page.screenshot(path=str(artifacts_dir / f"console-{name}-en-360.png"), full_page=True)
    page.context.close()
