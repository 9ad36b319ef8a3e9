"""End to end in a real browser: a customer in the widget and an agent in the workspace, and a server restart.

Lives in tests/web so that it runs after the suites using asyncio.run (Playwright's sync API keeps a loop)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import ApiKeyCreate
from omnidesk.core import migrate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World, make_tenant
from tests.servers import ServerProcess

pytestmark = pytest.mark.browser


def _sign_in(page: Any, live_server: str, world: World, role: Role) -> None:
    page.goto(f"{live_server}/login")
    page.locator("input[name=workspace]").fill(world.slug)
    page.locator("input[name=email]").fill(world.emails[role])
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/")


def test_customer_and_agent_meet(browser: Any, live_server: str, world: World, artifacts_dir: Path) -> None:
    admin = world.headers()
    canned = {"shortcut": "shipped", "title": "已发货", "body": "您好{customer_name}，您的包裹已发出，预计明天送达。"}
    assert httpx.post(f"{live_server}/api/v1/canned-responses", json=canned, headers=admin).status_code == 201

    agent_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    agent = agent_ctx.new_page()
    _sign_in(agent, live_server, world, Role.AGENT)
    agent.goto(f"{live_server}/inbox?view=unassigned")
    agent.wait_for_selector("#workspace[data-live='1']")

    customer_ctx = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    customer = customer_ctx.new_page()
    sent_frames: list[str] = []
    customer.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent_frames.append(str(payload))))
    customer.goto(f"{live_server}/chat/{world.slug}")
    customer.wait_for_selector("body[data-connected='1']")
    assert customer.get_by_role("button", name="发送", exact=True).is_visible()
    box = customer.get_by_label("输入消息")
    box.fill("你好，我的订单什么时候能到？")
    box.press("Enter")
    customer.wait_for_selector(".msg.customer[data-seq='1']")

    newest = httpx.get(f"{live_server}/api/v1/conversations", params={"channel": "web"}, headers=admin).json()
    conversation_id = newest["items"][0]["id"]
    # The agent's inbox updates live: the new conversation appears without a reload.
    agent.wait_for_selector(f"#conv-list li[data-id='{conversation_id}']")
    agent.locator(f"#conv-list li[data-id='{conversation_id}'] a").click()
    agent.wait_for_selector("#thread >> text=你好，我的订单什么时候能到？")
    agent.wait_for_selector("#workspace[data-live='1']")
    agent.locator("#canned").select_option(label="/shipped — 已发货")
    expect(agent.locator("#reply-body")).to_have_value(re.compile("您好.*包裹已发出"))
    agent.locator("#send-reply").click()

    customer.wait_for_selector(".msg.agent >> text=包裹已发出")
    customer.screenshot(path=str(artifacts_dir / "widget-customer-chat.png"), full_page=True)
    agent.screenshot(path=str(artifacts_dir / "workspace-agent-reply.png"), full_page=True)

    # A message in an open conversation goes over the widget's socket and is acknowledged there.
    box.fill("好的，谢谢")
    box.press("Enter")
    customer.wait_for_selector(".msg.customer[data-seq='3']")
    agent.wait_for_selector("#thread >> text=好的，谢谢")
    socket_sends = [json.loads(f) for f in sent_frames if '"send"' in f]
    assert [f["body"] for f in socket_sends] == ["好的，谢谢"]

    agent.locator("#resolve").click()
    customer.wait_for_selector("#rating:not([hidden])")
    customer.locator("#rating input[value='5']").check()
    customer.locator("#rating-comment").fill("回复很快，谢谢！")
    customer.locator("#rating button[type=submit]").click()
    customer.wait_for_selector("#rated:not([hidden])")
    customer.screenshot(path=str(artifacts_dir / "widget-customer-rated.png"), full_page=True)
    rating = httpx.get(f"{live_server}/api/v1/conversations/{conversation_id}/rating", headers=admin).json()
    assert rating == {"score": 5, "comment": "回复很快，谢谢！"}
    # At 360 px nothing overflows sideways.
    assert customer.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    customer_ctx.close()
    agent_ctx.close()


def test_widget_switches_language_and_supervisor_sees_the_queue(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    customer_ctx = browser.new_context(locale="en-US", viewport={"width": 360, "height": 740})
    customer = customer_ctx.new_page()
    customer.goto(f"{live_server}/chat/{world.slug}")
    customer.wait_for_selector("body[data-connected='1']")
    assert customer.get_by_role("button", name="Send", exact=True).is_visible()
    customer.locator("#lang-switch").click()
    assert customer.get_by_role("button", name="发送", exact=True).is_visible()
    customer.get_by_label("输入消息").fill("Need a human please")
    customer.keyboard.press("Enter")
    customer.wait_for_selector("#queue:not([hidden])")
    boss_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    boss = boss_ctx.new_page()
    _sign_in(boss, live_server, world, Role.SUPERVISOR)
    boss.goto(f"{live_server}/supervisor")
    boss.wait_for_selector("#panel td.wait")
    boss.screenshot(path=str(artifacts_dir / "supervisor-board.png"), full_page=True)
    customer_ctx.close()
    boss_ctx.close()


def test_widget_resumes_after_the_server_restarts(browser: Any, tmp_path: Path, artifacts_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    migrate.upgrade(url)
    db = Database(url)
    tenant_id, slug, _ = make_tenant(db)
    with db.tenant_transaction(tenant_id) as s:
        _, key = accounts.do_create_api_key(s, system_actor(tenant_id), ApiKeyCreate(name="k", role=Role.ADMIN))
    db.dispose()
    server = ServerProcess(
        {
            "OMNIDESK_DATABASE_URL": url,
            "OMNIDESK_SECRET_KEY": "restart-test-" + "s" * 40,
            "OMNIDESK_ENVIRONMENT": "test",
        },
        tmp_path,
    ).start()
    headers = {"Authorization": f"Bearer {key}"}
    try:
        context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
        page = context.new_page()
        page.goto(f"{server.url}/chat/{slug}")
        page.wait_for_selector("body[data-connected='1']")
        page.get_by_label("输入消息").fill("重启前的消息")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.customer[data-seq='1']")
        server.kill()
        expect(page.locator("#status")).to_have_text(re.compile(".+"), timeout=15_000)
        page.get_by_label("输入消息").fill("断线时写的消息")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.customer.pending")
        server.start()
        page.wait_for_selector(".msg.customer[data-seq='2']", timeout=60_000)
        conversation_id = httpx.get(f"{server.url}/api/v1/conversations", headers=headers).json()["items"][0]["id"]
        httpx.post(
            f"{server.url}/api/v1/conversations/{conversation_id}/messages",
            json={"body": "收到，马上处理"},
            headers=headers,
        )
        page.wait_for_selector(".msg.agent >> text=收到，马上处理", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "widget-after-restart.png"), full_page=True)
        stored = httpx.get(f"{server.url}/api/v1/conversations/{conversation_id}/messages", headers=headers).json()
        assert [m["body"] for m in stored["items"]] == ["重启前的消息", "断线时写的消息", "收到，马上处理"]
        assert page.locator(".msg.customer").count() == 2 and page.locator(".msg.agent").count() == 1
        context.close()
    finally:
        server.stop()
    assert uuid.UUID(conversation_id)


def test_assistant_message_types_render_safely(
    browser: Any, live_server: str, world: World, db: Database, artifacts_dir: Path
) -> None:
    """The seam the assistant will use: quick replies, a card and a link, sent through the same action."""
    from omnidesk.conversations import actions as conversation_actions
    from omnidesk.conversations.models import Conversation
    from omnidesk.conversations.schemas import SenderType

    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server}/chat/{world.slug}")
    page.wait_for_selector("body[data-connected='1']")
    page.get_by_label("输入消息").fill("查物流")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.customer[data-seq='1']")
    newest = httpx.get(f"{live_server}/api/v1/conversations", params={"channel": "web"}, headers=world.headers())
    conversation_id = uuid.UUID(newest.json()["items"][0]["id"])
    bot = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get(Conversation, conversation_id)
        assert conversation is not None
        for kind, body, payload in [
            (
                "quick_replies",
                "请选择：",
                {"buttons": [{"label": "查询物流", "value": "我要查物流"}, {"label": "退货", "value": "退货"}]},
            ),
            ("card", "订单卡片", {"title": "订单 SK1001", "text": "<b>已发货</b>", "url": "javascript:alert(1)"}),
            ("link", "帮助中心", {"url": "https://help.example/returns", "title": "退货政策"}),
        ]:
            conversation_actions.do_post_message(
                s, bot, conversation, body=body, sender_type=SenderType.BOT, sender_id=None, kind=kind, payload=payload
            )
    page.wait_for_selector(".quick-replies button >> text=查询物流")
    page.wait_for_selector(".card >> text=订单 SK1001")
    assert page.locator(".card b").count() == 0  # markup in a payload is shown as text, never parsed
    assert page.locator("a[href^='javascript']").count() == 0  # only http(s) links are rendered
    assert page.locator("a[href='https://help.example/returns']").get_attribute("rel") == "noopener noreferrer"
    page.locator(".quick-replies button >> text=查询物流").click()
    page.wait_for_selector(".msg.customer >> text=我要查物流")
    page.screenshot(path=str(artifacts_dir / "widget-quick-replies.png"), full_page=True)
    context.close()


def test_admin_manages_canned_responses_and_the_offer_timeout(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _sign_in(page, live_server, world, Role.ADMIN)
    page.goto(f"{live_server}/settings/widget")
    page.get_by_role("heading", name="在线客服设置").wait_for()
    page.get_by_label("快捷码").fill("thanks")
    page.get_by_label("标题").fill("致谢")
    page.get_by_label("内容").fill("感谢您的耐心，{customer_name}！")
    page.get_by_role("button", name="保存").nth(1).click()
    page.wait_for_selector("#canned-list tr[data-shortcut='thanks']")
    # Edit it in place: the form is filled from the row and saved with PATCH.
    page.locator("#canned-list tr[data-shortcut='thanks'] .canned-edit").click()
    expect(page.get_by_label("内容")).to_have_value("感谢您的耐心，{customer_name}！")
    page.get_by_label("内容").fill("感谢您的耐心等待，{customer_name}。")
    page.get_by_role("button", name="保存").nth(1).click()
    page.wait_for_selector("#canned-list td >> text=感谢您的耐心等待")
    # A bad shortcut is refused by the API with its reason; nothing is stored.
    page.get_by_label("快捷码").fill("含 空格")
    page.get_by_label("标题").fill("坏的")
    page.get_by_label("内容").fill("x")
    page.locator("#canned-form").evaluate("f => f.noValidate = true")
    page.get_by_role("button", name="保存").nth(1).click()
    expect(page.locator("#canned-status")).to_contain_text("✗")
    page.get_by_label("坐席接受分配会话的时限（秒），超时后会话回到排队队列").fill("45")
    page.get_by_role("button", name="保存").nth(2).click()
    expect(page.locator("#routing-status")).to_have_text("✓")
    page.screenshot(path=str(artifacts_dir / "live-chat-settings.png"), full_page=True)
    ctx.close()

    admin = world.headers()
    stored = httpx.get(f"{live_server}/api/v1/canned-responses", headers=admin).json()
    assert [(c["shortcut"], c["body"]) for c in stored] == [("thanks", "感谢您的耐心等待，{customer_name}。")]
    policy = httpx.get(f"{live_server}/api/v1/routing/policy", headers=admin).json()
    assert policy["accept_timeout_seconds"] == 45


def _serve(html: str) -> Any:
    """A Playwright route handler answering with ``html`` (a page of another origin, served by the browser)."""
    return lambda route: route.fulfill(content_type="text/html", body=html)


def _host_page(live_server: str, slug: str, settings_js: str) -> str:
    return (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>"
        f"<script>window.OmniDeskSettings = {settings_js};</script>"
        f'<script src="{live_server}/static/widget/loader.js" data-omnidesk-tenant="{slug}" async></script>'
        "</body></html>"
    )


def test_an_expired_host_identity_is_refreshed_or_the_chat_goes_on_anonymously(
    browser: Any, live_server: str, world: World, artifacts_dir: Path
) -> None:
    """The host page (another origin) was rendered 20 minutes ago: its identity token is refused, the widget says
    why in the console, the loader asks the page for a fresh one, and the customer sees their history; a page
    without ``refreshIdentity`` still gets a working, anonymous chat."""
    import time

    from omnidesk.channels.widget.identity import identity_hash

    shop = "http://localhost:9"  # another origin than the server (127.0.0.1); served by the browser itself
    admin = world.headers()
    assert httpx.patch(
        f"{live_server}/api/v1/widget/config", json={"allowed_origins": [shop]}, headers=admin
    ).is_success
    secret = httpx.get(f"{live_server}/api/v1/widget/config/identity-secret", headers=admin).json()["identity_secret"]

    def signed(at: int) -> dict[str, object]:
        return {
            "identifier": "shop-user-9",
            "identifier_issued_at": at,
            "identifier_hash": identity_hash(secret, "shop-user-9", at),
        }

    now = int(time.time())
    earlier = httpx.post(f"{live_server}/api/v1/widget/{world.slug}/session", json=signed(now)).json()
    opened = httpx.post(
        f"{live_server}/api/v1/widget/{world.slug}/conversations",
        json={"message": "my parcel 7781 is late", "client_id": "c-earlier-visit"},
        headers={"Authorization": f"Bearer {earlier['token']}"},
    )
    assert opened.status_code == 201
    stale, fresh = json.dumps(signed(now - 1200)), json.dumps(signed(now))

    for settings_js, identified in [
        (f"Object.assign({stale}, {{refreshIdentity: () => Promise.resolve({fresh})}})", True),
        (stale, False),
    ]:
        context = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 768})
        context.grant_permissions(["local-network-access"])  # a page on "localhost" loading from 127.0.0.1
        context.route(f"{shop}/**", _serve(_host_page(live_server, world.slug, settings_js)))
        page = context.new_page()
        warnings: list[str] = []
        page.on("console", lambda msg, out=warnings: out.append(msg.text))
        page.goto(f"{shop}/account")
        page.get_by_role("button", name="Open chat").click()
        chat = page.frame_locator("iframe[title='Chat']")
        expect(chat.locator("body[data-connected='1']")).to_be_attached(timeout=15_000)
        if identified:
            expect(chat.get_by_text("my parcel 7781 is late")).to_be_visible(timeout=15_000)
        else:
            expect(chat.get_by_label("Your message")).to_be_enabled(timeout=15_000)
            expect(chat.get_by_text("my parcel 7781 is late")).to_have_count(0)

        def told_why(warnings: list[str] = warnings) -> bool:
            return any("identity refused" in w and re.search(r"issued 1[23]\d\d seconds ago", w) for w in warnings)

        # The console message can reach the test after the chat shows as connected: wait for it, bounded.
        deadline = time.monotonic() + 10
        while not told_why() and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert told_why(), warnings
        page.screenshot(path=str(artifacts_dir / f"widget-identity-{'refreshed' if identified else 'anonymous'}.png"))
        context.close()
