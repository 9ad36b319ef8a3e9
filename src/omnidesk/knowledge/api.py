"""HTTP handlers of the knowledge slice (staff API under /api/v1/knowledge)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, UploadFile, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from omnidesk.accounts.models import Tenant
from omnidesk.compliance import audit
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.models import Message
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import InvalidInput
from omnidesk.core.pagination import MAX_LIMIT, encode_cursor
from omnidesk.core.schemas import Int32, Page
from omnidesk.knowledge import actions, analytics, imports, queries, render, transfer
from omnidesk.knowledge.archive import LimitExceeded, Limits
from omnidesk.knowledge.index import Hit, Visibility
from omnidesk.knowledge.models import KbImportJob
from omnidesk.knowledge.schemas import (
    AnalyticsOut,
    ArticleCreate,
    ArticleOut,
    ArticleUpdate,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    DiffOut,
    ImportJobOut,
    ImportReport,
    KnowledgeStateOut,
    Rollback,
    SearchHitOut,
    StatusChange,
    SuggestionCreate,
    SuggestionDecision,
    SuggestionOut,
    SuggestOut,
    VersionOut,
)
from omnidesk.knowledge.search import CACHE
from omnidesk.knowledge.states import ArticleStatus, Kind
from omnidesk.knowledge.states import Visibility as Vis
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/knowledge", tags=["knowledge"])

LanguageQ = Annotated[Literal["zh-CN", "en"] | None, Query()]


def reader_of(actor: Actor) -> Visibility:
    return Visibility(
        staff=True, team_ids=frozenset(str(t) for t in actor.team_ids), all_teams=actor.can(Perm.KNOWLEDGE_WRITE)
    )


# --- categories ----------------------------------------------------------------------------------------------


@router.get("/categories")
def list_categories(db: DbDep, actor: ActorDep) -> list[CategoryOut]:
    actor.require(Perm.KNOWLEDGE_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        return [CategoryOut.model_validate(c) for c in queries.categories(s)]


@router.post("/categories", status_code=status.HTTP_201_CREATED)
def create_category(data: CategoryCreate, db: DbDep, actor: ActorDep) -> CategoryOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return CategoryOut.model_validate(actions.create_category(s, actor, data))


@router.patch("/categories/{category_id}")
def update_category(category_id: uuid.UUID, data: CategoryUpdate, db: DbDep, actor: ActorDep) -> CategoryOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return CategoryOut.model_validate(actions.update_category(s, actor, category_id, data))


@router.delete("/categories/{category_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_category(category_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    """Remove an empty category; 409 while it still holds articles (in any state)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.delete_category(s, actor, category_id)


# --- articles ------------------------------------------------------------------------------------------------


@router.get("/articles")
def list_articles(
    db: DbDep,
    actor: ActorDep,
    status_: Annotated[ArticleStatus | None, Query(alias="status")] = None,
    kind: Kind | None = None,
    language: LanguageQ = None,
    category_id: uuid.UUID | None = None,
    visibility: Vis | None = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=200, description="substring of title or body")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[ArticleOut]:
    """Every entry the caller may see, any status, newest first."""
    filters = {
        "status": status_.value if status_ else None,
        "kind": kind.value if kind else None,
        "language": language,
        "category_id": category_id,
        "visibility": visibility.value if visibility else None,
        "tag": tag,
        "q": q,
    }
    with db.tenant_transaction(actor.tenant_id) as s:
        rows, more = queries.list_articles(s, actor, filters=filters, cursor=cursor, limit=limit)
        cursor_out = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return Page[ArticleOut](items=[ArticleOut.model_validate(a) for a in rows], next_cursor=cursor_out)


@router.post("/articles", status_code=status.HTTP_201_CREATED)
def create_article(data: ArticleCreate, db: DbDep, actor: ActorDep) -> ArticleOut:
    """A new draft (article or FAQ entry). Publish it with ``POST /articles/{id}/status``."""
    with db.tenant_transaction(actor.tenant_id) as s:
        article = actions.create_article(s, actor, data)
        s.flush()
        s.refresh(article)
        return ArticleOut.model_validate(article)


@router.get("/articles/{article_id}")
def get_article(article_id: uuid.UUID, db: DbDep, actor: ActorDep) -> ArticleOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return ArticleOut.model_validate(queries.get_article(s, actor, article_id))


@router.patch("/articles/{article_id}")
def update_article(article_id: uuid.UUID, data: ArticleUpdate, db: DbDep, actor: ActorDep) -> ArticleOut:
    """Save content as a new version. On a published entry the change goes live (needs knowledge.publish)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        article = actions.update_article(s, actor, article_id, data)
        s.flush()
        s.refresh(article)
        return ArticleOut.model_validate(article)


@router.post("/articles/{article_id}/status")
def change_status(article_id: uuid.UUID, data: StatusChange, db: DbDep, actor: ActorDep) -> ArticleOut:
    """Workflow: draft → in_review → published → archived (and back to draft)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        article = actions.change_status(s, actor, article_id, data.status, data.note)
        s.flush()
        s.refresh(article)
        return ArticleOut.model_validate(article)


@router.get("/articles/{article_id}/versions")
def list_versions(article_id: uuid.UUID, db: DbDep, actor: ActorDep) -> list[VersionOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        article = queries.get_article(s, actor, article_id)
        return [VersionOut.model_validate(v) for v in queries.versions(s, article.id)]


@router.get("/articles/{article_id}/diff")
def diff(
    article_id: uuid.UUID,
    db: DbDep,
    actor: ActorDep,
    from_: Annotated[Int32, Query(alias="from", ge=1)],
    to: Annotated[Int32, Query(ge=1)],
) -> DiffOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        fields = actions.diff_versions(s, actor, article_id, from_, to)
        return DiffOut(from_version=from_, to_version=to, fields=fields)


@router.post("/articles/{article_id}/rollback")
def rollback(article_id: uuid.UUID, data: Rollback, db: DbDep, actor: ActorDep) -> ArticleOut:
    """Restore an earlier version's content as a new version."""
    with db.tenant_transaction(actor.tenant_id) as s:
        article = actions.rollback(s, actor, article_id, data.to_version)
        s.flush()
        s.refresh(article)
        return ArticleOut.model_validate(article)


@router.get("/articles/{article_id}/translations")
def list_translations(article_id: uuid.UUID, db: DbDep, actor: ActorDep) -> list[ArticleOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        article = queries.get_article(s, actor, article_id)
        return [ArticleOut.model_validate(a) for a in queries.translations(s, article) if queries.can_read(actor, a)]


@router.post("/articles/{article_id}/suggestions", status_code=status.HTTP_201_CREATED)
def suggest_edit(article_id: uuid.UUID, data: SuggestionCreate, db: DbDep, actor: ActorDep) -> SuggestionOut:
    """Agents propose a change; a knowledge manager accepts or rejects it."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return SuggestionOut.model_validate(actions.suggest_edit(s, actor, article_id, data))


@router.get("/suggestions")
def list_suggestions(
    db: DbDep,
    actor: ActorDep,
    status_: Annotated[Literal["open", "accepted", "rejected"] | None, Query(alias="status")] = None,
) -> list[SuggestionOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        return [SuggestionOut.model_validate(x) for x in queries.list_suggestions(s, actor, status_)]


@router.post("/suggestions/{suggestion_id}/decision")
def decide_suggestion(suggestion_id: uuid.UUID, data: SuggestionDecision, db: DbDep, actor: ActorDep) -> SuggestionOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return SuggestionOut.model_validate(actions.decide_suggestion(s, actor, suggestion_id, data.accept))


# --- search and suggestions ----------------------------------------------------------------------------------


def _tenant_slug(s: Session, tenant_id: uuid.UUID) -> str:
    return s.scalar(select(Tenant.slug).where(Tenant.id == tenant_id)) or ""


def hit_out(hit: Hit, slug: str) -> SearchHitOut:
    d = hit.doc
    return SearchHitOut(
        id=d.id,
        kind=d.kind,
        title=d.title,
        title_html=hit.title_html,
        snippet_html=hit.snippet_html,
        language=d.language,
        category_id=d.category_id,
        url=f"/help/{slug}/articles/{d.id}",
        score=round(hit.score, 4),
    )


def suggest_out(hit: Hit, slug: str, bodies: dict[uuid.UUID, str]) -> SuggestOut:
    body = bodies.get(hit.doc.id, "")
    return SuggestOut(**hit_out(hit, slug).model_dump(), answer_markdown=body, answer_text=render.to_text(body))


@router.get("/search")
def search(
    db: DbDep,
    actor: ActorDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    language: LanguageQ = None,
    category_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[SearchHitOut]:
    """Published, effective entries the caller may see (public, internal, and restricted ones of their teams)."""
    actor.require(Perm.KNOWLEDGE_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        index, _ = CACHE.get(s, actor.tenant_id)
        slug = _tenant_slug(s, actor.tenant_id)
        hits = index.search(q, limit=limit, language=language, category_id=category_id, allow=reader_of(actor))
        return [hit_out(h, slug) for h in hits]


@router.get("/suggest")
def suggest(
    db: DbDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=500)] = None,
    conversation_id: uuid.UUID | None = None,
    language: LanguageQ = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[SuggestOut]:
    """Articles for the agent workspace: for typed text (``q``) or for an open conversation (its latest customer
    messages). Each carries ``answer_text`` to insert into the reply."""
    actor.require(Perm.KNOWLEDGE_READ)
    if not q and conversation_id is None:
        raise InvalidInput("give q (text) or conversation_id")
    with db.tenant_transaction(actor.tenant_id) as s:
        text = q or ""
        if conversation_id is not None:
            conversation = conversation_queries.get_conversation(s, actor, conversation_id)
            recent = s.scalars(
                select(Message.body)
                .where(Message.conversation_id == conversation.id, Message.sender_type == "customer")
                .order_by(Message.seq.desc())
                .limit(3)
            )
            text = " ".join([text, conversation.subject, *recent])
        index, bodies = CACHE.get(s, actor.tenant_id)
        slug = _tenant_slug(s, actor.tenant_id)
        hits = index.search(text[:1000], limit=limit, language=language, allow=reader_of(actor), prefix=bool(q))
        return [suggest_out(h, slug, bodies) for h in hits]


# --- import, export, analytics, state ------------------------------------------------------------------------


@router.post(
    "/import",
    response_model=ImportReport,
    responses={202: {"model": ImportJobOut, "description": "the file is big: queued as a background import"}},
)
async def import_file(
    file: UploadFile,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    format: Annotated[Literal["csv", "xlsx", "json", "markdown"], Query()],
    dry_run: Annotated[bool, Query(description="only report what the import would do; nothing is written")] = False,
    all_or_nothing: Annotated[bool, Query(description="refuse the whole file if any row is bad")] = False,
    skip_errors: Annotated[
        bool | None, Query(description="deprecated: skip_errors=false is all_or_nothing=true", deprecated=True)
    ] = None,
) -> ImportReport | JSONResponse:
    """Import FAQ/articles: the good rows are imported and every bad row is listed (``errors``); with
    ``all_or_nothing`` any bad row → 422 listing them all, nothing imported. ``notices`` say what was read
    differently from the file (a language tag ``zh`` read as ``zh-CN``, an id mapped, a long question shortened).
    ``dry_run`` answers the same report with the counts the import would reach, and writes nothing.

    A file over ``OMNIDESK_KNOWLEDGE_IMPORT_BACKGROUND_BYTES`` is queued instead: 202 with the job, whose
    ``status_url`` reports progress. A file over an import limit → 413/422 naming the limit, nothing imported.
    """
    limits = Limits.from_settings(settings)
    content = await file.read(limits.max_bytes + 1)
    background = len(content) > settings.knowledge_import_background_bytes
    strict = all_or_nothing or skip_errors is False

    def run() -> ImportReport | JSONResponse:
        if len(content) > limits.max_bytes:
            raise LimitExceeded("max_bytes", limits.max_bytes, f"import files are limited to {limits.max_bytes} bytes")
        if dry_run:
            with db.tenant_read(actor.tenant_id) as s:
                return ImportReport.model_validate(transfer.preview(s, actor, format, content, limits=limits).__dict__)
        if background:
            with db.tenant_transaction(actor.tenant_id) as s:
                job = imports.queue(s, actor, format, content, filename=file.filename or "", all_or_nothing=strict,
                                    limits=limits)  # fmt: skip
                out = job_out(job)
            return JSONResponse(
                out.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED, headers={"Location": out.status_url}
            )
        with db.tenant_transaction(actor.tenant_id) as s:
            imports.refuse_if_busy(s)
            report = transfer.import_entries(s, actor, format, content, all_or_nothing=strict, limits=limits)
            return ImportReport.model_validate(report.__dict__)

    return await run_in_threadpool(run)


def job_out(job: KbImportJob) -> ImportJobOut:
    data = {k: getattr(job, k) for k in ImportJobOut.model_fields if k not in ("errors", "status_url")}
    errors = [
        {"row": int(e.get("row", 0) or 0), "field": str(e.get("field", "")), "message": str(e.get("message", ""))}
        for e in job.errors or []
    ]
    return ImportJobOut(**data, errors=errors, status_url=f"/api/v1/knowledge/imports/{data['id']}")


@router.get("/imports")
def list_imports(db: DbDep, actor: ActorDep) -> list[ImportJobOut]:
    """The tenant's 20 most recent background imports, newest first."""
    with db.tenant_read(actor.tenant_id) as s:
        return [job_out(j) for j in imports.recent(s, actor)]


@router.get("/imports/{import_job_id}")
def get_import(import_job_id: Annotated[uuid.UUID, Path()], db: DbDep, actor: ActorDep) -> ImportJobOut:
    """A background import's state and progress (rows done of rows total)."""
    with db.tenant_read(actor.tenant_id) as s:
        return job_out(imports.get(s, actor, import_job_id))


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "the export file",
            "content": {
                "application/json": {},
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                "application/zip": {},
            },
        }
    },
)
def export(
    db: DbDep,
    actor: ActorDep,
    format: Annotated[Literal["csv", "xlsx", "json", "markdown"], Query()] = "json",
    kind: Kind | None = None,
) -> Response:
    """Every non-restricted entry (any status) in a file that ``/import`` reads back unchanged."""
    with db.tenant_transaction(actor.tenant_id) as s:
        rows = transfer.export_rows(s, actor, kind.value if kind else None)
        details = {"format": format, "kind": kind.value if kind else None, "entries": len(rows)}
        audit.record(s, actor, "knowledge.export", "knowledge", actor.tenant_id, details)
    content, media_type, ext = transfer.render_export(format, rows)
    name = f"knowledge-{utcnow():%Y%m%d}.{ext}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/analytics")
def get_analytics(db: DbDep, actor: ActorDep, days: Annotated[int, Query(ge=1, le=366)] = 30) -> AnalyticsOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return AnalyticsOut.model_validate(analytics.summary(s, actor, utcnow() - timedelta(days=days)))


@router.get("/state")
def get_state(db: DbDep, actor: ActorDep) -> KnowledgeStateOut:
    """The knowledge version counter: caches compare it to notice published changes."""
    actor.require(Perm.KNOWLEDGE_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        stamp = queries.knowledge_stamp(s)
        return KnowledgeStateOut(version=stamp.version, valid_until=stamp.valid_until)
