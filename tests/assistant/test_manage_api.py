"""Managing the assistant: validated settings with versions and rollback, training in the background with
rollback of models, and the knowledge-gap report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.factories import World


def test_settings_are_validated_versioned_and_roll_back(client: TestClient, bot_world: BotWorld) -> None:
    h = bot_world.world.headers(Role.KNOWLEDGE_MANAGER)
    current = client.get("/api/v1/bot/config", headers=h).json()
    document: dict[str, Any] = current["document"]
    dangling = {**document, "flows": [{**document["flows"][0], "connector": "nope"}]}
    refused = client.put("/api/v1/bot/config", json=dangling, headers=h)
    assert refused.status_code == 422
    assert "unknown connector 'nope'" in refused.json()["detail"]
    bad_template = {
        **document,
        "special_goods": [{"name": "x", "keywords": ["x"], "answer": {"zh-CN": "{a.__class__}", "en": "x"}}],
    }
    assert client.put("/api/v1/bot/config", json=bad_template, headers=h).status_code == 422
    assert client.put("/api/v1/bot/config", json={**document, "surprise": 1}, headers=h).status_code == 422
    assert client.get("/api/v1/bot/config", headers=h).json()["version"] == current["version"]

    stricter = {**document, "forbidden_topics": {**document["forbidden_topics"], "returns": ["退货"]}}
    saved = client.put("/api/v1/bot/config", json=stricter, headers=h).json()
    assert saved["version"] == current["version"] + 1
    reply = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert reply["kind"] == "decline"  # the new settings are live on the next message
    back = client.post("/api/v1/bot/config/rollback", json={"version": current["version"]}, headers=h).json()
    assert "returns" not in back["document"]["forbidden_topics"]
    assert (
        client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()["kind"] == "answer"
    )
    assert (
        client.put("/api/v1/bot/config", json=document, headers=bot_world.world.headers(Role.AGENT)).status_code == 403
    )


def test_training_runs_in_the_background_and_models_roll_back(client: TestClient, bot_world: BotWorld) -> None:
    h = bot_world.world.headers(Role.KNOWLEDGE_MANAGER)
    added = client.post(
        "/api/v1/bot/intents", json={"label": "invoice_help", "texts": ["发票开错了", "发票抬头写错了"]}, headers=h
    )
    assert added.json() == {"added": 2}
    assert client.get("/api/v1/bot/intents", headers=h).json()["invoice_help"] == 2
    started = client.post("/api/v1/bot/models", headers=h)
    assert started.status_code == 202 and started.json()["status"] == "training"
    deadline = time.monotonic() + 60
    while True:
        models = client.get("/api/v1/bot/models", headers=h).json()
        if models[0]["status"] != "training" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    newest, previous = models[0], models[1]
    assert newest["status"] == "ready" and newest["active"] and "invoice_help" in newest["labels"]
    assert newest["train_seconds"] < 60
    rolled = client.post(f"/api/v1/bot/models/{previous['version']}/activate", headers=h).json()
    assert rolled["active"] is True
    assert [m["active"] for m in client.get("/api/v1/bot/models", headers=h).json()][:2] == [False, True]
    assert client.post("/api/v1/bot/models/999/activate", headers=h).status_code == 404


def test_a_model_trained_for_review_waits_with_its_rates_and_its_point_can_be_moved(
    client: TestClient, bot_world: BotWorld, other_world: World
) -> None:
    h = bot_world.world.headers(Role.KNOWLEDGE_MANAGER)
    live = next(m for m in client.get("/api/v1/bot/models", headers=h).json() if m["active"])
    started = client.post("/api/v1/bot/models", json={"activate": False}, headers=h)
    assert started.status_code == 202 and started.json()["activate_when_ready"] is False
    deadline = time.monotonic() + 60
    while (model := client.get("/api/v1/bot/models", headers=h).json()[0])["status"] == "training":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert model["status"] == "ready" and not model["active"]  # the admin decides; the old model still serves
    assert next(m for m in client.get("/api/v1/bot/models", headers=h).json() if m["active"])["id"] == live["id"]
    targets = [p["target"] for p in model["policy"]["points"]]
    assert targets == [0.01, 0.02, 0.03, 0.05, 0.08] and model["operating_point"]["target"] == 0.03
    version = model["version"]
    url = f"/api/v1/bot/models/{version}/operating-point"
    assert client.post(url, json={"target": 0.04}, headers=h).status_code == 422
    other = client.post(url, json={"target": 0.01}, headers=other_world.headers(Role.ADMIN))
    assert other.status_code == 404, other.text
    assert client.post(url, json={"target": 0.01}, headers=bot_world.world.headers(Role.AGENT)).status_code == 403
    moved = client.post(url, json={"target": 0.01}, headers=h).json()
    assert moved["answer_target"] == 0.01 and moved["operating_point"]["target"] == 0.01
    assert client.post(f"/api/v1/bot/models/{version}/activate", headers=h).json()["active"] is True
    reply = client.post("/api/v1/bot/answer", json={"text": "我想退货，怎么操作？"}, headers=h).json()
    assert reply["kind"] == "answer" and reply["knowledge_id"] == "return-policy"


def test_unanswered_questions_become_knowledge_gaps(client: TestClient, bot_world: BotWorld) -> None:
    import uuid

    from omnidesk.bot import pipeline

    app = client.app
    conv = bot_world.world.conversation.id
    with app.state.db.tenant_transaction(bot_world.world.tenant_id) as s:  # type: ignore[attr-defined]
        pipeline.hold(s, bot_world.world.tenant_id, conv)
    for text in ["你们支持花呗分期吗", "支持花呗分期吗？", "可以用花呗分期付款吗"]:
        message = client.post(f"/api/v1/conversations/{conv}/messages", json={"body": text, "sender_type": "customer"},
                              headers=bot_world.world.headers()).json()  # fmt: skip
        pipeline.respond(app.state.db, bot_world.world.tenant_id, conv, uuid.UUID(message["id"]),  # type: ignore[attr-defined]
                         brains=app.state.brains, assistant=app.state.assistant)  # type: ignore[attr-defined]  # fmt: skip
    gaps = client.get("/api/v1/bot/gaps", headers=bot_world.world.headers(Role.KNOWLEDGE_MANAGER)).json()
    assert gaps and gaps[0]["count"] >= 2 and "花呗" in gaps[0]["text"]


@pytest.mark.usefixtures("bot_world")
def test_faq_import_cli_keeps_external_ids(
    tmp_path: Path, client: TestClient, bot_world: BotWorld, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from omnidesk.cli import main
    from omnidesk.core.settings import get_settings

    monkeypatch.setenv("OMNIDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("OMNIDESK_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    csv = tmp_path / "faq.csv"
    csv.write_text(
        "id,question,variants,answer,language\nQ-77,会员积分怎么用,积分能抵现吗|积分怎么兑换,100 积分抵 1 元，结算时勾选使用。,zh-CN\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["faq", "import", "--tenant", bot_world.world.slug, str(csv)])
    assert result.exit_code == 0, result.output
    assert '"created": 1' in result.output
    reply = client.post("/api/v1/bot/answer", json={"text": "积分可以抵现吗"}, headers=bot_world.world.headers()).json()
    assert reply["kind"] == "answer" and reply["knowledge_id"] == "Q-77"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,variants,answer,language\nQ-78,,x,y,zh-CN\n", encoding="utf-8")
    failed = CliRunner().invoke(main, ["faq", "import", "--tenant", bot_world.world.slug, str(bad)])
    assert failed.exit_code == 1 and "row 2" in failed.output
    # a file from another system: the good rows go in, the bad one is listed; a dry run writes nothing
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        'id,question,variants,answer,language\nfaq?79,怎么改地址,"地址写错了|收货地址\n怎么改",发货前可在订单页修改。,zh\n'
        "Q-80,,x,y,zh-CN\n",
        encoding="utf-8",
    )
    dry = CliRunner().invoke(main, ["faq", "import", "--tenant", bot_world.world.slug, "--dry-run", str(mixed)])
    assert dry.exit_code == 0 and '"created": 1' in dry.output and '"dry_run": true' in dry.output
    assert "'zh' read as zh-CN" in dry.output
    strict = CliRunner().invoke(
        main, ["faq", "import", "--tenant", bot_world.world.slug, "--all-or-nothing", str(mixed)]
    )
    assert strict.exit_code == 1 and "row 3" in strict.output
    reply = client.post("/api/v1/bot/answer", json={"text": "收货地址怎么改"}, headers=bot_world.world.headers()).json()
    assert reply.get("knowledge_id") != "faq?79"  # neither the dry run nor the refused import wrote it
    done = CliRunner().invoke(main, ["faq", "import", "--tenant", bot_world.world.slug, str(mixed)])
    assert done.exit_code == 0 and '"created": 1' in done.output and "row 3" in done.output
    reply = client.post("/api/v1/bot/answer", json={"text": "收货地址怎么改"}, headers=bot_world.world.headers()).json()
    assert reply["kind"] == "answer" and reply["knowledge_id"] == "faq?79"


def test_resolved_hand_overs_become_faq_suggestions(client: TestClient, bot_world: BotWorld) -> None:
    import uuid

    from omnidesk.bot import jobs, pipeline

    app = client.app
    state = app.state  # type: ignore[attr-defined]
    world = bot_world.world
    conv = world.conversation.id
    with state.db.tenant_transaction(world.tenant_id) as s:
        pipeline.hold(s, world.tenant_id, conv)
    h = world.headers()
    asked = client.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"body": "可以开增值税专用发票吗？转人工", "sender_type": "customer"},
        headers=h,
    ).json()
    pipeline.respond(
        state.db, world.tenant_id, conv, uuid.UUID(asked["id"]), brains=state.brains, assistant=state.assistant
    )
    client.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"body": "可以，在订单页选择“增值税专用发票”并上传资质。"},
        headers=h,
    )
    resolved = client.patch(f"/api/v1/conversations/{conv}", json={"status": "resolved"}, headers=h)
    assert resolved.status_code == 200, resolved.text
    assert jobs.harvest_suggestions(state.db) >= 1
    assert jobs.harvest_suggestions(state.db) == 0  # once per conversation
    km = world.headers(Role.KNOWLEDGE_MANAGER)
    suggestions = client.get("/api/v1/bot/faq-suggestions", headers=km).json()
    mine = next(x for x in suggestions if x["conversation_id"] == str(conv))
    assert "专用发票" in mine["question"] and "上传资质" in mine["answer"]
    accepted = client.post(f"/api/v1/bot/faq-suggestions/{mine['id']}/decision", json={"accept": True}, headers=km)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    drafts = client.get("/api/v1/knowledge/articles", params={"status": "draft"}, headers=km).json()
    assert any("专用发票" in a["title"] for a in drafts["items"])


def test_an_entry_with_thousands_of_variants_teaches_the_model_a_bounded_sample(db: Database) -> None:
    from omnidesk.bot.actions import MAX_PHRASINGS_PER_ENTRY, training_data
    from omnidesk.core.actor import system_actor
    from omnidesk.knowledge import transfer
    from tests.factories import make_world

    world = make_world(db)
    many = "|".join(f"how do I open account number {i}" for i in range(2_000))
    csv = f'id,question,variants,answer,language,status\nopen,How do I open an account?,"{many}",At a branch.,en,published\n'
    with db.tenant_transaction(world.tenant_id) as s:
        transfer.import_entries(s, system_actor(world.tenant_id), "csv", csv.encode())
    with db.tenant_read(world.tenant_id) as s:
        texts, labels = training_data(s)
    assert len(texts) == MAX_PHRASINGS_PER_ENTRY and set(labels) == {"faq:open"}
    assert texts[0] == "How do I open an account?" and texts[-1].endswith("1993")  # spread over the whole list
