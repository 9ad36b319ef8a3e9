"""The assistant through ``POST /api/v1/bot/answer``: answers, flows with live data, clarification, hand-over,
declines and guardrails, in Chinese and English."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, SettingsError, load_settings
from omnidesk.knowledge import transfer
from omnidesk.security.permissions import Role
from omnidesk.web.app import create_app
from tests.assistant.conftest import BotWorld
from tests.factories import make_world


def ask(
    client: TestClient, bw: BotWorld, text: str, state: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/bot/answer",
        json={"text": text, "state": state or {}, **extra},
        headers=bw.world.headers(Role.KNOWLEDGE_MANAGER),
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_faq_answers_in_both_languages_with_the_knowledge_id(client: TestClient, bot_world: BotWorld) -> None:
    zh = ask(client, bot_world, "我想退货，怎么操作？")
    assert zh["kind"] == "answer", zh
    assert zh["knowledge_id"] == "return-policy"
    assert "7 天" in zh["text"] and zh["language"] == "zh-CN"
    assert zh["confidence"] >= 0.75
    en = ask(client, bot_world, "how long does a refund take")
    assert en["kind"] == "answer" and en["knowledge_id"] == "refund-time-en", en
    assert en["language"] == "en"


def test_parcel_status_from_the_tenants_own_system(client: TestClient, bot_world: BotWorld) -> None:
    reply = ask(client, bot_world, "我的快递 SF1234567890 到哪了")
    assert reply["kind"] == "flow" and reply["reason"] == "flow_done:track_parcel", reply
    assert "运输中" in reply["text"] and "上海" in reply["text"]
    assert {"kind": "tracking_number", "text": "SF1234567890", "value": "SF1234567890"} in reply["entities"]
    first = ask(client, bot_world, "where is my parcel?")
    assert first["kind"] == "flow" and "tracking number" in first["text"]
    done = ask(client, bot_world, "YT9876543210", first["state"])
    assert "delivered" in done["text"] and "Beijing" in done["text"]


def test_order_flow_multi_turn_with_interruption(client: TestClient, bot_world: BotWorld) -> None:
    first = ask(client, bot_world, "我的订单发货了吗")
    assert first["reason"] == "flow_ask:order_no"
    interrupted = ask(client, bot_world, "退款多久到账", first["state"])
    assert interrupted["knowledge_id"] == "refund-time" and "订单号" in interrupted["text"]
    done = ask(client, bot_world, "SO20261118001", interrupted["state"])
    assert "已发货" in done["text"] and "SF1234567890" in done["text"]
    unknown = ask(client, bot_world, "查订单 SO20269999999")
    assert unknown["reason"] == "flow_not_found:order_status"


def test_shipping_fee_from_the_tenants_rule_table(client: TestClient, bot_world: BotWorld) -> None:
    first = ask(client, bot_world, "运费多少")
    second = ask(client, bot_world, "3公斤", first["state"])
    assert [b["label"] for b in second["buttons"]][:2] == ["华东", "华北"]
    done = ask(client, bot_world, "华北", second["state"])
    assert "16.00" in done["text"]  # 10 for the first kilogram + 2 × 3


def test_connector_down_gives_a_safe_reply(client: TestClient, bot_world: BotWorld) -> None:
    bot_world.orders.set_failing(True)
    for _ in range(4):
        reply = ask(client, bot_world, "我的快递 SF1234567890 到哪了")
        assert reply["reason"] == "connector_failed:parcel_status"
        assert "暂时无法" in reply["text"] and reply["buttons"][0]["value"] == "转人工"
    bot_world.orders.set_failing(False)


def test_clarify_hand_over_decline_and_guardrails(client: TestClient, bot_world: BotWorld) -> None:
    assert ask(client, bot_world, "转人工")["kind"] == "hand_over"
    assert ask(client, bot_world, "I want to talk to a real person")["kind"] == "hand_over"
    urgent = ask(client, bot_world, "我胸痛得厉害")
    assert urgent["kind"] == "hand_over" and urgent["priority"] == "urgent"
    complaint = ask(client, bot_world, "我要投诉你们的快递员")
    assert complaint["kind"] == "hand_over" and complaint["sentiment"]["complaint"] is True
    vague = ask(client, bot_world, "退")
    assert vague["kind"] in ("clarify", "decline")
    oos = ask(client, bot_world, "给我讲个笑话吧")
    assert oos["kind"] == "decline" and oos["knowledge_id"] is None
    assert "无法回答" in oos["text"]
    medical = ask(client, bot_world, "我头疼应该吃什么药")
    assert medical["kind"] == "decline" and medical["reason"] == "forbidden_topic:medication"
    second_miss = ask(client, bot_world, "量子纠缠是什么", oos["state"])
    assert second_miss["kind"] == "hand_over" and second_miss["reason"] == "repeated_low_confidence"
    vip = ask(client, bot_world, "量子纠缠是什么", customer_tags=["vip"])
    assert vip["kind"] == "hand_over" and vip["reason"] == "customer_tag:vip"


def test_special_goods_rule(client: TestClient, bot_world: BotWorld) -> None:
    reply = ask(client, bot_world, "充电宝可以寄吗？")
    assert reply["reason"] == "rule:batteries" and "100Wh" in reply["text"]


def test_only_allowed_roles_use_the_console(client: TestClient, bot_world: BotWorld) -> None:
    denied = client.post("/api/v1/bot/answer", json={"text": "你好"}, headers=bot_world.world.headers(Role.AUDITOR))
    assert denied.status_code == 403
    empty = client.post("/api/v1/bot/answer", json={"text": ""}, headers=bot_world.world.headers())
    assert empty.status_code == 422


def test_translations_of_one_entry_answer_in_the_customers_language(
    client: TestClient, db: Database, bot_world: BotWorld
) -> None:
    # One knowledge id, two language versions (as the knowledge base stores translations): the index must keep
    # both, and a customer is answered in their own language, never offered the entry's translation as a choice.
    csv = (
        "id,question,variants,answer,language,status\n"
        "warranty,保修期多久,电器保修几年|坏了能保修吗,家电整机保修一年，主要部件三年。,zh-CN,published\n"
        "warranty,How long is the warranty?,what does the warranty cover|is it under warranty,"
        "Appliances are covered for one year; key parts for three.,en,published\n"
    )
    tenant = bot_world.world.tenant_id
    with db.tenant_transaction(tenant) as s:
        transfer.import_entries(s, system_actor(tenant), "csv", csv.encode())
    for text, language, words in (
        ("is it under warranty", "en", "one year"),
        ("How long is the warranty on this?", "en", "one year"),
        ("坏了能保修吗", "zh-CN", "一年"),
        ("保修期多久", "zh-CN", "一年"),
    ):
        reply = ask(client, bot_world, text)
        assert reply["kind"] == "answer" and reply["knowledge_id"] == "warranty", (text, reply)
        assert reply["language"] == language and words in reply["text"], (text, reply)
        assert all(b["label"] not in ("保修期多久", "How long is the warranty?") for b in reply.get("buttons", []))


def test_answer_limit_per_tenant_is_a_setting(settings: Settings, db: Database) -> None:
    """Issue 14, item 12: the limit was a constant 600 per minute; an operator can now lower (or raise) it."""
    world = make_world(db)
    strict = create_app(
        settings.model_copy(update={"bot_answer_rate_per_minute": 2, "bot_encoder": "none"}), db=db, bus=db.bus
    )
    headers = world.headers(Role.KNOWLEDGE_MANAGER)
    with TestClient(strict) as c:
        # A fixed window may roll over once in between: five calls always meet the limit of two.
        answers = [c.post("/api/v1/bot/answer", json={"text": "你好"}, headers=headers) for _ in range(5)]
    codes = [a.status_code for a in answers]
    assert codes[:2] == [200, 200] and 429 in codes, codes
    limited = answers[codes.index(429)]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["content-type"].startswith("application/problem+json")
    with pytest.raises(SettingsError, match="OMNIDESK_BOT_ANSWER_RATE_PER_MINUTE"):
        load_settings(bot_answer_rate_per_minute=0)
