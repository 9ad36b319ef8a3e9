"""The pages this work changed, walked in Chromium as an admin in zh-CN and en (screenshots under
``test-output/console2/``): the assistant console's new forms (texts, an intent with its answer, flows), the
automation builder, a ticket's linked tickets, the widget settings' offline modes. Each page shows its own
words in the reader's language, and nothing scrolls sideways at 360 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

WORDS = {
    "zh-CN": {"texts": "问候语与转人工话术", "intent_saved": "意图已保存", "save_intent": "保存意图", "links": "关联工单",
              "builder": "添加条件", "offline": "非营业时间", "flows": "保存流程和连接器"},
    "en": {"texts": "Greeting and hand-over texts", "intent_saved": "Intent saved", "save_intent": "Save intent",
           "links": "Linked tickets", "builder": "Add condition", "offline": "Outside business hours",
           "flows": "Save flows and connectors"},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_walk_the_changed_pages(browser: Any, live_server: str, world: World, artifacts_dir: Path, lang: str) -> None:
    out = artifacts_dir / "console2"
    out.mkdir(exist_ok=True)
    words = WORDS[lang]
    api = httpx.Client(base_url=f"{live_server}/api/v1", headers=world.headers())
    ticket = api.post("/tickets", json={"subject": "发票抬头错误", "customer_id": str(world.customer.id)}).json()
    for width in (1280, 360):
        context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
        page = context.new_page()
        browser_sign_in(page, live_server, world, Role.ADMIN)
        if lang != "zh-CN":
            page.goto(f"{live_server}/lang/{lang}")

        page.goto(f"{live_server}/admin/assistant")
        expect(page.get_by_role("heading", name=words["texts"])).to_be_visible()
        if width == 1280:
            page.locator("#greeting-zh").fill("欢迎光临！")
            page.locator("#greeting-en").fill("Welcome!")
            page.locator("#texts button[type=submit]").click()
            expect(page.locator("#texts [role=status]")).to_be_visible()
            page.locator("#intent-label").fill("invoice_title")
            page.locator("#intent-phrases").fill("发票抬头开错了\nwrong invoice title")
            page.locator("#intent-answer-zh").fill("请在订单页申请重开发票。")
            page.locator("#intent-answer-en").fill("Ask for a new invoice on the order page.")
            page.get_by_role("button", name=words["save_intent"]).click()
            expect(page.locator("#intents [role=status]")).to_contain_text(words["intent_saved"])
            expect(page.locator("tr[data-label='invoice_title']")).to_be_visible()
        expect(page.get_by_role("button", name=words["flows"])).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(out / f"assistant-{lang}-{width}.png"), full_page=True)

        page.goto(f"{live_server}/settings/automations")
        expect(page.get_by_role("button", name=words["builder"])).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(out / f"automations-{lang}-{width}.png"), full_page=True)

        page.goto(f"{live_server}/tickets/{ticket['id']}")
        expect(page.locator("#links")).to_contain_text(words["links"])
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(out / f"ticket-{lang}-{width}.png"), full_page=True)

        page.goto(f"{live_server}/settings/widget")
        expect(page.locator("#offline-form option[value='outside_hours']")).to_contain_text(words["offline"])
        page.screenshot(path=str(out / f"widget-settings-{lang}-{width}.png"), full_page=True)
        context.close()
