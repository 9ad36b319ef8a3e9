"""Read helpers of the knowledge slice, including the pure read API the assistant consumes.

``published_faq`` / ``published_entries`` return only what a customer may see right now: status published,
visibility public, effective-from reached and not expired. Their results change exactly when
``knowledge_version`` / ``knowledge_stamp`` say so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import NotFound
from omnidesk.core.pagination import decode_cursor
from omnidesk.knowledge import render
from omnidesk.knowledge.models import KbArticle, KbArticleVersion, KbCategory, KbSuggestion
from omnidesk.knowledge.state import KnowledgeStamp, read_stamp
from omnidesk.knowledge.states import ArticleStatus, Kind, Visibility
from omnidesk.security.permissions import Perm


@dataclass(frozen=True)
class FaqEntryView:
    """One published entry as the assistant sees it. ``answer`` is Markdown, ``answer_text`` its plain text."""

    id: uuid.UUID
    external_id: str
    kind: str
    language: str
    category: str | None
    question: str
    variants: tuple[str, ...]
    answer: str
    answer_text: str
    tags: tuple[str, ...]
    updated_at: datetime


def live_clause(now: datetime) -> ColumnElement[bool]:
    """SQL: published, already effective and not yet expired."""
    return and_(
        KbArticle.status == ArticleStatus.PUBLISHED.value,
        or_(KbArticle.effective_from.is_(None), KbArticle.effective_from <= now),
        or_(KbArticle.expires_at.is_(None), KbArticle.expires_at > now),
    )


def is_live(article: KbArticle, now: datetime) -> bool:
    return (
        article.status == ArticleStatus.PUBLISHED.value
        and (article.effective_from is None or article.effective_from <= now)
        and (article.expires_at is None or article.expires_at > now)
    )


def published_entries(
    session: Session, language: str | None = None, now: datetime | None = None, kinds: tuple[str, ...] | None = None
) -> list[FaqEntryView]:
    """Everything a customer may be answered from right now, in the session's tenant, stable order."""
    now = now or utcnow()
    stmt = select(KbArticle).where(live_clause(now), KbArticle.visibility == Visibility.PUBLIC.value)
    if language:
        stmt = stmt.where(KbArticle.language == language)
    if kinds:
        stmt = stmt.where(KbArticle.kind.in_(kinds))
    categories = {c.id: c.slug for c in session.scalars(select(KbCategory))}
    return [
        FaqEntryView(
            id=a.id,
            external_id=a.external_id,
            kind=a.kind,
            language=a.language,
            category=categories.get(a.category_id) if a.category_id else None,
            question=a.title,
            variants=tuple(a.variants or ()),
            answer=a.body,
            answer_text=render.to_text(a.body),
            tags=tuple(a.tags or ()),
            updated_at=a.updated_at,
        )
        for a in session.scalars(stmt.order_by(KbArticle.language, KbArticle.external_id))
    ]


def published_faq(session: Session, language: str | None = None, now: datetime | None = None) -> list[FaqEntryView]:
    """The published, public, currently effective FAQ entries (question, variants, answer) of the tenant."""
    return published_entries(session, language, now, kinds=(Kind.FAQ.value,))


def knowledge_stamp(session: Session, now: datetime | None = None) -> KnowledgeStamp:
    """Version counter plus the next moment time alone changes the published set; see ``knowledge.state``.

    Read it *before* loading entries, keep it with the cache, and rebuild when ``not stamp.fresh(version, now)``.
    """
    return read_stamp(session, now)


def knowledge_version(session: Session) -> int:
    return read_stamp(session).version


# --- staff reads ---------------------------------------------------------------------------------------------


def staff_scope(actor: Actor) -> ColumnElement[bool] | None:
    """Restricted entries are visible to members of their teams and to those who keep the knowledge base."""
    if actor.can(Perm.KNOWLEDGE_WRITE):
        return None
    return KbArticle.visibility != Visibility.RESTRICTED.value


def can_read(actor: Actor, article: KbArticle) -> bool:
    if article.visibility != Visibility.RESTRICTED.value or actor.can(Perm.KNOWLEDGE_WRITE):
        return True
    return bool({str(t) for t in actor.team_ids} & set(article.team_ids or ()))


def get_article(session: Session, actor: Actor, article_id: uuid.UUID) -> KbArticle:
    actor.require(Perm.KNOWLEDGE_READ)
    article = session.scalar(select(KbArticle).where(KbArticle.id == article_id))
    if article is None or not can_read(actor, article):
        raise NotFound("no knowledge article with this id")
    return article


def list_articles(
    session: Session, actor: Actor, *, filters: dict[str, Any], cursor: str | None, limit: int
) -> tuple[list[KbArticle], bool]:
    actor.require(Perm.KNOWLEDGE_READ)
    stmt = select(KbArticle)
    for name in ("status", "kind", "language", "category_id", "visibility"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(KbArticle, name) == filters[name])
    if filters.get("q"):
        pattern = (
            "%" + filters["q"].replace("\x00", "").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(or_(KbArticle.title.ilike(pattern, escape="\\"), KbArticle.body.ilike(pattern, escape="\\")))
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(KbArticle.created_at < created, (KbArticle.created_at == created) & (KbArticle.id < row_id))
        )
    stmt = stmt.order_by(KbArticle.created_at.desc(), KbArticle.id.desc())
    rows = [a for a in session.scalars(stmt.limit((limit + 1) * 4)) if can_read(actor, a)]
    tag = filters.get("tag")
    if tag:
        rows = [a for a in rows if tag in (a.tags or [])]
    return rows[:limit], len(rows) > limit


def translations(session: Session, article: KbArticle) -> list[KbArticle]:
    stmt = select(KbArticle).where(KbArticle.translation_group == article.translation_group, KbArticle.id != article.id)
    return list(session.scalars(stmt.order_by(KbArticle.language)))


def versions(session: Session, article_id: uuid.UUID) -> list[KbArticleVersion]:
    stmt = select(KbArticleVersion).where(KbArticleVersion.article_id == article_id)
    return list(session.scalars(stmt.order_by(KbArticleVersion.number.desc())))


def get_version(session: Session, article_id: uuid.UUID, number: int) -> KbArticleVersion:
    row = session.scalar(
        select(KbArticleVersion).where(KbArticleVersion.article_id == article_id, KbArticleVersion.number == number)
    )
    if row is None:
        raise NotFound(f"this article has no version {number}")
    return row


def categories(session: Session) -> list[KbCategory]:
    return list(session.scalars(select(KbCategory).order_by(KbCategory.position, KbCategory.slug)))


def get_category(session: Session, category_id: uuid.UUID) -> KbCategory:
    row = session.scalar(select(KbCategory).where(KbCategory.id == category_id))
    if row is None:
        raise NotFound("no knowledge category with this id")
    return row


def category_by_slug(session: Session, slug: str) -> KbCategory | None:
    return session.scalar(select(KbCategory).where(KbCategory.slug == slug))


def get_suggestion(session: Session, suggestion_id: uuid.UUID) -> KbSuggestion:
    row = session.scalar(select(KbSuggestion).where(KbSuggestion.id == suggestion_id))
    if row is None:
        raise NotFound("no suggestion with this id")
    return row


def list_suggestions(session: Session, actor: Actor, status: str | None) -> list[KbSuggestion]:
    actor.require(Perm.KNOWLEDGE_READ)
    stmt = select(KbSuggestion)
    if status:
        stmt = stmt.where(KbSuggestion.status == status)
    return list(session.scalars(stmt.order_by(KbSuggestion.created_at.desc()).limit(200)))
