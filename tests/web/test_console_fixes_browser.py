"""Issue "The staff console": what an agent sees in the inbox when an action fails or a chat is transferred.

In tests/web so that it runs after the suites using asyncio.run (Playwright's sync API keeps a loop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import StaffCreate, TeamCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World

pytestmark = pytest.mark.browser

ERRORS = {
    "zh-CN": ("输入的内容无法执行此操作", "转移"),
    "en": ("This cannot be done as entered", "Transfer"),
}


def sign_in_as(page: Any, base: str, world: World, role: Role) -> None:
    """The log-in form by its fields' names: its labels follow the browser's language."""
    page.goto(f"{base}/login")
    page.locator("input[name=workspace]").fill(world.slug)
    page.locator("input[name=email]").fill(world.emails[role])
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def _agent_page(browser: Any, base: str, world: World, lang: str) -> Any:
    context = browser.new_context(locale=lang, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in_as(page, base, world, Role.AGENT)
    page.goto(f"{base}/lang/{lang}?next=/inbox")
    return page


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_failed_action_says_why_and_a_transfer_to_another_team_goes_through(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path, lang: str
) -> None:
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        colleague, _ = accounts.do_create_staff(
            s, system, StaffCreate(email=f"b@{world.slug}.example", display_name="王芳", role=Role.AGENT,
                                   password=PASSWORD),
        )  # fmt: skip
        team = accounts.create_team(s, system, TeamCreate(name="账务 Billing"))
        accounts.add_team_member(s, system, team.id, colleague.id)
    conv = str(world.conversation.id)
    me = str(world.staff[Role.AGENT].id)
    response = httpx.post(
        f"{live_server}/api/v1/conversations/{conv}/assign", json={"assignee_id": me}, headers=world.headers()
    )
    assert response.status_code == 200
    page = _agent_page(browser, live_server, world, lang)
    page.goto(f"{live_server}/inbox?view=mine&c={conv}")
    page.wait_for_selector("#workspace[data-live='1']")
    # The auditor cannot open chats, so the list offers only people who can.
    options = page.locator("#assign select[name=assignee_id] option").all_inner_texts()
    assert "王芳" in options and not any(Role.AUDITOR.value in o for o in options)

    # A snooze into the past fails on the server: the agent is told why, in the page's language.
    page.locator("#snooze input[name=until]").fill("2020-01-01T09:00")
    page.locator("#snooze button[type=submit]").click()
    alert = page.locator("#action-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(ERRORS[lang][0])
    page.screenshot(path=str(artifacts_dir / f"console-action-error-{lang}.png"))

    # Transfer with a note to a colleague of another team: it goes through and leaves the agent's inbox.
    page.locator("#assign select[name=assignee_id]").select_option(label="王芳")
    page.locator("#assign input[name=note]").fill("客户要开发票")
    page.locator("#assign button[type=submit]").click()
    page.wait_for_url(f"{live_server}/inbox?view=mine")
    expect(page.locator(f"#conv-list li[data-id='{conv}']")).to_have_count(0)
    moved = httpx.get(f"{live_server}/api/v1/conversations/{conv}", headers=world.headers()).json()
    assert moved["assignee_id"] == str(colleague.id)
    page.context.close()


QUEUE = {
    "zh-CN": ("您是下一位", "目前没有客服在线"),
    "en": ("You are next in line.", "No agent is online right now"),
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_widget_queue_line_is_honest_when_no_agent_is_online(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, lang: str
) -> None:
    context = browser.new_context(locale=lang, viewport={"width": 360, "height": 740})
    customer = context.new_page()
    customer.goto(f"{live_server}/chat/{world.slug}")
    customer.wait_for_selector("body[data-connected='1']")
    customer.locator("#composer textarea, #composer input[type=text]").first.fill(
        "Where is my order?" if lang == "en" else "我的订单到哪了？"
    )
    customer.keyboard.press("Enter")
    line = customer.locator("#queue")
    expect(line).to_be_visible()
    for part in QUEUE[lang]:
        expect(line).to_contain_text(part)
    expect(line).not_to_contain_text("minutes" if lang == "en" else "分钟")
    customer.screenshot(path=str(artifacts_dir / f"widget-queue-{lang}.png"))
    context.close()


def test_api_docs_page_renders_operations_from_local_files(browser: Any, live_server: str) -> None:
    context = browser.new_context(locale="en")
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20000)
    expect(page.locator('.opblock-summary-path[data-path="/api/v1/tenants"]').first).to_be_visible()
    # The list is virtualised: the last operations render once the reader gets there. Swagger UI groups operations
    # by tag in the order tags first appear, so the page ends with the last path of the last tag.
    spec = httpx.get(f"{live_server}/api/v1/openapi.json").json()
    by_tag: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            by_tag.setdefault((operation.get("tags") or ["default"])[0], []).append(path)
    last_path = list(by_tag.values())[-1][-1]
    page.keyboard.press("End")
    expect(page.locator(f'.opblock-summary-path[data-path="{last_path}"]').first).to_be_visible(timeout=15000)
    expect(page.locator(".errors-wrapper")).to_have_count(0)  # no "unable to render this definition"
    assert not [u for u in outside if u.startswith("http")], outside  # nothing from a CDN
    context.close()


def test_widget_keeps_the_lists_of_an_answer(browser: Any, live_server: str, world: World) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    customer = context.new_page()
    customer.goto(f"{live_server}/chat/{world.slug}")
    customer.wait_for_selector("body[data-connected='1']")
    customer.locator("#message-input").fill("怎么退货？")
    customer.keyboard.press("Enter")
    customer.wait_for_selector(".msg.customer[data-seq='1']")
    newest = httpx.get(f"{live_server}/api/v1/conversations", params={"channel": "web"}, headers=world.headers())
    conv = newest.json()["items"][0]["id"]
    body = "退货步骤：\n1. 登录“我的订单”\n2. 点击“申请售后”\n- 注意 **7 天**内有效\n<img src=x onerror=alert(1)>"
    sent = httpx.post(
        f"{live_server}/api/v1/conversations/{conv}/messages", json={"body": body}, headers=world.headers()
    )
    assert sent.status_code == 201, sent.text
    answer = customer.locator(".msg.agent").last
    expect(answer.locator("ol > li")).to_have_count(2)
    expect(answer.locator("ol > li").nth(1)).to_have_text("点击“申请售后”")
    expect(answer.locator("ul > li strong")).to_have_text("7 天")
    expect(answer.locator("img")).to_have_count(0)  # text stays text
    expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
    context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_slash_shortcut_inserts_a_canned_response(browser: Any, live_server: str, world: World, lang: str) -> None:
    canned = {"shortcut": "shipped", "title": "已发货", "body": "您好{customer_name}，您的包裹已发出。"}
    assert httpx.post(f"{live_server}/api/v1/canned-responses", json=canned, headers=world.headers()).status_code == 201
    page = _agent_page(browser, live_server, world, lang)
    page.goto(f"{live_server}/inbox?view=unassigned&c={world.conversation.id}")
    page.wait_for_selector("#workspace[data-live='1']")
    box = page.locator("#reply-body")
    expect(box).to_have_attribute("placeholder", "回复客户（输入 / 插入快捷回复）" if lang == "zh-CN" else
                                  "Your reply to the customer (type / for canned responses)")  # fmt: skip
    box.press_sequentially("好的 /shi")
    menu = page.locator("#slash-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("option")).to_have_text(["/shipped — 已发货"])
    box.press("Enter")
    expect(menu).to_be_hidden()
    expect(box).to_have_value("好的 您好李雷 Li Lei，您的包裹已发出。")
    page.context.close()


LABELS = {
    "zh-CN": {"high": "高", "bot": "智能助手", "web": "网页"},
    "en": {"high": "High", "bot": "Assistant", "web": "Web"},
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_inbox_shows_words_not_codes_and_times_in_the_tenants_zone(
    browser: Any, live_server: str, db: Database, world: World, lang: str
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from omnidesk.accounts.models import Tenant
    from omnidesk.conversations import actions as conversation_actions
    from omnidesk.conversations.schemas import SenderType

    conv = world.conversation.id
    with db.platform_transaction() as s:
        tenant = s.get(Tenant, world.tenant_id)
        assert tenant is not None
        tenant.time_zone = "America/New_York"  # far from UTC, so a UTC time cannot pass for a local one
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get(type(world.conversation), conv)
        assert conversation is not None
        message = conversation_actions.do_post_message(
            s, system_actor(world.tenant_id), conversation, body="您好，我是智能助手", sender_type=SenderType.BOT,
            sender_id=None,
        )  # fmt: skip
        created: datetime = message.created_at
    patched = httpx.patch(
        f"{live_server}/api/v1/conversations/{conv}", json={"priority": "high"}, headers=world.headers()
    )
    assert patched.status_code == 200, patched.text
    page = _agent_page(browser, live_server, world, lang)
    page.goto(f"{live_server}/inbox?view=unassigned&c={conv}")
    words = LABELS[lang]
    row = page.locator(f"#conv-list li[data-id='{conv}']")
    expect(row.locator(".badge.prio-high")).to_have_text(words["high"])
    expect(row).to_contain_text(words["web"])
    bot = page.locator("#thread li.msg.bot").last
    expect(bot.locator(".who")).to_have_text(words["bot"])
    local = created.replace(tzinfo=created.tzinfo or ZoneInfo("UTC")).astimezone(ZoneInfo("America/New_York"))
    expect(bot.locator(".muted.small")).to_have_text(local.strftime("%H:%M"))
    options = page.locator("#filters select[name=priority] option").all_inner_texts()
    assert words["high"] in options and ("high" not in options or lang == "en")
    page.context.close()
