"""The admin reviews a newly trained model's expected answer / clarify / decline rates, moves its operating point
and activates it, in Chinese and in English, in a real browser."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.knowledge import transfer
from omnidesk.security.permissions import Role
from tests.factories import browser_sign_in, make_world

pytestmark = pytest.mark.browser

FAQ = {
    "return": ("怎么退货", ["如何申请退货", "我想退货", "退货流程是什么", "退货怎么操作", "商品可以退吗"]),
    "refund": ("退款多久到账", ["钱什么时候退回来", "退款什么时候到", "退款要几天", "退款进度", "还没收到退款"]),
    "invoice": ("怎么开发票", ["可以开发票吗", "发票怎么申请", "我要开发票", "电子发票在哪", "发票抬头怎么填"]),
    "shipping": ("什么时候发货", ["多久能发货", "下单后几天发货", "还没发货", "发货时间", "今天能发出吗"]),
    "address": ("怎么修改收货地址", ["地址写错了", "改地址", "收货地址能改吗", "换个收货地址", "地址填错了怎么办"]),
    "coupon": ("优惠券怎么用", ["优惠券在哪里领", "怎么使用优惠券", "优惠券不能用", "券怎么用", "领券"]),
    "member": ("会员积分怎么用", ["积分能抵现吗", "积分怎么兑换", "积分有什么用", "会员积分规则", "积分过期吗"]),
    "contact": ("客服电话是多少", ["怎么联系客服", "客服热线", "人工电话", "投诉电话多少", "客服几点上班"]),
}


def _models_row(page: Any, version: int) -> Any:
    return page.locator(f'table.models tr[data-version="{version}"]')


def test_the_admin_reviews_the_rates_moves_the_point_and_activates(
    browser: Any, live_server: str, db: Database, artifacts_dir: Path
) -> None:
    world = make_world(db)
    csv = "id,question,variants,answer,language,status\n" + "".join(
        f'{key},{q},"{"|".join(v)}",{q}：请看帮助中心。,zh-CN,published\n' for key, (q, v) in FAQ.items()
    )
    with db.tenant_transaction(world.tenant_id) as s:
        transfer.import_entries(s, system_actor(world.tenant_id), "csv", csv.encode())
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, world, Role.ADMIN)
    page.goto(f"{live_server}/admin/assistant")

    page.get_by_role("button", name="训练新模型").click()
    deadline = time.monotonic() + 90
    while _models_row(page, 1).get_attribute("data-status") != "ready":
        assert time.monotonic() < deadline, "training did not finish in 90 s"
        page.wait_for_timeout(500)
        page.goto(f"{live_server}/admin/assistant")
    row = _models_row(page, 1)
    assert row.get_attribute("data-active") is None  # it waits for the admin
    assert "已就绪，待启用" in row.inner_text()
    expected = row.locator(".expected").inner_text()
    assert "答错不超过 3 %" in expected and "直接回答" in expected and "婉拒" in expected
    page.screenshot(path=str(artifacts_dir / "assistant-operating-point-zh.png"), full_page=True)

    careful = row.locator("select[name=target] option").first
    careful_label = careful.inner_text()
    assert careful_label.startswith("答错不超过 1 %")
    row.locator("select[name=target]").select_option(careful.get_attribute("value"))
    row.get_by_role("button", name="使用此设置").click()
    page.wait_for_url(re.compile(r".*/admin/assistant.*"))
    row = _models_row(page, 1)
    assert "答错不超过 1 %" in row.locator(".expected").inner_text()
    assert row.locator("select[name=target] option:checked").inner_text() == careful_label

    row.get_by_role("button", name="启用版本 1").click()
    page.wait_for_url(re.compile(r".*/admin/assistant.*"))
    assert _models_row(page, 1).get_attribute("data-active") == "1"
    assert "答错不超过 1 %" in page.locator("#bot-help").inner_text()

    context.add_cookies([{"name": "omnidesk_lang", "value": "en", "url": live_server}])
    page.goto(f"{live_server}/admin/assistant")
    row = _models_row(page, 1)
    assert "active" in row.inner_text() and "At most 1 % wrong answers" in row.locator(".expected").inner_text()
    page.get_by_label("Customer message").fill("退货怎么操作")
    page.get_by_role("button", name="Ask").click()
    page.locator(".bot-line.bot").last.wait_for()
    assert "knowledge return" in page.locator(".bot-line.meta").last.inner_text()
    page.screenshot(path=str(artifacts_dir / "assistant-operating-point-en.png"), full_page=True)
    context.close()
