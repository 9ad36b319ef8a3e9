"""The assistant console edits what only the API could: the greeting and hand-over texts (both languages, used by
the assistant), intents with their phrases and answer, flows and connectors; bad input shows the problem and
stores nothing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.bot.models import BotConfig, IntentExample
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, make_world, sign_in


def _admin(client: TestClient, db: Database, language: str = "en") -> tuple[World, str]:
    world = make_world(db)
    sign_in(client, world, Role.ADMIN)
    client.cookies.set("omnidesk_lang", language)
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/assistant").text)
    assert match
    return world, match.group(1)


def _versions(db: Database, world: World) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return int(s.scalar(select(func.count()).select_from(BotConfig)) or 0)


def _alert(html: str, section: str) -> str:
    found = re.search(rf'<section class="card" id="{section}">.*?role="alert">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def test_greeting_and_hand_over_texts_are_the_tenants_own_in_both_languages(client: TestClient, db: Database) -> None:
    world, csrf = _admin(client, db)
    h = world.headers(Role.ADMIN)
    before = _versions(db, world)
    half = client.post("/admin/assistant/texts", data={"csrf": csrf, "greeting_zh": "欢迎光临小店！"})
    assert half.status_code == 422 and "both Chinese and English" in _alert(half.text, "texts")
    assert "欢迎光临小店！" in half.text and _versions(db, world) == before

    texts = {"csrf": csrf, "greeting_zh": "欢迎光临小店！有什么可以帮您？", "greeting_en": "Welcome to our shop! How can we help?",
             "hand_over_zh": "好的，马上请同事来帮您。", "hand_over_en": "Sure, a colleague will be with you shortly."}  # fmt: skip
    saved = client.post("/admin/assistant/texts", data=texts, follow_redirects=True)
    assert saved.status_code == 200 and "Saved as settings version" in saved.text
    assert "Welcome to our shop!" in saved.text  # the form shows what is stored

    hello = client.post("/api/v1/bot/answer", json={"text": "你好"}, headers=h).json()
    assert hello["text"] == "欢迎光临小店！有什么可以帮您？"
    hi = client.post("/api/v1/bot/answer", json={"text": "hello", "language": "en"}, headers=h).json()
    assert hi["text"] == "Welcome to our shop! How can we help?"
    human = client.post("/api/v1/bot/answer", json={"text": "转人工"}, headers=h).json()
    assert human["kind"] == "hand_over" and human["text"] == "好的，马上请同事来帮您。"

    client.cookies.set("omnidesk_lang", "zh-CN")
    page = client.get("/admin/assistant")
    assert "问候语与转人工话术" in page.text and "好的，马上请同事来帮您。" in page.text


def test_an_intent_is_created_edited_and_deleted_in_the_browser(client: TestClient, db: Database) -> None:
    world, csrf = _admin(client, db)
    bad = client.post("/admin/assistant/intents", data={"csrf": csrf, "label": "Order Status", "phrases": "where"})
    assert bad.status_code == 422 and "name:" in _alert(bad.text, "intents")
    empty = client.post("/admin/assistant/intents", data={"csrf": csrf, "label": "order_status", "phrases": " \n"})
    assert empty.status_code == 422 and "training phrases" in _alert(empty.text, "intents")

    form = {"csrf": csrf, "label": "opening_hours", "phrases": "几点开门\n营业时间\nwhen are you open",
            "answer_zh": "我们每天 9:00–18:00 营业。", "answer_en": "We are open 9:00–18:00 every day."}  # fmt: skip
    saved = client.post("/admin/assistant/intents", data=form, follow_redirects=True)
    assert saved.status_code == 200 and "Intent saved" in saved.text
    assert "几点开门" in saved.text  # the edit form shows its phrases
    row = re.search(r'<tr data-label="opening_hours">(.*?)</tr>', saved.text, re.S)
    assert row and "<td>3</td>" in row.group(1) and "We are open 9:00–18:00 every day." in row.group(1)

    edited = client.post(
        "/admin/assistant/intents", data={**form, "phrases": "营业时间\n开门时间"}, follow_redirects=True
    )
    assert edited.status_code == 200
    with db.tenant_read(world.tenant_id) as s:
        phrases = set(s.scalars(select(IntentExample.text).where(IntentExample.label == "opening_hours")))
    assert phrases == {"营业时间", "开门时间"}
    document = client.get("/api/v1/bot/config", headers=world.headers(Role.ADMIN)).json()["document"]
    assert document["intent_answers"]["opening_hours"]["en"] == "We are open 9:00–18:00 every day."

    gone = client.post("/admin/assistant/intents/opening_hours/delete", data={"csrf": csrf}, follow_redirects=True)
    assert gone.status_code == 200 and "Intent deleted" in gone.text and 'data-label="opening_hours"' not in gone.text


def test_flows_and_connectors_are_saved_as_json_and_checked_like_the_api(client: TestClient, db: Database) -> None:
    world, csrf = _admin(client, db)
    before = _versions(db, world)
    broken = client.post("/admin/assistant/flows", data={"csrf": csrf, "flows": "[{", "connectors": "{}"})
    assert broken.status_code == 422 and "flows: not valid JSON" in _alert(broken.text, "flows")
    flow = {"name": "track", "title": {"zh-CN": "查物流", "en": "Track a parcel"}, "keywords": ["物流"],
            "connector": "orders", "slots": [], "answer": {"zh-CN": "好的", "en": "OK"}}  # fmt: skip
    import json

    unknown = client.post(
        "/admin/assistant/flows", data={"csrf": csrf, "flows": json.dumps([flow]), "connectors": "{}"}
    )
    assert unknown.status_code == 422 and "unknown connector" in _alert(unknown.text, "flows")
    assert "Track a parcel" in unknown.text and _versions(db, world) == before
