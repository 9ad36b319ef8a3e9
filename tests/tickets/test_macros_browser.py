"""Macros and the requester in a real browser, in zh-CN and en: an admin creates a macro on /settings/macros, an
agent applies it on a ticket and sees the reply and the new status; the ticket page shows the requester."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnidesk.core.db import Database
from omnidesk.i18n import translate
from omnidesk.security.masking import mask_email
from omnidesk.security.permissions import Perm, Role, has
from omnidesk.tickets import actions
from omnidesk.tickets.schemas import TicketCreate
from tests.factories import World, browser_sign_in

TEXT = {
    "zh-CN": {"save": "保存", "apply": "应用宏", "requester": "请求人"},
    "en": {
        "save": "Save",
        "apply": "Apply macro",
        "pending": "Pending customer",
        "high": "High",
        "requester": "Requester",
    },
}


def _signed_in(browser: Any, base: str, world: World, role: Role, lang: str) -> Any:
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    browser_sign_in(page, base, world, role)
    if lang != "zh-CN":
        page.goto(f"{base}/lang/{lang}")
    return page


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_admin_creates_a_macro_and_an_agent_applies_it(
    browser: Any, live_server: str, world: World, db: Database, artifacts_dir: Path, lang: str
) -> None:
    words = TEXT[lang]
    name = f"退款确认 refund {lang}"
    admin = _signed_in(browser, live_server, world, Role.ADMIN, lang)
    try:
        admin.goto(f"{live_server}/settings/macros")
        admin.locator("input[name=name]").fill(name)
        admin.locator("textarea[name=reply]").fill("{{customer.name}}，工单 #{{ticket.number}} 的退款已办理。")
        admin.locator("select[name=status]").select_option("pending_customer")
        admin.locator("select[name=priority]").select_option("high")
        admin.locator("input[name=tags]").fill("refund, 退款")
        admin.get_by_role("button", name=words["save"]).click()
        admin.wait_for_selector(f"tr[data-macro='{name}']")
        assert admin.locator("nav a[href='/settings/macros']").count() >= 1
        admin.screenshot(path=str(artifacts_dir / f"macros-settings-{lang}.png"), full_page=True)
    finally:
        admin.context.close()

    with db.tenant_transaction(world.tenant_id) as s:
        ticket = actions.create_ticket(
            s,
            world.actor(Role.AGENT),
            TicketCreate(type="inquiry", subject=f"包裹破损 broken parcel {lang}", customer_id=world.customer.id),
        )
        ticket_id, number = ticket.id, ticket.number

    agent = _signed_in(browser, live_server, world, Role.AGENT, lang)
    try:
        agent.goto(f"{live_server}/tickets/{ticket_id}")
        requester = agent.locator("#requester")
        assert words["requester"] in requester.inner_text()
        link = requester.locator(f"a[href='/contacts/{world.customer.id}']")
        assert link.inner_text() == world.customer.name
        email = world.customer.email or ""
        shown = email if has(Role.AGENT, Perm.CUSTOMERS_PII) else mask_email(email) or ""
        assert shown and shown in requester.inner_text()
        agent.locator("#macros select[name=macro_id]").select_option(label=name)
        agent.get_by_role("button", name=words["apply"]).click()
        reply = f"{world.customer.name}，工单 #{number} 的退款已办理。"
        agent.wait_for_selector(f"text={reply}")
        assert agent.locator(".messages li", has_text=reply).count() == 1
        header = agent.locator("section.card").first.inner_text()
        status, priority = translate("tickets.status.pending_customer", lang), translate("tickets.priority.high", lang)
        assert agent.locator("section.card .badge.pending_customer").inner_text() == status
        assert priority in header
        agent.screenshot(path=str(artifacts_dir / f"macros-applied-{lang}.png"), full_page=True)
    finally:
        agent.context.close()
