"""The automation form builder in a real browser: rows added and removed with the buttons (progressive
enhancement), a rule the API made is edited without losing what the rows cannot show, the server refuses a bad
row naming it, and the dry run still works; zh-CN and en, at 1280 and 360 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _page(browser: Any, base: str, world: World, lang: str, width: int = 1280) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    page = context.new_page()
    browser_sign_in(page, base, world, Role.ADMIN)
    if lang != "zh-CN":
        page.goto(f"{base}/lang/{lang}")
    return page


def test_rows_are_added_removed_and_a_rule_keeps_what_the_rows_cannot_show(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    out = artifacts_dir / "console2"
    out.mkdir(exist_ok=True)
    api = httpx.Client(base_url=f"{live_server}/api/v1", headers=world.headers())
    reply = {"type": "reply_template", "body": "收到", "bodies": {"zh-CN": "收到，我们会尽快处理。", "en": "Got it."},
             "counts_as_first_response": True}  # fmt: skip
    made = api.post("/automations", json={"name": "Ack", "trigger": {"event": "ticket.created"},
                                          "conditions": [{"field": "priority", "op": "in", "value": ["high", "urgent"]}],
                                          "actions": [reply]})  # fmt: skip
    assert made.status_code == 201, made.text
    rule_id = made.json()["id"]

    page = _page(browser, live_server, world, "en")
    page.goto(f"{live_server}/settings/automations?edit={rule_id}")
    rows = page.locator("#conditions .rule-row")
    expect(rows).to_have_count(3)  # the rule's row and two blank ones
    expect(rows.first.locator("[name='c_field']")).to_have_value("priority")
    expect(rows.first.locator("[name='c_op']")).to_have_value("in")
    expect(rows.first.locator("[name='c_value']")).to_have_value("high, urgent")
    page.get_by_role("button", name="Add condition").click()
    expect(rows).to_have_count(4)
    rows.nth(3).get_by_role("button", name="Remove row").click()
    rows.nth(2).get_by_role("button", name="Remove row").click()
    expect(rows).to_have_count(2)
    rows.nth(1).locator("[name='c_field']").select_option("tags")
    rows.nth(1).locator("[name='c_op']").select_option("contains")
    rows.nth(1).locator("[name='c_value']").fill("vip")
    actions = page.locator("#actions .rule-row")
    expect(actions.first.locator("[name='a_type']")).to_have_value("reply_template")
    expect(actions.first.locator("[name='a_value']")).to_have_value("收到")
    actions.nth(1).locator("[name='a_type']").select_option("add_tag")
    actions.nth(1).locator("[name='a_value']").fill("acked")
    page.screenshot(path=str(out / "automations-builder-en.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    rule = next(r for r in api.get("/automations").json() if r["id"] == rule_id)
    assert rule["conditions"] == [{"field": "priority", "op": "in", "value": ["high", "urgent"]},
                                  {"field": "tags", "op": "contains", "value": "vip"}]  # fmt: skip
    assert rule["actions"] == [reply, {"type": "add_tag", "tag": "acked"}]  # bodies and the flag survived
    page.context.close()

    page = _page(browser, live_server, world, "zh-CN", width=360)
    page.goto(f"{live_server}/settings/automations")
    page.get_by_label("名称").fill("通知主管")
    first = page.locator("#conditions .rule-row").first
    first.locator("[name='c_field']").select_option("reopen_count")
    first.locator("[name='c_op']").select_option("gt")
    first.locator("[name='c_value']").fill("2")
    act = page.locator("#actions .rule-row").first
    act.locator("[name='a_type']").select_option("notify")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert")).to_contain_text("actions[0]: notify 'to' is one of")
    expect(page.locator("#conditions [name='c_value']").first).to_have_value("2")
    act = page.locator("#actions .rule-row").first
    act.locator("[name='a_target']").select_option("supervisors")
    act.locator("[name='a_value']").fill("重开多次的工单")
    expect(page.get_by_role("button", name="添加动作")).to_be_visible()
    page.get_by_role("button", name="试运行", exact=True).click()
    expect(page.locator("#dry-run").get_by_role("status")).to_contain_text("未做任何修改")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("已创建。")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(out / "automations-builder-zh-360.png"), full_page=True)
    saved = next(r for r in api.get("/automations").json() if r["name"] == "通知主管")
    assert saved["conditions"] == [{"field": "reopen_count", "op": "gt", "value": 2}]
    assert saved["actions"] == [{"type": "notify", "to": "supervisors", "message": "重开多次的工单"}]
    page.context.close()
