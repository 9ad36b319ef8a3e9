"""Storage models of the knowledge slice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class KbCategory(TenantOwned, Base):
    """A shelf of the help center; names and descriptions per language (``{"zh-CN": ..., "en": ...}``)."""

    __tablename__ = "kb_categories"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    descriptions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbArticle(TenantOwned, Base):
    """An article or an FAQ entry (question = ``title``, phrasings = ``variants``, answer = ``body``) in one language.

    Translations share a ``translation_group``. ``external_id`` is the stable key imports match on, unique per
    tenant and language. The row holds the current content; every saved change is also a ``KbArticleVersion``.
    """

    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "language", "external_id"),
        Index("ix_kb_articles_tenant_status", "tenant_id", "status"),
        Index("ix_kb_articles_tenant_group", "tenant_id", "translation_group"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16), default="article")
    external_id: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    translation_group: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("kb_categories.id", ondelete="SET NULL"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    variants: Mapped[list[str]] = mapped_column(default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(String(500), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    team_ids: Mapped[list[str]] = mapped_column(default=list)
    effective_from: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    current_version: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    published_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    helpful_yes: Mapped[int] = mapped_column(default=0)
    helpful_no: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class KbArticleVersion(TenantOwned, Base):
    """An immutable snapshot of an article's content after one saved change; the basis of diffs and rollback."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    article_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbSuggestion(TenantOwned, Base):
    """An edit an agent proposes to an article; a knowledge manager accepts (applies it) or rejects it."""

    __tablename__ = "kb_suggestions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    article_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class KbState(TenantOwned, Base):
    """One row per tenant: the knowledge version counter every cache compares, and when time alone changes it.

    ``version`` is bumped in the same transaction as any change to what is published; ``valid_until`` is the
    earliest future effective-from or expires-at among published entries, after which the published set changes
    with no write at all. A cache is fresh while ``version`` is unchanged and ``now < valid_until``.
    """

    __tablename__ = "kb_state"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbEvent(TenantOwned, Base):
    """One self-service signal: a view, a search, a rating, a suggestion shown or a "contact us" click.

    ``session_key`` is a random first-party help-center session id (no personal data); it groups events so that
    deflection (sessions that ended without contacting us) can be counted.
    """

    __tablename__ = "kb_events"
    __table_args__ = (Index("ix_kb_events_tenant_kind_created", "tenant_id", "kind", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    session_key: Mapped[str] = mapped_column(String(64), default="")
    query: Mapped[str] = mapped_column(String(200), default="")
    result_count: Mapped[int] = mapped_column(default=0)
    helpful: Mapped[bool | None] = mapped_column(default=None)
    language: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbImportJob(TenantOwned, Base):
    """An import file too big to apply within its request, applied in batches by a background job.

    ``state`` goes queued → running → done | failed. ``active`` is 1 while queued or running and NULL after, so the
    unique (tenant, active) pair allows one unfinished import per tenant on every database (NULLs never collide).
    The file is kept in ``content`` until the job ends. ``actor_*`` is who queued it; the job acts with that
    person's or key's permissions as they are when it runs.
    """

    __tablename__ = "kb_import_jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "active"),
        Index("ix_kb_import_jobs_state", "state", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    format: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200), default="")
    skip_errors: Mapped[bool] = mapped_column(default=False)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    size: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    active: Mapped[int | None] = mapped_column(default=1)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(String(1000), default="")
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
