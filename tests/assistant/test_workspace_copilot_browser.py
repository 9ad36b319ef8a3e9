"""The agent console in a real browser, in Chinese and in English: the inbox row says who (a readable visitor label
for an anonymous visitor), what they wrote and how much is unread; the copilot panel suggests the knowledge entry
for the customer's question and one click puts it into the composer; a ticket created from the conversation shows
up, linked, in the sidebar."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.knowledge import transfer
from omnidesk.security.permissions import Role
from tests.assistant.conftest import FAQ_CSV
from tests.factories import World, browser_sign_in, start_visitor, visitor_conversation

pytestmark = pytest.mark.browser

CASES = {
    "zh-CN": {
        "question": "我想退货，怎么操作？",
        "visitor": r"^访客 [0-9A-F]{4}$",
        "answer": "申请售后",
        "insert": "插入",
        "create": "从会话创建工单",
        "button": "创建工单",
    },
    "en": {
        "question": "How do I return an item?",
        "visitor": r"^Visitor [0-9A-F]{4}$",
        "answer": "Open My Orders, choose Return",
        "insert": "Insert",
        "create": "Create a ticket from this conversation",
        "button": "Create ticket",
    },
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_agent_console_list_copilot_and_ticket(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path, lang: str
) -> None:
    case = CASES[lang]
    with db.tenant_transaction(world.tenant_id) as s:
        transfer.import_entries(s, system_actor(world.tenant_id), "csv", FAQ_CSV.encode())
    with httpx.Client(base_url=live_server) as http:
        visitor = start_visitor(http, world.slug)
        conversation_id = visitor_conversation(http, visitor, case["question"])["id"]

    # signed in through the Chinese log-in page (the default), then switched like a person would
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.AGENT)
    page.goto(f"{live_server}/lang/{lang}?next=/inbox")
    page.goto(f"{live_server}/inbox?view=all")
    page.wait_for_selector("#workspace[data-live='1']")

    # The list: who, what they wrote, unread; the tab title counts the unread messages.
    row = page.locator(f"#conv-list li[data-id='{conversation_id}']")
    expect(row.locator(".who")).to_have_text(re.compile(case["visitor"]))
    expect(row.locator("[data-test=preview]")).to_have_text(case["question"])
    expect(row.locator("[data-test=unread]")).to_have_text("1")
    expect(row.locator("[data-test=sla]")).to_be_visible()
    assert re.match(r"^\(\d+\) ", page.title())
    page.screenshot(path=str(artifacts_dir / f"workspace-list-{lang}.png"))

    # The copilot: the right knowledge entry, inserted into the composer with one click.
    row.locator("a").click()
    page.wait_for_selector("#copilot[data-ready='1']")
    first = page.locator("#copilot-knowledge li.suggestion").first
    expect(first).to_contain_text(case["answer"])
    first.get_by_role("button", name=case["insert"]).click()
    expect(page.locator("#reply-body")).to_have_value(re.compile(re.escape(case["answer"])))
    expect(page.locator("#copilot-summary")).to_contain_text(case["question"])
    page.screenshot(path=str(artifacts_dir / f"workspace-copilot-{lang}.png"), full_page=True)

    # A ticket from the conversation: titled with the customer's words, linked in the sidebar after creation.
    page.get_by_text(case["create"]).click()
    expect(page.locator("#ticket-create input[name=subject]")).to_have_value(case["question"])
    page.get_by_role("button", name=case["button"]).click()
    linked = page.locator("#linked-tickets a")
    expect(linked).to_have_count(1)
    expect(linked).to_contain_text(case["question"])
    tickets = httpx.get(
        f"{live_server}/api/v1/tickets",
        params={"customer_id": visitor_customer(live_server, world, conversation_id)},
        headers=world.headers(),
    ).json()["items"]
    assert [t["conversation_id"] for t in tickets] == [conversation_id]
    page.screenshot(path=str(artifacts_dir / f"workspace-ticket-{lang}.png"), full_page=True)
    linked.click()
    page.wait_for_url(re.compile(r"/tickets/[0-9a-f-]{36}$"))

    # Alerts are opt-in and remembered in this browser: a customer writing in another conversation alerts by name.
    page.goto(f"{live_server}/inbox?view=all&c={conversation_id}")
    page.wait_for_selector("#workspace[data-live='1']")
    expect(page.locator("#attention-toggle")).not_to_be_checked()
    page.locator("#attention-toggle").check()
    page.reload()
    page.wait_for_selector("#workspace[data-live='1']")
    expect(page.locator("#attention-toggle")).to_be_checked()
    other = f"/api/v1/conversations/{world.conversation.id}/messages"
    sent = httpx.post(f"{live_server}{other}", json={"body": case["question"], "sender_type": "customer"},
                      headers=world.headers())  # fmt: skip
    assert sent.status_code == 201
    expect(page.locator("#workspace")).to_have_attribute("data-last-alert", re.compile("李雷 Li Lei"))
    context.close()


def visitor_customer(live_server: str, world: World, conversation_id: str) -> str:
    conversation = httpx.get(f"{live_server}/api/v1/conversations/{conversation_id}", headers=world.headers()).json()
    customer_id: str = conversation["customer_id"]
    return customer_id
