"""Knowledge gaps: unanswered questions grouped so that one missing FAQ entry shows as one line with a count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.bot.models import UnansweredQuestion

_SIMILAR = 0.6
_LIMIT = 5000


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(max(len(compact) - 1, 1))}


def knowledge_gaps(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Greedy grouping by character-bigram Jaccard similarity; biggest groups first."""
    rows = session.execute(
        select(UnansweredQuestion.text, UnansweredQuestion.normalized, UnansweredQuestion.language,
               UnansweredQuestion.reason, UnansweredQuestion.created_at)
        .where(UnansweredQuestion.created_at >= since)
        .order_by(UnansweredQuestion.created_at.desc())
        .limit(_LIMIT)
    ).all()  # fmt: skip
    groups: list[dict[str, Any]] = []
    for text, normalized, language, reason, created_at in rows:
        grams = _bigrams(normalized)
        for group in groups:
            if (
                group["language"] == language
                and len(grams & group["_grams"]) / max(len(grams | group["_grams"]), 1) >= _SIMILAR
            ):
                group["count"] += 1
                group["reasons"].add(reason)
                break
        else:
            groups.append({"text": text, "_grams": grams, "count": 1, "language": language,
                           "last_seen": created_at, "reasons": {reason}})  # fmt: skip
    groups.sort(key=lambda g: (-g["count"], g["last_seen"]), reverse=False)
    return [{**{k: v for k, v in g.items() if k != "_grams"}, "reasons": sorted(g["reasons"])} for g in groups]
