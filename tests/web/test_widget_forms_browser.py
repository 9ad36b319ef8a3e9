"""The widget's forms and the agent's name, in a real browser, in zh-CN and en.

A visitor fills the pre-chat form (refused first, with the field's own message), chats, an agent answers and the
visitor sees the agent's name and avatar; with no one online and the offline form chosen, the visitor leaves a
message that becomes a ticket and is told its number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from omnidesk.tickets.models import Ticket
from omnidesk.web.ui import LANG_COOKIE
from tests.factories import World, browser_sign_in, session_csrf, sign_in

pytestmark = pytest.mark.browser

WORDS = {
    "zh-CN": {
        "title": "开始之前",
        "name": "称呼",
        "email": "邮箱",
        "required": "称呼：请填写此项。",
        "bad_email": "邮箱：这不是有效的电子邮箱地址",
        "start": "开始对话",
        "joined": "agent 员工 正在为您服务",
        "offline": "目前没有客服在线",
        "message": "留言内容",
        "send": "发送留言",
        "done": re.compile(r"^谢谢！您的请求已登记为工单 #\d+。"),
    },
    "en": {
        "title": "Before we start",
        "name": "Name",
        "email": "E-mail",
        "required": "Name: please fill this in.",
        "bad_email": "E-mail: this is not an e-mail address",
        "start": "Start chat",
        "joined": "agent 员工 is helping you",
        "offline": "No one is available right now",
        "message": "Message",
        "send": "Send message",
        "done": re.compile(r"^Thank you! Your request is ticket #\d+\."),
    },
}
PRECHAT = {
    "enabled": True,
    "fields": [
        {"key": "name", "required": True},
        {"key": "email", "required": False},
        {"key": "order_number", "label": "Order № / 订单号", "required": True},
    ],
}


def _starts(label: str) -> re.Pattern[str]:
    """A field by its label ("E-mail", "E-mail (optional)"), not by the words of another field's error."""
    return re.compile("^" + re.escape(label) + r"(\s|$)")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_prechat_then_chat_and_the_visitor_sees_the_agents_name(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    words = WORDS[locale]
    patched = httpx.patch(f"{live_server}/api/v1/widget/config", json={"prechat": PRECHAT}, headers=world.headers())
    assert patched.status_code == 200, patched.text
    context = browser.new_context(locale=locale, viewport={"width": 400, "height": 760})
    page = context.new_page()
    page.goto(f"{live_server}/chat/{world.slug}?lang={locale}")
    form = page.locator("#prechat")
    expect(form).to_be_visible(timeout=10_000)
    expect(form.get_by_role("heading")).to_have_text(words["title"])
    expect(page.locator("#composer")).to_be_hidden()

    form.get_by_label(_starts(words["email"])).fill("not-an-address")
    form.get_by_role("button", name=words["start"]).click()
    expect(form.locator('.field[data-key="name"] .field-error')).to_have_text(words["required"])
    expect(form.locator('.field[data-key="email"] .field-error')).to_contain_text(words["bad_email"])
    page.screenshot(path=str(artifacts_dir / f"widget-prechat-errors-{locale}.png"), full_page=True)

    form.get_by_label(_starts(words["name"])).fill("韩梅梅 Han")
    form.get_by_label(_starts(words["email"])).fill("han@example.com")
    form.get_by_label("Order № / 订单号").fill("SO-42")
    form.get_by_role("button", name=words["start"]).click()
    expect(form).to_be_hidden()
    box = page.locator("#message-input")
    expect(box).to_be_visible()
    box.fill(f"hello from {locale}")
    box.press("Enter")
    expect(page.locator(".msg.customer:not(.pending)")).to_have_count(1, timeout=10_000)
    page.wait_for_selector("body[data-connected='1']")
    conversation_id = page.evaluate(f"localStorage.getItem('omnidesk:{world.slug}:conversation')")

    with httpx.Client(base_url=live_server) as agent:
        sign_in(agent, world, Role.AGENT)  # type: ignore[arg-type]
        sent = agent.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"body": "您好 / Hello, I'm checking your order."},
            headers={"X-CSRF-Token": session_csrf(agent)},  # type: ignore[arg-type]
        )
        assert sent.status_code == 201, sent.text
        sidebar = agent.get(f"/inbox?c={conversation_id}").text
        assert "SO-42" in sidebar and "韩梅梅 Han" in sidebar

    reply = page.locator(".msg.agent")
    expect(reply).to_have_count(1, timeout=10_000)
    expect(reply.locator(".sender-name")).to_have_text("agent 员工")
    expect(reply.locator(".avatar")).to_have_text("A员")
    expect(page.locator("#agent")).to_have_text("A员" + words["joined"])
    page.screenshot(path=str(artifacts_dir / f"widget-agent-name-{locale}.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_with_no_one_online_the_offline_form_creates_a_ticket(
    browser: Any, live_server: str, world: World, db: Database, artifacts_dir: Path, locale: str
) -> None:
    words = WORDS[locale]
    patched = httpx.patch(
        f"{live_server}/api/v1/widget/config", json={"offline_form": "no_agents"}, headers=world.headers()
    )
    assert patched.status_code == 200, patched.text
    context = browser.new_context(locale=locale, viewport={"width": 400, "height": 760})
    page = context.new_page()
    page.goto(f"{live_server}/chat/{world.slug}?lang={locale}")
    form = page.locator("#offline")
    expect(form).to_be_visible(timeout=10_000)
    expect(form.get_by_role("heading")).to_have_text(words["offline"])
    expect(page.locator("#composer")).to_be_hidden()

    form.get_by_label(_starts(words["email"])).fill("jo@")
    form.get_by_role("button", name=words["send"]).click()
    expect(form.locator('.field[data-key="email"] .field-error')).to_contain_text(words["bad_email"])

    form.get_by_label(_starts(words["name"])).fill("Jo March")
    form.get_by_label(_starts(words["email"])).fill(f"jo.{locale.lower()}@example.com")
    form.get_by_label(_starts(words["message"])).fill(f"My parcel never arrived ({locale}).")
    form.get_by_role("button", name=words["send"]).click()
    done = page.locator("#offline-done")
    expect(done).to_have_text(words["done"], timeout=10_000)
    expect(form).to_be_hidden()
    page.screenshot(path=str(artifacts_dir / f"widget-offline-form-{locale}.png"), full_page=True)

    number = int(re.search(r"#(\d+)", done.inner_text()).group(1))  # type: ignore[union-attr]
    with db.tenant_read(world.tenant_id) as s:
        made = list(s.scalars(select(Ticket).where(Ticket.subject == f"My parcel never arrived ({locale}).")))
    assert [t.number for t in made] == [number]
    context.close()


SETTINGS = {
    "zh-CN": {"ask": "访客发送第一条消息前先填写表单", "offline": "离线留言表单", "save": "保存"},
    "en": {
        "ask": "Ask visitors to fill in a form before their first message",
        "offline": "Offline form",
        "save": "Save",
    },
}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_an_admin_sets_up_the_forms_on_the_settings_page(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    words = SETTINGS[locale]
    # Signed in on the Chinese log-in page (the default), then the workspace language chosen by its cookie.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.ADMIN)
    context.add_cookies([{"name": LANG_COOKIE, "value": locale, "url": live_server}])
    page.goto(f"{live_server}/settings/widget")
    forms = page.locator("#forms-form")
    forms.get_by_label(words["ask"]).check()
    name_row = forms.locator('tr[data-standard="name"]')
    name_row.locator('[name="enabled"]').check()
    name_row.locator('[name="required"]').check()
    new_row = forms.locator("tr[data-new]")
    new_row.locator('[name="key"]').fill("order_number")
    new_row.locator('[name="label"]').fill("订单号 Order number")
    new_row.locator('[name="required"]').check()
    forms.get_by_label(words["offline"]).select_option("no_agents")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/widget/config") and r.request.method == "PATCH"
    ) as saved:
        forms.get_by_role("button", name=words["save"]).click()
    assert saved.value.ok, saved.value.text()
    expect(forms.locator('tr[data-custom] [name="key"]').first).to_have_value("order_number", timeout=10_000)
    page.screenshot(path=str(artifacts_dir / f"widget-forms-settings-{locale}.png"), full_page=True)
    stored = httpx.get(f"{live_server}/api/v1/widget/config", headers=world.headers()).json()
    assert stored["offline_form"] == "no_agents"
    assert stored["prechat"] == {
        "enabled": True,
        "fields": [
            {"key": "name", "label": "", "required": True, "enabled": True},
            {"key": "order_number", "label": "订单号 Order number", "required": True, "enabled": True},
        ],
    }
    context.close()


LIMITS = {
    "zh-CN": {"busy": "服务目前繁忙，您的消息已保留，稍后会自动重新发送。", "long": "消息太长（最多 10,000 个字符）"},
    "en": {
        "busy": "The service is busy right now; your messages are kept and sent again shortly.",
        "long": "This message is too long (at most 10,000 characters)",
    },
}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_busy_server_and_a_too_long_message_are_said_in_words(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, locale: str
) -> None:
    words = LIMITS[locale]
    context = browser.new_context(locale=locale, viewport={"width": 400, "height": 760})
    page = context.new_page()
    page.route_web_socket(re.compile(r"/realtime/ws$"), lambda ws: None)  # everything over HTTP
    refused: list[str] = []

    def once_busy(route: Any) -> None:
        if route.request.method == "POST" and not refused:
            refused.append(route.request.url)
            route.fulfill(status=503, headers={"Retry-After": "1"}, json={"detail": "busy"})
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/widget/[^/]+/conversations$"), once_busy)
    page.goto(f"{live_server}/chat/{world.slug}?lang={locale}")
    page.wait_for_selector("body[data-session='1']")
    box = page.locator("#message-input")
    box.fill("x" * 10_001)  # a paste over the limit: the box keeps 10,000 and says why
    expect(page.locator("#status")).to_contain_text(words["long"])
    assert len(box.input_value()) == 10_000
    box.fill(f"busy test {locale}")
    expect(page.locator("#status")).to_have_text("")
    box.press("Enter")
    expect(page.locator("#status")).to_have_text(words["busy"], timeout=5_000)
    page.screenshot(path=str(artifacts_dir / f"widget-busy-{locale}.png"), full_page=True)
    # Kept and sent again by itself once the server answers.
    expect(page.locator(".msg.customer:not(.pending)")).to_have_count(1, timeout=10_000)
    expect(page.locator("#status")).to_have_text("")
    assert len(refused) == 1
    context.close()
