"""The quality pages as a signed-in person: the scorecard settings (default, then a new version), the agent's own
score with an appeal, the inspector deciding it, and who may open what."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.core.db import Database
from omnidesk.quality.models import QaAppeal, QaScore, Scorecard
from omnidesk.security.permissions import Role
from tests.factories import World, session_csrf, sign_in
from tests.quality.test_qa_review_browser import seed_scores


def test_scorecard_settings_create_the_default_then_a_new_version(
    client: TestClient, db: Database, world: World
) -> None:
    sign_in(client, world, Role.SUPERVISOR)
    page = client.get("/settings/scorecards")
    assert page.status_code == 200 and "创建默认评分表" in page.text
    csrf = session_csrf(client)
    assert client.post("/settings/scorecards", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    page = client.get("/settings/scorecards")
    assert 'name="weight_greeting"' in page.text and "v1" in page.text
    saved = client.post("/settings/scorecards", data={"csrf": csrf, "weight_greeting": "30",
                                                      "phrases_required_phrases": "投资有风险\n"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    with db.tenant_read(world.tenant_id) as s:
        versions = {c.version: c for c in s.scalars(select(Scorecard))}
    assert set(versions) == {1, 2} and versions[2].active and not versions[1].active
    greeting = next(c for c in versions[2].criteria if c["key"] == "greeting")
    required = next(c for c in versions[2].criteria if c["key"] == "required_phrases")
    assert greeting["weight"] == 30 and required["phrases"] == ["投资有风险"]
    policy = client.post("/settings/scorecards/policy",
                         data={"csrf": csrf, "mode": "mask", "phrases": "爱买不买", "patterns": ["card"]},
                         follow_redirects=False)  # fmt: skip
    assert policy.status_code == 303
    # inspectors review but do not manage scorecards
    client.post("/logout", data={"csrf": csrf})
    sign_in(client, world, Role.QUALITY_INSPECTOR)
    assert client.get("/settings/scorecards").status_code == 403
    assert client.get("/qa").status_code == 200
    assert client.get("/qa/calibration").status_code == 200


def test_agent_appeals_their_score_and_an_inspector_decides(client: TestClient, db: Database, world: World) -> None:
    ids = seed_scores(db, world)
    with db.tenant_read(world.tenant_id) as s:
        score = s.scalar(select(QaScore).where(QaScore.conversation_id == ids["rude"]))
        assert score is not None
    sign_in(client, world, Role.AGENT)
    listing = client.get("/qa")
    assert listing.status_code == 200 and str(score.id) in listing.text
    page = client.get(f"/qa/scores/{score.id}")
    assert page.status_code == 200 and "对评分提出申诉" in page.text and "改判" not in page.text
    csrf = session_csrf(client)
    empty = client.post(f"/qa/scores/{score.id}/appeal", data={"csrf": csrf, "reason": " "})
    assert empty.status_code == 422
    sent = client.post(f"/qa/scores/{score.id}/appeal", data={"csrf": csrf, "reason": "我问候过了", "criterion": "greeting"},
                       follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    nominated = client.post(f"/qa/scores/{score.id}/nominate", data={"csrf": csrf, "note": "客户表扬"},
                            follow_redirects=False)  # fmt: skip
    assert nominated.status_code == 303
    client.post("/logout", data={"csrf": csrf})
    sign_in(client, world, Role.QUALITY_INSPECTOR)
    with db.tenant_read(world.tenant_id) as s:
        appeal = s.scalar(select(QaAppeal).where(QaAppeal.score_id == score.id))
        assert appeal is not None and appeal.state == "open"
    assert str(score.id) in client.get("/qa?appeals=1").text
    csrf = session_csrf(client)
    decided = client.post(f"/qa/scores/{score.id}/appeals/{appeal.id}/decide",
                          data={"csrf": csrf, "decision": "uphold", "note": "录音里有问候"}, follow_redirects=False)  # fmt: skip
    assert decided.status_code == 303
    page = client.get(f"/qa/scores/{score.id}?done=decided")
    assert "申诉已裁定。" in page.text and "申诉成立" in page.text
    with db.tenant_read(world.tenant_id) as s:
        after = s.get(QaScore, score.id)
        assert after is not None and after.percent > score.percent
