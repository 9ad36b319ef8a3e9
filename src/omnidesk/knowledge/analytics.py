"""Self-service analytics: views, helpful rate, deflection and searches that found nothing.

Deflection counts help-center sessions (a random first-party cookie) that viewed or searched and never clicked
"contact us"; it is a lower bound on self-service resolution, since a customer may leave unsatisfied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.knowledge.models import KbArticle, KbEvent
from omnidesk.security.permissions import Perm


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summary(session: Session, actor: Actor, since: datetime) -> dict[str, Any]:
    actor.require(Perm.KNOWLEDGE_ANALYTICS)
    recent = KbEvent.created_at >= since
    counts: dict[Any, Any] = dict(
        session.execute(select(KbEvent.kind, func.count()).where(recent).group_by(KbEvent.kind)).all()
    )
    failed = session.scalar(
        select(func.count()).select_from(KbEvent).where(recent, KbEvent.kind == "search", KbEvent.result_count == 0)
    )
    votes: dict[Any, Any] = dict(
        session.execute(
            select(KbEvent.helpful, func.count()).where(recent, KbEvent.kind == "feedback").group_by(KbEvent.helpful)
        ).all()
    )
    in_session = recent & (KbEvent.session_key != "")
    sessions = session.scalar(select(func.count(func.distinct(KbEvent.session_key))).where(in_session)) or 0
    contacted = (
        session.scalar(
            select(func.count(func.distinct(KbEvent.session_key))).where(in_session, KbEvent.kind == "contact")
        )
        or 0
    )
    top = session.execute(
        select(KbEvent.article_id, KbArticle.title, func.count().label("n"))
        .join(KbArticle, KbArticle.id == KbEvent.article_id)
        .where(recent, KbEvent.kind == "view")
        .group_by(KbEvent.article_id, KbArticle.title)
        .order_by(func.count().desc())
        .limit(10)
    ).all()
    gaps = session.execute(
        select(KbEvent.query, func.count().label("n"))
        .where(recent, KbEvent.kind == "search", KbEvent.result_count == 0)
        .group_by(KbEvent.query)
        .order_by(func.count().desc())
        .limit(20)
    ).all()
    yes, no = int(votes.get(True, 0)), int(votes.get(False, 0))
    return {
        "since": since,
        "views": int(counts.get("view", 0)),
        "searches": int(counts.get("search", 0)),
        "searches_without_result": int(failed or 0),
        "helpful_yes": yes,
        "helpful_no": no,
        "helpful_rate": rate(yes, yes + no),
        "sessions": int(sessions),
        "sessions_contacted": int(contacted),
        "deflection_rate": rate(int(sessions) - int(contacted), int(sessions)),
        "top_articles": [{"article_id": str(r[0]), "title": r[1], "views": int(r[2])} for r in top],
        "top_failed_searches": [{"query": r[0], "count": int(r[1])} for r in gaps],
    }


def popular_article_ids(session: Session, since: datetime, limit: int = 8) -> list[Any]:
    rows = session.execute(
        select(KbEvent.article_id, func.count().label("n"))
        .where(KbEvent.created_at >= since, KbEvent.kind == "view", KbEvent.article_id.is_not(None))
        .group_by(KbEvent.article_id)
        .order_by(func.count().desc())
        .limit(limit * 3)
    ).all()
    return [r[0] for r in rows]
