"""Demo knowledge for Skylark Mall (云雀优选), seeded through the same actions a knowledge manager uses."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from importlib import resources
from typing import Any

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database, utcnow
from omnidesk.knowledge import actions
from omnidesk.knowledge.schemas import ArticleCreate, CategoryCreate
from omnidesk.knowledge.states import ArticleStatus, Kind, Visibility


def knowledge_data() -> dict[str, Any]:
    text = resources.files("omnidesk.demo").joinpath("data/knowledge.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def seed_knowledge(db: Database, tenant_id: uuid.UUID) -> int:
    """Categories and published bilingual entries (one promotion already expired); returns entries created."""
    data = knowledge_data()
    actor = system_actor(tenant_id)
    now = utcnow()
    with db.tenant_transaction(tenant_id) as s:
        cats = {
            c["slug"]: actions.create_category(s, actor, CategoryCreate.model_validate(c)).id
            for c in data["categories"]
        }
        first: dict[str, uuid.UUID] = {}
        for item in data["entries"]:
            start, end = item.get("effective_days"), item.get("expires_days")
            article = actions.create_article(
                s,
                actor,
                ArticleCreate(
                    kind=Kind(item["kind"]),
                    language=item["language"],
                    title=item["question"],
                    variants=item.get("variants", []),
                    body=item["answer"],
                    summary=item.get("summary", ""),
                    category_id=cats[item["category"]],
                    tags=item["tags"],
                    visibility=Visibility(item.get("visibility", "public")),
                    external_id=item["external_id"],
                    translation_of=first.get(item["external_id"]),
                    effective_from=now + timedelta(days=start) if start is not None else None,
                    expires_at=now + timedelta(days=end) if end is not None else None,
                ),
            )
            first.setdefault(item["external_id"], article.id)
            actions.change_status(s, actor, article.id, ArticleStatus.PUBLISHED, note="demo")
    return len(data["entries"])
