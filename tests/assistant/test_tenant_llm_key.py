"""Finding 1 and 2 of the security probe through the API a tenant admin has: the LLM settings can no longer name a
process secret, the tenant's own key is stored encrypted and never returned, and neither the LLM endpoint nor a
connector can be pointed at the server's own network."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.accounts.tenant_secrets import TenantSecret
from omnidesk.bot.models import BotConfig
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.servers import FakeOutside

KEY = "sk-tenant-own-key-0123456789-WXYZ"


@pytest.fixture
def inside() -> Iterator[FakeOutside]:
    """A loopback service the operator did not allow: it stands for the server's own port or Redis."""
    server = FakeOutside().start()
    yield server
    server.stop()


def _llm(client: TestClient, h: dict[str, str], llm: dict[str, object]) -> int:
    document = client.get("/api/v1/bot/config", headers=h).json()["document"]
    document["llm"] = llm
    response = client.put("/api/v1/bot/config", json=document, headers=h)
    return response.status_code


def _sent(outside: FakeOutside, since: int) -> bytes:
    return b"\n".join(
        repr(call["headers"]).encode() + bytes(call["body"])  # type: ignore[arg-type]
        for call in outside.calls[since:]
    )


def test_llm_settings_cannot_name_a_process_secret(
    client: TestClient, bot_world: BotWorld, outside: FakeOutside, settings: Settings
) -> None:
    h = bot_world.world.headers(Role.ADMIN)
    endpoint = {"enabled": True, "base_url": outside.url + "/v1", "model": "m"}
    refused = client.put(
        "/api/v1/bot/config",
        json={**client.get("/api/v1/bot/config", headers=h).json()["document"],
              "llm": {**endpoint, "api_key_env": "OMNIDESK_SECRET_KEY"}},
        headers=h,
    )  # fmt: skip
    assert refused.status_code == 422
    assert "api_key_env" in refused.json()["detail"] and "llm-key" in refused.json()["detail"]
    assert _llm(client, h, endpoint) == 200
    since = len(outside.calls)
    client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h)
    assert len(outside.calls) == since + 1
    assert settings.effective_secret_key.encode() not in _sent(outside, since)


def test_old_documents_naming_an_environment_variable_load_without_it(
    client: TestClient, bot_world: BotWorld, outside: FakeOutside, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_PLATFORM_SECRET", "platform-secret-value-that-must-stay-home")
    h = bot_world.world.headers(Role.ADMIN)
    document = client.get("/api/v1/bot/config", headers=h).json()["document"]
    document["llm"] = {"enabled": True, "base_url": outside.url + "/v1", "model": "m",
                       "api_key_env": "LEGACY_PLATFORM_SECRET"}  # fmt: skip
    with db.tenant_transaction(bot_world.world.tenant_id) as s:  # as an earlier version stored it
        version = max(s.scalars(select(BotConfig.version))) + 1
        s.add(BotConfig(tenant_id=bot_world.world.tenant_id, version=version, document=document))
    config = client.get("/api/v1/bot/config", headers=h)
    assert config.status_code == 200 and "api_key_env" not in config.json()["document"]["llm"]
    since = len(outside.calls)
    reply = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert reply["text"].startswith("亲，")
    assert b"platform-secret-value" not in _sent(outside, since)
    assert "Authorization" not in outside.calls[-1]["headers"]  # type: ignore[operator]
    rolled = client.post("/api/v1/bot/config/rollback", json={"version": version}, headers=h)
    assert rolled.status_code == 200 and "api_key_env" not in rolled.json()["document"]["llm"]


def test_tenant_llm_key_is_write_only_encrypted_and_audited(
    client: TestClient, bot_world: BotWorld, outside: FakeOutside, other_world: object, db: Database
) -> None:
    world = bot_world.world
    h = world.headers(Role.ADMIN)
    assert client.get("/api/v1/bot/llm-key", headers=h).json()["configured"] is False
    assert (
        client.put("/api/v1/bot/llm-key", json={"api_key": KEY}, headers=world.headers(Role.AGENT)).status_code == 403
    )
    assert client.put("/api/v1/bot/llm-key", json={"api_key": "bad key"}, headers=h).status_code == 422
    assert client.put("/api/v1/bot/llm-key", json={"api_key": KEY, "x": 1}, headers=h).status_code == 422

    saved = client.put("/api/v1/bot/llm-key", json={"api_key": KEY}, headers=h)
    assert saved.status_code == 200 and saved.json()["configured"] is True and saved.json()["last4"] == "WXYZ"
    for path in ("/api/v1/bot/llm-key", "/api/v1/bot/config"):
        assert KEY not in client.get(path, headers=h).text
    with db.tenant_read(world.tenant_id) as s:
        row = s.scalar(select(TenantSecret))
        assert row is not None and row.sealed is not None and KEY.encode() not in row.sealed  # encrypted at rest
        audits = list(s.scalars(select(AuditRecord).where(AuditRecord.action.like("secret.%"))))
        assert [a.action for a in audits] == ["secret.set"] and KEY not in repr([a.changes for a in audits])

    assert _llm(client, h, {"enabled": True, "base_url": outside.url + "/v1", "model": "m"}) == 200
    client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h)
    assert outside.calls[-1]["headers"]["Authorization"] == f"Bearer {KEY}"  # type: ignore[index]

    replaced = client.put("/api/v1/bot/llm-key", json={"api_key": "sk-replaced-key-000000001111"}, headers=h)
    assert replaced.json()["last4"] == "1111"
    client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h)
    assert outside.calls[-1]["headers"]["Authorization"] == "Bearer sk-replaced-key-000000001111"  # type: ignore[index]

    cleared = client.delete("/api/v1/bot/llm-key", headers=h)
    assert cleared.json() == {"configured": False, "last4": "", "updated_at": cleared.json()["updated_at"]}
    client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h)
    assert "Authorization" not in outside.calls[-1]["headers"]  # type: ignore[operator]
    with db.tenant_read(world.tenant_id) as s:
        actions = [a.action for a in s.scalars(select(AuditRecord).where(AuditRecord.action.like("secret.%")))]
        assert sorted(actions) == ["secret.clear", "secret.set", "secret.set"]


def test_a_sealed_key_does_not_open_for_another_tenant(bot_world: BotWorld, app: FastAPI, db: Database) -> None:
    """Copying the ciphertext into another tenant's row gives nothing: the tenant id is bound to it."""
    from omnidesk.accounts import tenant_secrets
    from omnidesk.security.keys import Purpose, for_purpose

    keys = for_purpose(app.state.settings, Purpose.TENANT_SECRETS)
    sealed = tenant_secrets.seal(keys, bot_world.world.tenant_id, "llm_api_key", KEY)
    assert tenant_secrets.unseal(keys, bot_world.world.tenant_id, "llm_api_key", sealed) == KEY
    with pytest.raises(tenant_secrets.SecretUnreadable):
        tenant_secrets.unseal(keys, uuid.uuid4(), "llm_api_key", sealed)


def test_llm_endpoint_and_connectors_cannot_reach_the_inside(
    client: TestClient, bot_world: BotWorld, inside: FakeOutside
) -> None:
    h = bot_world.world.headers(Role.ADMIN)
    assert _llm(client, h, {"enabled": True, "base_url": inside.url + "/v1", "model": "m"}) == 200
    reply = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert reply["kind"] == "answer" and reply["text"].startswith("登录后")  # the plain answer: the LLM was refused
    for target in (inside.url, f"http://localhost:{inside.port}", "http://169.254.169.254", "http://10.0.0.1"):
        document = client.get("/api/v1/bot/config", headers=h).json()["document"]
        document["allowed_hosts"] = ["127.0.0.1", "localhost", "169.254.169.254", "10.0.0.1"]
        document["connectors"]["parcel_status"]["url"] = target + "/parcels/{tracking_no}"
        assert client.put("/api/v1/bot/config", json=document, headers=h).status_code == 200
        answer = client.post("/api/v1/bot/answer", json={"text": "我的快递 SF1234567890 到哪了"}, headers=h).json()
        assert answer["reason"] == "connector_failed:parcel_status", target
    assert inside.calls == [], "nothing reached the inside service"


def test_console_page_sets_replaces_and_clears_the_key_without_showing_it(
    client: TestClient, bot_world: BotWorld, outside: FakeOutside
) -> None:
    import re

    from tests.factories import sign_in

    world = bot_world.world
    sign_in(client, world, Role.ADMIN)
    for language, set_text in (("en", "A key is stored (ending in WXYZ)"), ("zh-CN", "已保存密钥（末四位 WXYZ）")):
        client.cookies.set("omnidesk_lang", language)
        page = client.get("/admin/assistant")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        saved = client.post(
            "/admin/assistant/llm",
            data={"csrf": csrf, "enabled": "on", "base_url": outside.url + "/v1", "model": "m", "timeout_seconds": "5",
                  "api_key": KEY},
            follow_redirects=True,
        )  # fmt: skip
        assert saved.status_code == 200 and set_text in saved.text
        assert KEY not in saved.text
    h = world.headers(Role.ADMIN)
    assert client.get("/api/v1/bot/config", headers=h).json()["document"]["llm"]["base_url"] == outside.url + "/v1"
    page = client.get("/admin/assistant")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    kept = client.post("/admin/assistant/llm", data={"csrf": csrf, "enabled": "on", "base_url": outside.url + "/v1",
                                                      "model": "m", "timeout_seconds": "5"})  # fmt: skip
    assert kept.status_code == 200 and client.get("/api/v1/bot/llm-key", headers=h).json()["last4"] == "WXYZ"
    bad = client.post("/admin/assistant/llm", data={"csrf": csrf, "base_url": "ftp://x", "api_key": KEY})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    cleared = client.post("/admin/assistant/llm", data={"csrf": csrf, "enabled": "on", "base_url": outside.url + "/v1",
                                                         "model": "m", "timeout_seconds": "5", "clear_key": "on"})  # fmt: skip
    assert cleared.status_code == 200 and "尚未保存密钥" in cleared.text
    assert client.get("/api/v1/bot/llm-key", headers=h).json()["configured"] is False
