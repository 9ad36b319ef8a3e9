"""The optional LLM against a local fake OpenAI-compatible server: it rephrases grounded answers with their
source, never answers when nothing matched, and a broken endpoint falls back to the plain answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld


class _FakeLlm(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []  # noqa: RUF012 - shared by the test on purpose
    broken = False

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if type(self).broken:
            self.send_response(500)
            self.end_headers()
            return
        entry = body["messages"][1]["content"]
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": "亲，" + entry.split("\n")[1]}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data.encode())


@pytest.fixture
def fake_llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLlm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _FakeLlm.calls.clear()
    _FakeLlm.broken = False
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_llm_rephrases_only_grounded_answers(
    client: TestClient, bot_world: BotWorld, fake_llm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-test")
    h = bot_world.world.headers(Role.KNOWLEDGE_MANAGER)
    document = client.get("/api/v1/bot/config", headers=h).json()["document"]
    document["llm"] = {"enabled": True, "base_url": fake_llm, "model": "qwen-local", "api_key_env": "FAKE_LLM_KEY"}
    assert client.put("/api/v1/bot/config", json=document, headers=h).status_code == 200

    reply = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert reply["kind"] == "answer" and reply["text"].startswith("亲，")
    assert "来源: return-policy" in reply["text"]
    call = _FakeLlm.calls[-1]
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer sk-test"
    assert call["body"]["model"] == "qwen-local"

    before = len(_FakeLlm.calls)
    declined = client.post("/api/v1/bot/answer", json={"text": "给我讲个笑话吧"}, headers=h).json()
    assert declined["kind"] == "decline" and len(_FakeLlm.calls) == before  # nothing matched: nothing generated

    _FakeLlm.broken = True
    fallback = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert fallback["kind"] == "answer" and fallback["text"].startswith("登录后")
