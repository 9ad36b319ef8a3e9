"""An admin runs the assistant from its console in a real browser, in Chinese and in English: changes the urgent
words (a bad threshold is refused in the form first), starts training and watches its progress until the new
version answers (the old one serving meanwhile), and accepts a knowledge gap as a draft FAQ entry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from omnidesk.bot import actions
from omnidesk.bot import jobs as bot_jobs
from omnidesk.bot.models import IntentModel, UnansweredQuestion
from omnidesk.bot.nlu import normalize
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.events.bus import MemoryBus
from omnidesk.knowledge.models import KbArticle
from omnidesk.security.permissions import Role
from omnidesk.web.app import create_app
from tests.assistant.conftest import BotWorld
from tests.conftest import serve_in_thread
from tests.factories import browser_sign_in

pytestmark = pytest.mark.browser

WORDS = {
    "zh-CN": {"save": "保存设置", "saved": "已保存为设置版本", "urgent": "紧急词", "answer_th": "不低于此值时直接回答",
              "clarify_th": "不低于此值时给出选项", "train": "训练新模型", "now": "就绪后立即启用", "ready": "已就绪",
              "serving": "继续应答", "training": "训练中", "queued": "等待任务队列", "live": "现在由版本", "accept": "采纳", "accepted": "已采纳", "answer": "答案",
              "gap": "快递能送到南极吗", "reply": "很抱歉，南极暂不在配送范围内。", "word": "律师函"},
    "en": {"save": "Save settings", "saved": "Saved as settings version", "urgent": "Urgent words",
           "answer_th": "Answer directly at or above", "clarify_th": "Offer choices at or above",
           "train": "Train a new model", "now": "Activate as soon as it is ready", "ready": "ready",
           "serving": "keeps answering", "training": "training", "queued": "waiting for the job queue", "live": "is answering now", "accept": "Accept", "accepted": "Accepted", "answer": "Answer",
           "gap": "Do you deliver to Antarctica?", "reply": "Sorry, we do not deliver to Antarctica yet.",
           "word": "solicitor"},
}  # fmt: skip


def _gap(db: Database, tenant_id: Any, text: str, language: str) -> None:
    with db.tenant_transaction(tenant_id) as s:
        for _ in range(2):
            s.add(UnansweredQuestion(tenant_id=tenant_id, text=text, normalized=normalize(text), language=language,
                                     reason="low_confidence", confidence=0.1))  # fmt: skip


@dataclass
class QueuedServer:
    url: str
    app: FastAPI
    db: Database


@pytest.fixture
def queued_server(settings: Settings, database_url: str, tmp_path: Path) -> Iterator[QueuedServer]:
    """The app with a Database of its own whose jobs wait in the queue (the suite's shared one runs them in the
    committing thread, which would hide the progress); the test runs the training job itself while the page polls
    (the queue's own runner is tested in tests/jobs)."""
    own_db = Database(database_url, bus=MemoryBus())
    conf = settings.model_copy(
        update={"jobs_immediate": False, "run_jobs_in_process": False, "redis_url": None, "data_dir": tmp_path}
    )
    app = create_app(conf, db=own_db, bus=own_db.bus)
    try:
        with serve_in_thread(app) as url:
            yield QueuedServer(url, app, own_db)
    finally:
        own_db.dispose()


def test_the_admin_tunes_trains_and_reviews_in_both_languages(
    browser: Any,
    queued_server: QueuedServer,
    bot_world: BotWorld,
    db: Database,
    artifacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = bot_world.world
    base = queued_server.url
    gather = actions.training_data

    def slow_training_data(session: Any) -> Any:
        time.sleep(2.5)  # the small FAQ trains in about a second: long enough to watch the progress
        return gather(session)

    monkeypatch.setattr(actions, "training_data", slow_training_data)
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, base, world, Role.ADMIN)
    for lang in ("zh-CN", "en"):
        w = WORDS[lang]
        context.add_cookies([{"name": "omnidesk_lang", "value": lang, "url": base}])
        _gap(db, world.tenant_id, w["gap"], lang)
        page.goto(f"{base}/admin/assistant")

        # settings: a clarify threshold above the answer threshold is refused, the words typed stay in the form
        urgent = page.get_by_label(w["urgent"], exact=True)
        urgent.fill(urgent.input_value() + "\n" + w["word"])
        page.get_by_label(w["clarify_th"]).fill("0.9")
        page.get_by_label(w["answer_th"]).fill("0.5")
        page.get_by_role("button", name=w["save"]).click()
        alert = page.locator("#settings [role=alert]")
        assert "clarify must not be above answer" in alert.inner_text()
        assert w["word"] in page.get_by_label(w["urgent"], exact=True).input_value()
        page.get_by_label(w["answer_th"]).fill("0.8")
        page.get_by_label(w["clarify_th"]).fill("0.4")
        page.get_by_role("button", name=w["save"]).click()
        page.locator("#settings [role=status]").wait_for()
        assert w["saved"] in page.locator("#settings [role=status]").inner_text()
        assert w["word"] in page.get_by_label(w["urgent"], exact=True).input_value().splitlines()

        # training: the progress shows while the old version keeps answering, then the new one is active
        with db.tenant_read(world.tenant_id) as s:
            serving = s.scalar(select(IntentModel.version).where(IntentModel.active.is_(True)))
        assert serving is not None
        page.get_by_label(w["now"]).check()
        page.get_by_role("button", name=w["train"]).click()
        queued = page.locator('#training[data-stage="queued"]')
        queued.wait_for()
        new = int(queued.get_attribute("data-version") or 0)
        assert new == serving + 1 and w["queued"] in page.locator("#training-text").inner_text()
        with db.tenant_read(world.tenant_id) as s:
            model_id = s.scalar(select(IntentModel.id).where(IntentModel.version == new))
        assert model_id is not None
        job = threading.Thread(  # the bot.train job, as a worker of the queue runs it
            target=bot_jobs.claim_and_train,
            args=(queued_server.db, world.tenant_id, model_id, queued_server.app.state.brains),
        )
        job.start()
        progress = page.locator('#training[data-stage="training"]')
        progress.wait_for(timeout=15_000)  # the page polls the job's stage
        assert w["training"] in page.locator("#training-text").inner_text()
        serving_text = page.locator("#training-serving").inner_text()
        assert w["serving"] in serving_text and str(serving) in serving_text
        page.screenshot(path=str(artifacts_dir / f"assistant-console-training-{lang}.png"), full_page=True)
        job.join(timeout=90)
        page.locator('#training[data-stage="ready"]').wait_for(timeout=30_000)  # the page polls, then reloads
        assert w["ready"] in page.locator("#training-text").inner_text()
        assert w["live"] in page.locator("#training-serving").inner_text()
        page.locator(f'table.models tr[data-version="{new}"][data-active="1"]').wait_for()

        # review: answer the gap and accept it; it leaves the list and one draft FAQ entry exists
        item = page.locator("li.gap", has_text=w["gap"])
        item.get_by_label(w["answer"]).fill(w["reply"])
        item.get_by_role("button", name=w["accept"]).click()
        page.locator("#review [role=status]").wait_for()
        assert w["accepted"] in page.locator("#review [role=status]").inner_text()
        assert page.locator("li.gap", has_text=w["gap"]).count() == 0
        with db.tenant_read(world.tenant_id) as s:
            drafts = list(s.scalars(select(KbArticle.body).where(KbArticle.title == w["gap"])))
        assert drafts == [w["reply"]]
        page.screenshot(path=str(artifacts_dir / f"assistant-console-review-{lang}.png"), full_page=True)
    context.close()
