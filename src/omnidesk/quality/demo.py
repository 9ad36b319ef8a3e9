"""The demo tenant's quality set-up: the default scorecard (with Skylark's risk disclosure as a required phrase)
and a sensitive-phrase policy that blocks card and ID numbers. Called by ``demo.seed`` before the seeded
conversations are resolved, so their scores are queued with the scorecard in place."""

from __future__ import annotations

from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.quality import actions, queries, scoring
from omnidesk.quality.models import SendPolicy

FORBIDDEN = ["不归我管", "爱买不买", "你自己看", "not my problem", "whatever"]


def seed_quality(session: Session, system: Actor) -> None:
    """Idempotent: a tenant that has a scorecard keeps it."""
    if queries.active_scorecard(session) is not None:
        return
    criteria = scoring.default_criteria()
    for item in criteria:
        if item["kind"] == "forbidden_phrases":
            item["phrases"] = sorted({*item["phrases"], *FORBIDDEN})
    actions.do_create_scorecard(session, system, "默认质检 Default QA", actions.validate_criteria(criteria))
    if queries.send_policy(session) is None:
        session.add(
            SendPolicy(tenant_id=system.tenant_id, mode="block", phrases=FORBIDDEN, patterns=["card", "id_card"])
        )
