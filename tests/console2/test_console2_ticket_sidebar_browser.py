"""The ticket page's sidebar in a real browser: linked tickets (parent, children, related) are listed and linked
from the page by number, a bad number says why; each message's badge names whom it went to (the customer by
name, or the team with the people an internal note @mentions); zh-CN and en."""

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


def test_linked_tickets_and_reply_targets(browser: Any, live_server: str, world: World, artifacts_dir: Path) -> None:
    out = artifacts_dir / "console2"
    out.mkdir(exist_ok=True)
    api = httpx.Client(base_url=f"{live_server}/api/v1", headers=world.headers())

    def ticket(subject: str) -> dict[str, Any]:
        made = api.post("/tickets", json={"subject": subject, "customer_id": str(world.customer.id)})
        assert made.status_code == 201, made.text
        return dict(made.json())

    main, parent, child, related = (
        ticket("退款未到账"),
        ticket("批量退款问题"),
        ticket("补发发票"),
        ticket("同一订单的投诉"),
    )
    agent = world.staff[Role.AGENT]
    assert (
        api.post(f"/tickets/{main['id']}/messages", json={"body": "您好，退款已提交。", "public": True}).status_code
        < 300
    )
    note = api.post(f"/tickets/{main['id']}/messages", json={"body": f"@{agent.display_name} 请跟进", "public": False})
    assert note.status_code < 300, note.text

    page = _page(browser, live_server, world, "zh-CN")
    page.goto(f"{live_server}/tickets/{main['id']}")
    links = page.locator("#links")
    expect(links).to_contain_text("暂无关联工单。")
    for number, kind in ((parent["number"], "parent"), (child["number"], "child"), (related["number"], "related")):
        links.get_by_label("工单编号").fill(f"#{number}")
        links.get_by_label("关联为").select_option(kind)
        links.get_by_role("button", name="关联").click()
        expect(page.locator("#links")).not_to_contain_text("暂无关联工单。")
    links = page.locator("#links")
    expect(links.locator("[data-link='parent']")).to_contain_text(f"#{parent['number']} 批量退款问题")
    expect(links.locator("[data-link='children']")).to_contain_text(f"#{child['number']} 补发发票")
    expect(links.locator("[data-link='related']")).to_contain_text(f"#{related['number']} 同一订单的投诉")
    links.get_by_label("工单编号").fill("#99999")
    links.get_by_role("button", name="关联").click()
    expect(page.get_by_role("alert")).to_contain_text("无法关联")
    badges = page.locator("ul.messages li")
    expect(badges.nth(0).locator("[data-target='customer']")).to_have_text(f"回复 {world.customer.name}")
    expect(badges.nth(1).locator("[data-target='team']")).to_have_text("内部")
    expect(badges.nth(1).locator(".mention")).to_have_text(f"@{agent.display_name}")
    page.screenshot(path=str(out / "ticket-sidebar-zh.png"), full_page=True)

    # the other side sees the link too, and it leads back
    page.locator("#links [data-link='related'] a").click()
    expect(page.locator("#links [data-link='related']")).to_contain_text(f"#{main['number']} 退款未到账")
    page.context.close()

    page = _page(browser, live_server, world, "en", width=360)
    page.goto(f"{live_server}/tickets/{child['id']}")
    expect(page.locator("#links [data-link='parent']")).to_contain_text(f"#{main['number']}")
    expect(page.locator("#links")).to_contain_text("Parent")
    page.goto(f"{live_server}/tickets/{main['id']}")
    expect(page.locator("ul.messages li").nth(0).locator("[data-target='customer']")).to_have_text(
        f"Reply to {world.customer.name}"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(out / "ticket-sidebar-en-360.png"), full_page=True)
    page.context.close()
