"""A visitor who sends too fast, in a real browser: told when they can continue, nothing stuck, nothing lost.

Before (issue 14, item 9) the widget said "Connection trouble" and left the refused message on "sending…" for good.
The server here allows 2 messages per visitor per 3 s, so a burst of six is refused part-way, on the socket
(zh-CN) and over HTTP with the socket unavailable (en). Lives in tests/web (after the asyncio.run suites).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.web.app import create_app
from tests.conftest import serve_in_thread
from tests.factories import World

pytestmark = pytest.mark.browser

TOO_FAST = {
    "zh-CN": re.compile(r"^您发送消息太快了，\d 秒后可以继续。$"),
    "en": re.compile(r"^You're sending messages too fast — you can continue in \d s\.$"),
}
HELD = {
    "zh-CN": re.compile(r"^尚未发送 · \d 秒后自动重发$"),
    "en": re.compile(r"^not sent yet · sending again in \d s$"),
}
TROUBLE = {"zh-CN": "网络不稳定", "en": "Connection trouble"}


@pytest.fixture(scope="module")
def strict_server(settings: Settings, db: Database) -> Iterator[str]:
    update = {"widget_messages_per_minute": 2, "widget_messages_window_seconds": 3}
    with serve_in_thread(create_app(settings.model_copy(update=update), db=db, bus=db.bus)) as url:
        yield url


@pytest.mark.parametrize(("locale", "path"), [("zh-CN", "socket"), ("en", "http")])
def test_a_flooding_visitor_sees_when_to_continue_and_every_message_is_sent_after_the_wait(
    browser: Any, strict_server: str, world: World, artifacts_dir: Path, locale: str, path: str
) -> None:
    context = browser.new_context(locale=locale, viewport={"width": 360, "height": 740})
    page = context.new_page()
    frames: list[str] = []
    if path == "http":
        # A socket that opens and never answers (a proxy that swallows WebSockets): everything goes over HTTP.
        page.route_web_socket(re.compile(r"/realtime/ws$"), lambda ws: None)
    else:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))))
    page.goto(f"{strict_server}/chat/{world.slug}")
    page.wait_for_selector("body[data-connected='1']" if path == "socket" else "body[data-session='1']")

    texts = [f"{locale} {path} #{n}" for n in range(1, 7)]
    box = page.locator("#message-input")
    for text in texts:
        box.fill(text)
        box.press("Enter")

    hold = page.locator("#hold")
    expect(hold).to_be_visible(timeout=10_000)
    expect(hold).to_have_text(TOO_FAST[locale])
    expect(page.locator(".msg.customer.held .meta").first).to_have_text(HELD[locale])
    expect(page.locator("#status")).not_to_contain_text(TROUBLE[locale])
    page.screenshot(path=str(artifacts_dir / f"widget-rate-limited-{locale}.png"), full_page=True)

    # After the wait (possibly twice: six messages, two per window) every message is stored, none left behind.
    expect(page.locator(".msg.customer:not(.pending)")).to_have_count(len(texts), timeout=30_000)
    expect(page.locator(".msg.customer.pending")).to_have_count(0)
    expect(hold).to_be_hidden()
    page.screenshot(path=str(artifacts_dir / f"widget-rate-limit-over-{locale}.png"), full_page=True)

    admin = world.headers()
    listed = httpx.get(f"{strict_server}/api/v1/conversations", params={"channel": "web"}, headers=admin).json()
    conversation_id = listed["items"][0]["id"]
    stored = httpx.get(f"{strict_server}/api/v1/conversations/{conversation_id}/messages", headers=admin).json()
    assert [m["body"] for m in stored["items"] if m["sender_type"] == "customer"] == texts
    if path == "socket":
        assert any('"send"' in f for f in frames)
    context.close()
