"""The admin page /admin/webhooks in both languages: create (the secret shown once), see deliveries, replay,
disable, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in
from tests.webhooks.conftest import Receiver

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.mark.browser
def test_an_admin_manages_webhooks_and_replays_a_delivery_in_both_languages(
    browser: Any, hook_live_server: str, hook_client: TestClient, world: World, receiver: Receiver,
    artifacts_dir: Path,
) -> None:  # fmt: skip
    base = hook_live_server
    path = "/hooks/page"
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, base, world, Role.ADMIN)
    page.get_by_role("link", name="Webhook").click()
    page.wait_for_url(f"{base}/admin/webhooks")
    assert page.get_by_role("heading", name="外发 Webhook").is_visible()

    # A private address is refused with a message, and nothing is created.
    page.get_by_label("地址").fill("https://10.0.0.5/hook")
    page.get_by_label("ticket.created").check()
    page.get_by_role("button", name="创建 Webhook").click()
    assert "does not let tenants reach" in page.get_by_role("alert").inner_text()
    assert page.locator("tr[data-webhook]").count() == 0

    page.get_by_label("地址").fill(receiver.url(path))
    page.get_by_label("说明").fill("订单系统")
    page.get_by_label("ticket.created").check()
    page.get_by_role("button", name="创建 Webhook").click()
    secret = page.get_by_label("签名密钥").inner_text()
    assert secret.startswith("whsec_") and "只显示这一次" in page.locator("main").inner_text()
    receiver.secrets[path] = secret
    page.screenshot(path=str(artifacts_dir / "webhooks-created-zh.png"), full_page=True)
    page.goto(f"{base}/admin/webhooks")
    assert secret not in page.content()

    answer = hook_client.post("/api/v1/tickets", headers=world.headers(Role.ADMIN), json={"subject": "包裹丢失"})
    assert answer.status_code == 201
    [first] = receiver.at(path)
    delivery_id = first.headers["OmniDesk-Delivery"]
    page.goto(f"{base}/admin/webhooks")
    row = page.locator(f'tr[data-delivery="{delivery_id}"]')
    assert "已送达" in row.inner_text() and "HTTP 200" in row.inner_text()
    row.get_by_role("button", name="重新发送").click()
    page.wait_for_url(f"{base}/admin/webhooks?done=replayed")
    assert page.get_by_role("status").inner_text() == "投递已重新排队。"
    sent = receiver.at(path)
    assert [r.headers["OmniDesk-Delivery"] for r in sent] == [delivery_id, delivery_id] and sent[1].verified
    assert json.loads(sent[1].body)["type"] == "ticket.created"
    page.screenshot(path=str(artifacts_dir / "webhooks-deliveries-zh.png"), full_page=True)

    page.goto(f"{base}/lang/en")
    page.goto(f"{base}/admin/webhooks")
    assert page.get_by_role("heading", name="Outgoing webhooks").is_visible()
    assert "Delivered" in page.locator(f'tr[data-delivery="{delivery_id}"]').inner_text()
    page.get_by_role("button", name="Disable").click()
    page.wait_for_url(f"{base}/admin/webhooks?done=disabled")
    assert page.get_by_role("status").inner_text() == "The webhook was disabled."
    assert "Disabled" in page.locator("tr[data-webhook]").inner_text()
    page.screenshot(path=str(artifacts_dir / "webhooks-en.png"), full_page=True)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{base}/admin/webhooks?done=deleted")
    assert "No webhooks yet." in page.locator("main").inner_text()
    context.close()
