"""The optional LLM against a local fake OpenAI-compatible server: it rephrases grounded answers with their
source, never answers when nothing matched, and a broken endpoint falls back to the plain answer. Its key is the
tenant's own (stored encrypted, write-only); no setting can make the server send one of its own secrets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.servers import FakeOutside


def test_llm_rephrases_only_grounded_answers(client: TestClient, bot_world: BotWorld, outside: FakeOutside) -> None:
    outside.broken = False
    h = bot_world.world.headers(Role.KNOWLEDGE_MANAGER)
    assert client.put("/api/v1/bot/llm-key", json={"api_key": "sk-test-0123456789abcd"}, headers=h).status_code == 200
    document = client.get("/api/v1/bot/config", headers=h).json()["document"]
    document["llm"] = {"enabled": True, "base_url": outside.url + "/v1", "model": "qwen-local"}
    assert client.put("/api/v1/bot/config", json=document, headers=h).status_code == 200

    reply = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert reply["kind"] == "answer" and reply["text"].startswith("亲，")
    assert "来源: return-policy" in reply["text"]
    call = outside.calls[-1]
    assert (
        call["path"] == "/v1/chat/completions" and call["headers"]["Authorization"] == "Bearer sk-test-0123456789abcd"
    )
    assert b'"qwen-local"' in call["body"]  # type: ignore[operator]

    before = len(outside.calls)
    declined = client.post("/api/v1/bot/answer", json={"text": "给我讲个笑话吧"}, headers=h).json()
    assert declined["kind"] == "decline" and len(outside.calls) == before  # nothing matched: nothing generated

    outside.broken = True
    try:
        fallback = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    finally:
        outside.broken = False
    assert fallback["kind"] == "answer" and fallback["text"].startswith("登录后")
