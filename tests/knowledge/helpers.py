"""Setting up knowledge through the product's actions."""

from __future__ import annotations

import uuid
from datetime import datetime

from omnidesk.core.db import Database
from omnidesk.knowledge import actions
from omnidesk.knowledge.models import KbArticle
from omnidesk.knowledge.schemas import ArticleCreate, CategoryCreate
from omnidesk.knowledge.states import ArticleStatus, Kind
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.knowledge.conftest import Shop


def category(db: Database, world: World | Shop, slug: str = "returns") -> uuid.UUID:
    with db.tenant_transaction(world.tenant_id) as s:
        return actions.create_category(
            s,
            world.actor(Role.KNOWLEDGE_MANAGER),
            CategoryCreate(slug=slug, names={"zh-CN": "退换货", "en": "Returns"}),
        ).id


def published(
    db: Database,
    world: World | Shop,
    title: str,
    body: str,
    *,
    language: str = "zh-CN",
    variants: list[str] | None = None,
    category_id: uuid.UUID | None = None,
    effective_from: datetime | None = None,
    expires_at: datetime | None = None,
    visibility: str = "public",
    kind: Kind = Kind.FAQ,
    external_id: str | None = None,
    summary: str = "",
) -> KbArticle:
    actor = world.actor(Role.KNOWLEDGE_MANAGER)
    with db.tenant_transaction(world.tenant_id) as s:
        article = actions.create_article(
            s,
            actor,
            ArticleCreate.model_validate(
                {
                    "kind": kind,
                    "language": language,
                    "title": title,
                    "body": body,
                    "variants": variants or [],
                    "category_id": category_id,
                    "effective_from": effective_from,
                    "expires_at": expires_at,
                    "visibility": visibility,
                    "external_id": external_id,
                    "summary": summary,
                }
            ),
        )
        actions.change_status(s, actor, article.id, ArticleStatus.PUBLISHED)
        return article
