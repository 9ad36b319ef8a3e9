"""Quality inspection in a real browser: the inspector signs in, filters the low scores, opens one, sees the
greeting criterion's evidence highlighted in the transcript, and overrides it with a reason (an empty reason is
refused by the form). An agent typing a card number in the composer is warned before sending."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations import actions as conversations
from omnidesk.conversations.schemas import ConversationCreate, ConversationUpdate, SenderType
from omnidesk.conversations.states import Status
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.quality import actions, scoring
from omnidesk.quality.models import QaScore
from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in

pytestmark = pytest.mark.browser


def seed_scores(db: Database, world: World) -> dict[str, uuid.UUID]:
    """Two resolved conversations of the agent: one without a greeting (low score), one exemplary."""
    system = system_actor(world.tenant_id)
    agent = world.staff[Role.AGENT]
    ids: dict[str, uuid.UUID] = {}
    with db.tenant_transaction(world.tenant_id) as s:
        actions.do_create_scorecard(s, system, "默认质检", actions.validate_criteria(scoring.default_criteria()))
    for name, reply in (
        ("rude", "订单号多少？"),
        ("good", "您好，很抱歉让您久等，已为您催促快递，明天送达。还有其他问题吗？"),
    ):
        with db.tenant_transaction(world.tenant_id) as s:
            conversation = conversations.open_conversation(
                s, system, ConversationCreate(customer_id=world.customer.id, channel="web", subject=f"QA {name}",
                                              message="我的快递还没到，太慢了")
            )  # fmt: skip
            conversations.do_post_message(s, world.actor(Role.AGENT), conversation, body=reply,
                                          sender_type=SenderType.AGENT, sender_id=agent.id)  # fmt: skip
            s.flush()
            conversations.update_conversation(
                s, system, conversation.id, ConversationUpdate(assignee_id=agent.id, status=Status.RESOLVED)
            )
            ids[name] = conversation.id
        with db.tenant_transaction(world.tenant_id) as s:
            actions.do_score_conversations(s, system, [conversation.id])  # a no-op when the queue already did
    return ids


def test_inspector_filters_opens_and_overrides(
    browser: Any, live_server: str, db: Database, world: World, artifacts_dir: Path
) -> None:
    ids = seed_scores(db, world)
    with db.tenant_read(world.tenant_id) as s:
        low = s.scalar(select(QaScore).where(QaScore.conversation_id == ids["rude"]))
        assert low is not None
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        browser_sign_in(page, live_server, world, Role.QUALITY_INSPECTOR)
        page.get_by_role("link", name="质检", exact=True).first.click()
        page.wait_for_url(f"{live_server}/qa")
        assert page.locator("tr[data-score]").count() == 2
        page.get_by_label("最高分").fill(str(int(low.percent) + 1))
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url("**/qa?*")
        rows = page.locator("tr[data-score]")
        assert rows.count() == 1 and rows.first.get_attribute("data-score") == str(low.id)
        rows.first.get_by_role("link", name="打开").click()
        page.wait_for_url(f"{live_server}/qa/scores/{low.id}")
        greeting = page.locator('tr[data-criterion="greeting"]')
        assert greeting.locator("[data-answer]").inner_text() == "未通过"
        mark = page.locator('mark[data-evidence~="greeting"]')
        assert mark.inner_text() == "订单号多少？"
        assert "问候" in greeting.inner_text()  # the suggestion
        page.screenshot(path=str(artifacts_dir / "qa-score.png"), full_page=True)
        greeting.locator("select").select_option("pass")
        greeting.get_by_label("理由（必填）").fill("电话里已问候")
        greeting.get_by_role("button", name="改判").click()
        page.wait_for_url("**done=overridden")
        assert page.get_by_role("status").first.inner_text() == "改判已保存并记入审计日志。"
        greeting = page.locator('tr[data-criterion="greeting"]')
        assert greeting.locator("[data-answer]").inner_text() == "通过"
        assert "电话里已问候" in greeting.inner_text()
        assert float(page.locator("[data-percent]").inner_text()) > low.percent
    finally:
        context.close()
    with db.tenant_read(world.tenant_id) as s:
        record = s.scalar(select(AuditRecord).where(AuditRecord.action == "quality.override",
                                                    AuditRecord.target_id == str(low.id)))  # fmt: skip
        assert record is not None and record.actor_id == world.staff[Role.QUALITY_INSPECTOR].id


def test_composer_warns_about_a_card_number(browser: Any, live_server: str, db: Database, world: World) -> None:
    with db.tenant_transaction(world.tenant_id) as s:
        actions.set_send_policy(s, world.actor(Role.SUPERVISOR), "block", ["爱买不买"], ["card", "id_card"])
        conversations.update_conversation(
            s, system_actor(world.tenant_id), world.conversation.id,
            ConversationUpdate(assignee_id=world.staff[Role.AGENT].id),
        )  # fmt: skip
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        browser_sign_in(page, live_server, world, Role.AGENT)
        page.goto(f"{live_server}/inbox?c={world.conversation.id}")
        warn = page.locator("#sensitive-warn")
        assert warn.is_hidden()
        page.locator("#reply-body").fill("卡号 4111 1111 1111 1111")
        warn.wait_for(state="visible")
        assert "银行卡号" in warn.inner_text()
        page.locator("#reply-body").fill("好的")
        warn.wait_for(state="hidden")
        # the server refuses it even without the hint
        page.locator("#reply-body").fill("4111111111111111")
        page.locator("#send-reply").click()
        page.get_by_text("银行卡号").first.wait_for()
    finally:
        context.close()
