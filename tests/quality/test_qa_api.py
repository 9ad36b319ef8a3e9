"""Quality inspection through the real API and actions: closing scores (via the job queue), overrides audited,
appeals decided by a second inspector, sensitive-phrase interception, calibration, tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations.models import Message
from omnidesk.core.db import Database
from omnidesk.core.errors import PermissionDenied
from omnidesk.jobs.models import Job, JobState
from omnidesk.quality import actions, scoring
from omnidesk.quality.models import QaScore
from omnidesk.security.permissions import Role
from tests.factories import World


def _scorecard(client: TestClient, world: World) -> dict[str, Any]:
    response = client.post(
        "/api/v1/qa/scorecards",
        json={"name": "默认质检", "criteria": scoring.default_criteria()},
        headers=world.headers(Role.SUPERVISOR),
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _close_with_reply(client: TestClient, world: World, body: str = "订单号多少？已为您查询，明天送达。") -> str:
    cid = str(world.conversation.id)
    agent_id = str(world.staff[Role.AGENT].id)
    r = client.patch(f"/api/v1/conversations/{cid}", json={"assignee_id": agent_id}, headers=world.headers())
    assert r.status_code == 200, r.text
    # API keys are not staff: the supervisor's key writes for the assigned agent (the score is the assignee's)
    r = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": body}, headers=world.headers(Role.SUPERVISOR)
    )
    assert r.status_code == 201, r.text
    r = client.patch(
        f"/api/v1/conversations/{cid}", json={"status": "resolved"}, headers=world.headers(Role.SUPERVISOR)
    )
    assert r.status_code == 200, r.text
    return cid


def _auto_score(client: TestClient, world: World) -> dict[str, Any]:
    scores = client.get("/api/v1/qa/scores", headers=world.headers(Role.QUALITY_INSPECTOR)).json()
    assert len(scores) == 1, scores
    score: dict[str, Any] = scores[0]
    return score


def test_closing_through_the_api_queues_and_runs_the_score(client: TestClient, db: Database, world: World) -> None:
    card = _scorecard(client, world)
    cid = _close_with_reply(client, world)
    with db.tenant_read(world.tenant_id) as s:
        job = s.scalar(select(Job).where(Job.kind == actions.SCORE_JOB))
        assert job is not None and job.state == JobState.DONE and job.payload == {"conversation_id": cid}
    score = _auto_score(client, world)
    assert score["conversation_id"] == cid
    assert score["scorecard_id"] == card["id"] and score["scorecard_version"] == 1
    assert score["agent_id"] == str(world.staff[Role.AGENT].id)
    answers = {a["key"]: a for a in score["answers"]}
    greeting = answers["greeting"]
    assert greeting["answer"] == "fail"  # the agent never greeted (the assistant's greeting is not the agent's)
    (evidence,) = greeting["evidence"]
    with db.tenant_read(world.tenant_id) as s:
        message = s.get(Message, uuid.UUID(evidence["message_id"]))
        assert message is not None and message.sender_type == "agent"
        assert message.body[evidence["start"] : evidence["end"]] == message.body
    assert greeting["suggestion"]["zh-CN"] and greeting["suggestion"]["en"]
    assert 0 < score["percent"] < 100
    # idempotent per (conversation, scorecard version): a redelivered job scores nothing twice
    with db.tenant_transaction(world.tenant_id) as s:
        assert actions.do_score_conversations(s, world.actor(), [uuid.UUID(cid)]) == []
        assert s.scalar(select(func.count()).select_from(QaScore)) == 1
    # an agent's API key is no staff member: it sees no score (agents see their own when signed in)
    mine = client.get("/api/v1/qa/scores", headers=world.headers(Role.AGENT))
    assert mine.status_code == 200 and mine.json() == []


def test_editing_a_scorecard_makes_a_new_version_and_old_scores_keep_theirs(
    client: TestClient, db: Database, world: World
) -> None:
    card = _scorecard(client, world)
    _close_with_reply(client, world)
    criteria = card["criteria"]
    criteria[0]["weight"] = 40
    edited = client.put(f"/api/v1/qa/scorecards/{card['id']}", json={"criteria": criteria},
                        headers=world.headers(Role.SUPERVISOR))  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2 and edited.json()["family"] == card["family"]
    versions = client.get("/api/v1/qa/scorecards", headers=world.headers(Role.QUALITY_INSPECTOR)).json()
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    assert _auto_score(client, world)["scorecard_version"] == 1
    # inspectors may not edit scorecards
    refused = client.post("/api/v1/qa/scorecards", json={"criteria": criteria},
                          headers=world.headers(Role.QUALITY_INSPECTOR))  # fmt: skip
    assert refused.status_code == 403
    bad = client.post("/api/v1/qa/scorecards", json={"criteria": [{"kind": "telepathy", "weight": 1}]},
                      headers=world.headers(Role.SUPERVISOR))  # fmt: skip
    assert bad.status_code == 422 and "telepathy" in bad.json()["detail"]


def test_override_needs_a_reason_and_is_audited(client: TestClient, db: Database, world: World) -> None:
    _scorecard(client, world)
    _close_with_reply(client, world)
    score = _auto_score(client, world)
    url = f"/api/v1/qa/scores/{score['id']}/override"
    headers = world.headers(Role.QUALITY_INSPECTOR)
    missing = client.post(url, json={"criterion": "greeting", "answer": "pass", "reason": "  "}, headers=headers)
    assert missing.status_code == 422 and missing.json()["errors"][0]["type"] == "reason_required"
    done = client.post(
        url, json={"criterion": "greeting", "answer": "pass", "reason": "问候在语音里说了"}, headers=headers
    )
    assert done.status_code == 200, done.text
    after = done.json()
    assert after["percent"] > score["percent"] and after["overridden"]
    greeting = next(a for a in after["answers"] if a["key"] == "greeting")
    assert greeting["answer"] == "pass" and greeting["auto_answer"] == "fail"
    with db.tenant_read(world.tenant_id) as s:
        record = s.scalar(select(AuditRecord).where(AuditRecord.action == "quality.override"))
        assert record is not None
        assert record.changes["reason"] == "问候在语音里说了" and record.changes["answer"] == ["fail", "pass"]
    # agents cannot override
    agent = client.post(url, json={"criterion": "greeting", "answer": "fail", "reason": "x"},
                        headers=world.headers(Role.AGENT))  # fmt: skip
    assert agent.status_code == 403


def test_appeal_is_decided_by_a_second_inspector(client: TestClient, db: Database, world: World) -> None:
    _scorecard(client, world)
    _close_with_reply(client, world)
    score_id = uuid.UUID(_auto_score(client, world)["id"])
    supervisor, inspector, agent = (
        world.actor(Role.SUPERVISOR),
        world.actor(Role.QUALITY_INSPECTOR),
        world.actor(Role.AGENT),
    )
    with db.tenant_transaction(world.tenant_id) as s:
        actions.override(s, supervisor, score_id, "closing", "fail", "没有道别")
    with db.tenant_transaction(world.tenant_id) as s:
        try:
            actions.appeal(s, world.actor(Role.ADMIN), score_id, "not mine")
            raise AssertionError("only the scored agent may appeal")
        except PermissionDenied:
            pass
    with db.tenant_transaction(world.tenant_id) as s:
        appeal_id = actions.appeal(s, agent, score_id, "我说了“祝您生活愉快”", "closing").id
    with db.tenant_transaction(world.tenant_id) as s:
        try:
            actions.decide_appeal(s, supervisor, appeal_id, True, "ok")
            raise AssertionError("whoever overrode the score may not decide its appeal")
        except PermissionDenied:
            pass
    with db.tenant_transaction(world.tenant_id) as s:
        decided = actions.decide_appeal(s, inspector, appeal_id, True, "录音确认已道别")
        assert decided.state == "upheld"
    with db.tenant_read(world.tenant_id) as s:
        score = s.get(QaScore, score_id)
        assert score is not None and score.appeal_state == "upheld"
        closing = next(a for a in score.answers if a["key"] == "closing")
        assert closing["answer"] == "pass" and "appeal upheld" in closing["override"]["reason"]
        trail = list(s.scalars(select(AuditRecord.action).where(AuditRecord.target_id == str(score_id))))
        assert {"quality.appeal", "quality.appeal_decide", "quality.override"} <= set(trail)
    # nominate excellent work; a supervisor marks it as training material
    with db.tenant_transaction(world.tenant_id) as s:
        nomination = actions.nominate(s, agent, world.conversation.id, "客户表扬了")
    marked = client.post(f"/api/v1/qa/nominations/{nomination.id}/training", json={"training": True},
                         headers=world.headers(Role.SUPERVISOR))  # fmt: skip
    assert marked.status_code == 200 and marked.json()["training"] is True
    refused = client.post(f"/api/v1/qa/nominations/{nomination.id}/training", json={"training": False},
                          headers=world.headers(Role.QUALITY_INSPECTOR))  # fmt: skip
    assert refused.status_code == 403


def test_interception_blocks_a_card_number_and_masks_per_policy(client: TestClient, db: Database, world: World) -> None:
    cid = str(world.conversation.id)
    policy = client.put("/api/v1/qa/send-policy", json={"mode": "block", "phrases": ["爱买不买"], "patterns": ["card"]},
                        headers=world.headers(Role.SUPERVISOR))  # fmt: skip
    assert policy.status_code == 200, policy.text

    def count() -> int:
        with db.tenant_read(world.tenant_id) as s:
            return int(s.scalar(select(func.count()).select_from(Message).where(Message.sender_type == "agent")) or 0)

    before = count()
    url = f"/api/v1/conversations/{cid}/messages"
    agent = world.headers(Role.SUPERVISOR)  # an API key that can write to every conversation
    blocked = client.post(url, json={"body": "请转账到 4111 1111 1111 1111"}, headers=agent)
    assert blocked.status_code == 422
    assert "bank card number" in blocked.json()["detail"] or "银行卡号" in blocked.json()["detail"]
    assert blocked.json()["errors"][0]["type"] == "sensitive_card"
    phrase = client.post(url, json={"body": "爱买不买"}, headers=agent)
    assert phrase.status_code == 422
    assert count() == before  # nothing stored
    assert client.post(url, json={"body": "订单号 1234567890123"}, headers=agent).status_code == 201
    # notes are internal, not words to the customer
    assert client.post(f"/api/v1/conversations/{cid}/notes", json={"body": "卡 4111111111111111"},
                       headers=agent).status_code == 201  # fmt: skip
    client.put("/api/v1/qa/send-policy", json={"mode": "mask", "phrases": [], "patterns": ["card", "id_card"]},
               headers=world.headers(Role.SUPERVISOR))  # fmt: skip
    masked = client.post(url, json={"body": "卡号 4111111111111111"}, headers=agent)
    assert masked.status_code == 201 and masked.json()["body"] == "卡号 ************1111"


def test_calibration_reports_alpha_per_criterion(client: TestClient, db: Database, world: World) -> None:
    _scorecard(client, world)
    cid = _close_with_reply(client, world)
    for role in (Role.QUALITY_INSPECTOR, Role.SUPERVISOR):
        with db.tenant_transaction(world.tenant_id) as s:
            actions.submit_review(s, world.actor(role), uuid.UUID(cid), {"greeting": "fail", "closing": "pass"})
    report = client.get("/api/v1/qa/calibration", headers=world.headers(Role.QUALITY_INSPECTOR))
    assert report.status_code == 200, report.text
    data = report.json()
    assert data["conversations"] == 1
    assert {row["key"] for row in data["criteria"]} >= {"greeting", "closing"}
    assert all(row["raters"] == 2 for row in data["criteria"])
    review = client.post(f"/api/v1/qa/conversations/{cid}/reviews", json={"answers": {"greeting": "pass"}},
                         headers=world.headers(Role.QUALITY_INSPECTOR))  # fmt: skip
    assert review.status_code == 200 and review.json()["scorer"] != "auto"


def test_no_quality_route_crosses_tenants(client: TestClient, world: World, other_world: World) -> None:
    """The quality routes with their own ids (scorecard_id, score_id, appeal_id, nomination_id): another tenant
    gets 404 exactly as for ids that never existed."""
    card = _scorecard(client, world)
    _close_with_reply(client, world)
    score = _auto_score(client, world)
    intruder = other_world.headers(Role.ADMIN)
    fake = str(uuid.uuid4())
    for scorecard_id in (card["id"], fake):
        r = client.put(f"/api/v1/qa/scorecards/{scorecard_id}", json={"criteria": card["criteria"]}, headers=intruder)
        assert r.status_code == 404 and r.json()["detail"].startswith("no ")
    for score_id in (score["id"], fake):
        assert client.get(f"/api/v1/qa/scores/{score_id}", headers=intruder).status_code == 404
        r = client.post(f"/api/v1/qa/scores/{score_id}/override",
                        json={"criterion": "greeting", "answer": "pass", "reason": "x"}, headers=intruder)  # fmt: skip
        assert r.status_code == 404 and r.json()["detail"].startswith("no ")
        r = client.post(f"/api/v1/qa/scores/{score_id}/appeals", json={"reason": "x"}, headers=intruder)
        assert r.status_code == 404
    for appeal_id in (fake,):
        r = client.post(
            f"/api/v1/qa/appeals/{appeal_id}/decision", json={"uphold": True, "note": "x"}, headers=intruder
        )
        assert r.status_code == 404 and r.json()["detail"].startswith("no ")
    r = client.post(f"/api/v1/qa/nominations/{fake}/training", json={"training": True}, headers=intruder)
    assert r.status_code == 404 and r.json()["detail"].startswith("no ")
    assert client.get("/api/v1/qa/scores", headers=intruder).json() == []
