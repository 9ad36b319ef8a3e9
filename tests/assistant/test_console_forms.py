"""The assistant console's forms over HTTP: answer settings (validated like the API, nothing stored on bad input),
training with a progress poll, and the review of knowledge gaps and suggested FAQ entries (accept creates exactly
one draft FAQ entry, reject hides it for good)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.bot.models import BotConfig, FaqSuggestion, UnansweredQuestion
from omnidesk.bot.nlu import normalize
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database, utcnow
from omnidesk.knowledge.models import KbArticle
from omnidesk.security.permissions import Role
from tests.factories import World, make_world, sign_in


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/assistant").text)
    assert match
    return match.group(1)


def _count(db: Database, world: World, model: type) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _admin(client: TestClient, db: Database, language: str = "en") -> World:
    world = make_world(db)
    sign_in(client, world, Role.ADMIN)
    client.cookies.set("omnidesk_lang", language)
    return world


def _settings(csrf: str, **typed: str) -> dict[str, str]:
    form = {"csrf": csrf, "answer": "0.75", "clarify": "0.4", "close_margin": "0.1", "intent": "0.6",
            "urgent_words": "投诉\n12315", "forbidden_topics": "politics: 政治, election"}  # fmt: skip
    return {**form, **typed}


def test_settings_form_validates_like_the_api_and_stores_nothing_on_bad_input(client: TestClient, db: Database) -> None:
    world = _admin(client, db)
    csrf = _csrf(client)
    before = _count(db, world, BotConfig)
    for typed, problem in (
        ({"answer": "0.3", "clarify": "0.6"}, "clarify must not be above answer"),
        ({"intent": "lots"}, "thresholds.intent"),
        ({"answer": "1.5"}, "thresholds.answer"),
        ({"forbidden_topics": "no colon here"}, "forbidden_topics: line 1"),
        ({"urgent_words": "x" * 200}, "urgent_words"),
    ):
        bad = client.post("/admin/assistant/settings", data=_settings(csrf, **typed))
        assert bad.status_code == 422, typed
        alert = re.search(r'<section class="card" id="settings">.*?role="alert">(.*?)</p>', bad.text, re.S)
        assert alert and problem in alert.group(1), (typed, bad.text[:300])
        assert next(iter(typed.values()))[:50] in bad.text  # what was typed is still in the form
    assert _count(db, world, BotConfig) == before

    forged = client.post("/admin/assistant/settings", data=_settings("not-the-token"))
    assert forged.status_code == 403 and _count(db, world, BotConfig) == before

    saved = client.post(
        "/admin/assistant/settings",
        data=_settings(
            csrf,
            answer="0.8",
            urgent_words="投诉, 12315\nlawyer",
            forbidden_topics="politics: 政治\nstocks：股票，基金",
        ),
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "Saved as settings version" in saved.text
    document = client.get("/api/v1/bot/config", headers=world.headers(Role.ADMIN)).json()["document"]
    assert document["urgent_words"] == ["投诉", "12315", "lawyer"]
    assert document["forbidden_topics"] == {"politics": ["政治"], "stocks": ["股票", "基金"]}
    assert document["thresholds"]["answer"] == 0.8
    assert _count(db, world, BotConfig) == before + 1
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(func.count()).where(AuditRecord.action == "bot.config_save")) == before + 1

    client.cookies.set("omnidesk_lang", "zh-CN")
    page = client.get("/admin/assistant?saved=settings")
    assert "紧急词" in page.text and "禁答话题" in page.text and "已保存为设置版本" in page.text
    assert "lawyer" in page.text and "stocks: 股票, 基金" in page.text


def test_an_agent_cannot_save_settings_or_poll_training(client: TestClient, db: Database) -> None:
    world = make_world(db)
    sign_in(client, world, Role.AGENT)
    before = _count(db, world, BotConfig)
    page = client.get("/admin/assistant")
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    csrf = match.group(1) if match else "x"
    assert client.post("/admin/assistant/settings", data=_settings(csrf)).status_code == 403
    assert client.get("/admin/assistant/training").status_code == 403
    assert _count(db, world, BotConfig) == before


def test_training_starts_from_the_page_and_reports_its_stage(client: TestClient, db: Database) -> None:
    world = _admin(client, db)
    assert client.get("/admin/assistant/training").json() == {"training": None, "active_version": None}
    csrf = _csrf(client)
    started = client.post("/admin/assistant/models", data={"csrf": csrf}, follow_redirects=True)
    assert started.status_code == 200
    assert 'id="training"' in started.text and "Version 1:" in started.text
    state = client.get("/admin/assistant/training").json()["training"]
    assert state["version"] == 1 and state["stage"] in ("queued", "training", "ready", "failed")
    assert state["activate_when_ready"] is False
    if state["stage"] in ("queued", "training"):  # one run at a time: a second start is refused in the form
        again = client.post("/admin/assistant/models", data={"csrf": csrf})
        assert again.status_code == 409 and "already in progress" in again.text
    del world


def _gap(db: Database, world: World, text: str, language: str, times: int) -> None:
    with db.tenant_transaction(world.tenant_id) as s:
        for i in range(times):
            s.add(UnansweredQuestion(tenant_id=world.tenant_id, text=text, normalized=normalize(text),
                                     language=language, reason="low_confidence", confidence=0.1,
                                     created_at=utcnow() - timedelta(minutes=i)))  # fmt: skip


def _faq_drafts(db: Database, world: World) -> list[KbArticle]:
    with db.tenant_read(world.tenant_id) as s:
        return list(s.scalars(select(KbArticle).where(KbArticle.kind == "faq")))


def test_a_gap_is_accepted_once_as_a_draft_faq_or_rejected_for_good(client: TestClient, db: Database) -> None:
    world = _admin(client, db)
    _gap(db, world, "发票抬头写错了怎么改", "zh-CN", 3)
    _gap(db, world, "Do you ship to Mars?", "en", 1)
    csrf = _csrf(client)
    assert "发票抬头写错了怎么改" in client.get("/admin/assistant").text
    gap = {"csrf": csrf, "text": "发票抬头写错了怎么改", "language": "zh-CN"}

    no_answer = client.post("/admin/assistant/gaps", data={**gap, "decision": "accept", "answer": "  "})
    assert no_answer.status_code == 422 and "answer" in no_answer.text and _faq_drafts(db, world) == []

    accepted = client.post(
        "/admin/assistant/gaps",
        data={**gap, "decision": "accept", "question": "发票抬头错了怎么办", "answer": "在订单详情页重新申请发票。"},
        follow_redirects=True,
    )
    assert accepted.status_code == 200 and "draft FAQ entry" in accepted.text
    drafts = _faq_drafts(db, world)
    assert [(d.title, d.body, d.language, d.status) for d in drafts] == [
        ("发票抬头错了怎么办", "在订单详情页重新申请发票。", "zh-CN", "draft")
    ]
    assert "发票抬头写错了怎么改" not in accepted.text
    again = client.post("/admin/assistant/gaps", data={**gap, "decision": "accept", "answer": "x"})
    assert again.status_code == 404 and len(_faq_drafts(db, world)) == 1

    rejected = client.post(
        "/admin/assistant/gaps",
        data={"csrf": csrf, "text": "Do you ship to Mars?", "language": "en", "decision": "reject"},
        follow_redirects=True,
    )
    assert rejected.status_code == 200 and "will not be shown again" in rejected.text
    assert "Do you ship to Mars?" not in rejected.text and len(_faq_drafts(db, world)) == 1
    assert client.get("/api/v1/bot/gaps", headers=world.headers(Role.ADMIN)).json() == []
    with db.tenant_read(world.tenant_id) as s:
        marks = dict(s.execute(select(UnansweredQuestion.text, UnansweredQuestion.resolution)).all())
        assert marks == {"发票抬头写错了怎么改": "accepted", "Do you ship to Mars?": "rejected"}
        assert s.scalar(select(func.count()).where(AuditRecord.action == "bot.gap_decide")) == 2


def test_a_suggestion_is_edited_then_accepted_or_rejected(client: TestClient, db: Database) -> None:
    world = _admin(client, db, "zh-CN")
    ids = []
    with db.tenant_transaction(world.tenant_id) as s:
        for question, answer in (("能开专票吗", "可以，联系客服。"), ("你们卖火箭吗", "不卖。")):
            row = FaqSuggestion(tenant_id=world.tenant_id, conversation_id=uuid.uuid4(), question=question,
                                answer=answer, language="zh-CN")  # fmt: skip
            s.add(row)
            s.flush()
            ids.append(row.id)
    csrf = _csrf(client)
    page = client.get("/admin/assistant").text
    assert "能开专票吗" in page and "你们卖火箭吗" in page and "采纳" in page and "拒绝" in page

    for question in ("   ", "问" * 301):
        bad = client.post(f"/admin/assistant/suggestions/{ids[0]}",
                          data={"csrf": csrf, "decision": "accept", "question": question, "answer": "好"})  # fmt: skip
        assert bad.status_code == 422 and "title" in bad.text and _faq_drafts(db, world) == []

    accepted = client.post(
        f"/admin/assistant/suggestions/{ids[0]}",
        data={
            "csrf": csrf,
            "decision": "accept",
            "question": "能开增值税专用发票吗",
            "answer": "可以，在订单详情页申请。",
        },
        follow_redirects=True,
    )
    assert accepted.status_code == 200 and "已采纳" in accepted.text
    assert [(d.title, d.body) for d in _faq_drafts(db, world)] == [("能开增值税专用发票吗", "可以，在订单详情页申请。")]

    rejected = client.post(f"/admin/assistant/suggestions/{ids[1]}", data={"csrf": csrf, "decision": "reject"},
                           follow_redirects=True)  # fmt: skip
    assert rejected.status_code == 200 and "你们卖火箭吗" not in rejected.text and "能开专票吗" not in rejected.text
    assert len(_faq_drafts(db, world)) == 1
    twice = client.post(f"/admin/assistant/suggestions/{ids[1]}", data={"csrf": csrf, "decision": "accept"})
    assert twice.status_code == 409 and len(_faq_drafts(db, world)) == 1
    with db.tenant_read(world.tenant_id) as s:
        assert dict(s.execute(select(FaqSuggestion.question, FaqSuggestion.status)).all()) == {
            "能开专票吗": "accepted", "你们卖火箭吗": "rejected"}  # fmt: skip
