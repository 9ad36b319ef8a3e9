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


def knowledge_gaps(session: Session, since: datetime, *, with_ids: bool = False) -> list[dict[str, Any]]:
    """Greedy grouping by character-bigram Jaccard similarity; biggest groups first. Questions someone already
    accepted or rejected on the console are left out. ``with_ids`` adds each group's question ids ("ids")."""
    rows = session.execute(
        select(UnansweredQuestion.text, UnansweredQuestion.normalized, UnansweredQuestion.language,
               UnansweredQuestion.reason, UnansweredQuestion.created_at, UnansweredQuestion.id)
        .where(UnansweredQuestion.created_at >= since, UnansweredQuestion.resolution == "")
        .order_by(UnansweredQuestion.created_at.desc())
        .limit(_LIMIT)
    ).all()  # fmt: skip
    groups: list[dict[str, Any]] = []
    for text, normalized, language, reason, created_at, row_id in rows:
        grams = _bigrams(normalized)
        for group in groups:
            if (
                group["language"] == language
                and len(grams & group["_grams"]) / max(len(grams | group["_grams"]), 1) >= _SIMILAR
            ):
                group["count"] += 1
                group["reasons"].add(reason)
                group["ids"].append(row_id)
                break
        else:
            groups.append({"text": text, "_grams": grams, "count": 1, "language": language,
                           "last_seen": created_at, "reasons": {reason}, "ids": [row_id]})  # fmt: skip
    groups.sort(key=lambda g: (-g["count"], g["last_seen"]), reverse=False)
    hidden = {"_grams"} if with_ids else {"_grams", "ids"}
    return [{**{k: v for k, v in g.items() if k not in hidden}, "reasons": sorted(g["reasons"])} for g in groups]
