"""Agent assist (``GET /conversations/{id}/assist``): the knowledge the assistant would use for the customer's
question, canned and past answers, a summary with the customer's key sentence, intent and sentiment; the tenant's
LLM summarises when configured and a broken one falls back; another tenant's conversation is not found."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.factories import World
from tests.servers import FakeOutside


def _say(client: TestClient, world: World, conversation_id: str, text: str, sender: str = "customer") -> None:
    url = f"/api/v1/conversations/{conversation_id}/messages"
    response = client.post(url, json={"body": text, "sender_type": sender}, headers=world.headers())
    assert response.status_code == 201, response.text


def _new_conversation(client: TestClient, world: World, text: str) -> str:
    body = {"customer_id": str(world.customer.id), "channel": "web", "message": text}
    response = client.post("/api/v1/conversations", json=body, headers=world.headers())
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


def _assist(client: TestClient, world: World, conversation_id: str, **params: str) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/conversations/{conversation_id}/assist", params=params, headers=world.headers(Role.AGENT)
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_assist_suggests_knowledge_replies_and_summarises(client: TestClient, bot_world: BotWorld) -> None:
    world = bot_world.world
    admin = world.headers()
    canned = {"shortcut": "return", "title": "退货指引", "body": "{customer_name}您好，退货请在“我的订单”里申请售后。"}
    assert client.post("/api/v1/canned-responses", json=canned, headers=admin).status_code == 201
    # a past conversation, answered well by an agent and resolved
    past = _new_conversation(client, world, "请问怎么退货呀")
    _say(client, world, past, "您在订单详情页点“申请售后”就可以退货，7 天内无理由。", sender="agent")
    assert client.patch(f"/api/v1/conversations/{past}", json={"status": "resolved"}, headers=admin).status_code == 200

    conversation = _new_conversation(client, world, "你好")
    _say(client, world, conversation, "我上周买的鞋子尺码不合适。我想退货，怎么操作？")
    data = _assist(client, world, conversation)

    assert data["question"].endswith("我想退货，怎么操作？")
    assert data["knowledge"][0]["id"] == "return-policy"
    assert "申请售后" in data["knowledge"][0]["text"]
    sources = {r["source"]: r for r in data["replies"]}
    assert sources["canned"]["text"].startswith("李雷 Li Lei您好")
    assert "申请售后" in sources["past"]["text"]
    assert data["summary"]["kind"] == "extractive"
    assert "我想退货，怎么操作？" in data["summary"]["key_sentences"]
    assert "你好" not in data["summary"]["key_sentences"]
    assert data["understanding"]["intent"]["label"] == "faq:return-policy"
    assert data["understanding"]["sentiment"]["label"] in {"neutral", "negative", "positive"}

    # after a reply, an English question gets the English entry, and the reader's language words the summary
    _say(client, world, conversation, "好的，请稍等。", sender="agent")
    _say(client, world, conversation, "This is terrible, how long does a refund take?")
    english = _assist(client, world, conversation, lang="en")
    assert english["question"] == "This is terrible, how long does a refund take?"
    assert english["knowledge"][0]["id"] == "refund-time-en"
    assert english["understanding"]["sentiment"]["label"] == "negative"
    assert "The customer said:" in english["summary"]["text"]


def test_assist_uses_the_tenants_llm_and_falls_back(
    client: TestClient, bot_world: BotWorld, outside: FakeOutside
) -> None:
    world = bot_world.world
    h = world.headers(Role.KNOWLEDGE_MANAGER)
    assert client.put("/api/v1/bot/llm-key", json={"api_key": "sk-test-0123456789abcd"}, headers=h).status_code == 200
    document = client.get("/api/v1/bot/config", headers=h).json()["document"]
    document["llm"] = {"enabled": True, "base_url": outside.url + "/v1", "model": "qwen-local"}
    assert client.put("/api/v1/bot/config", json=document, headers=h).status_code == 200
    conversation = str(world.conversation.id)
    _say(client, world, conversation, "单号 SF1234567890，三天没更新了")
    outside.broken = False
    drafted = _assist(client, world, conversation)
    assert drafted["summary"]["kind"] == "llm" and drafted["summary"]["text"].startswith("亲，")
    assert drafted["summary"]["key_sentences"]  # the extractive parts stay
    calls = len(outside.calls)
    assert _assist(client, world, conversation)["summary"] == drafted["summary"]
    assert len(outside.calls) == calls  # nothing new in the conversation: the summary is reused, no second call
    outside.broken = True
    try:
        _say(client, world, conversation, "能帮我查一下吗？")
        fallback = _assist(client, world, conversation)
    finally:
        outside.broken = False
    assert len(outside.calls) == calls + 1
    assert fallback["summary"]["kind"] == "extractive"
    assert "我的快递到哪了？" in fallback["summary"]["key_sentences"]


def test_assist_is_tenant_isolated_and_needs_read_access(
    client: TestClient, bot_world: BotWorld, other_world: World
) -> None:
    world = bot_world.world
    url = f"/api/v1/conversations/{world.conversation.id}/assist"
    assert client.get(url, headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert client.get(url, headers=world.headers(Role.AGENT)).status_code == 200
    assert client.get(url).status_code == 401
