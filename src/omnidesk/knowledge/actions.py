"""Actions of the knowledge slice: categories, articles, the publishing workflow, versions, suggestions, feedback.

Every saved content change writes a new ``KbArticleVersion`` (the full snapshot) and an audit record; every change
to what is published (publishing, unpublishing, archiving, editing or rolling back a published entry) bumps the
tenant's knowledge version in the same transaction, so caches in every process notice it on their next read.
Editing a published entry goes live at once and therefore needs the publish permission; drafts need write.
"""

from __future__ import annotations

import difflib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import ArticleAdded, ArticleUpdated, SuggestionAdded
from omnidesk.knowledge import queries, state
from omnidesk.knowledge.models import KbArticle, KbArticleVersion, KbCategory, KbEvent, KbSuggestion
from omnidesk.knowledge.schemas import (
    ArticleCreate,
    ArticleUpdate,
    CategoryCreate,
    CategoryUpdate,
    SuggestionCreate,
)
from omnidesk.knowledge.states import PUBLISHING, ArticleStatus, Visibility, check_transition
from omnidesk.security.permissions import Perm

CONTENT_FIELDS = (
    "title",
    "variants",
    "body",
    "summary",
    "tags",
    "category_id",
    "visibility",
    "team_ids",
    "effective_from",
    "expires_at",
)


def snapshot(article: KbArticle) -> dict[str, Any]:
    """The content of an article, JSON-safe, as stored in a version."""
    out: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = getattr(article, name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, list):
            value = list(value)
        out[name] = value
    return out


def _restore(article: KbArticle, snap: dict[str, Any]) -> None:
    for name in CONTENT_FIELDS:
        if name not in snap:
            continue
        value = snap[name]
        if name == "category_id":
            value = uuid.UUID(value) if value else None
        elif name in ("effective_from", "expires_at"):
            value = datetime.fromisoformat(value) if value else None
        setattr(article, name, value)


# --- categories ----------------------------------------------------------------------------------------------


def create_category(session: Session, actor: Actor, data: CategoryCreate) -> KbCategory:
    actor.require(Perm.KNOWLEDGE_WRITE)
    if queries.category_by_slug(session, data.slug) is not None:
        raise Conflict(f"a category with the slug '{data.slug}' already exists")
    category = KbCategory(
        tenant_id=actor.tenant_id,
        slug=data.slug,
        names=dict(data.names),
        descriptions=dict(data.descriptions),
        position=data.position,
    )
    session.add(category)
    session.flush()
    audit.record(session, actor, "knowledge.category_create", "kb_category", category.id, {"slug": data.slug})
    state.bump(session, actor.tenant_id, "category")
    return category


def update_category(session: Session, actor: Actor, category_id: uuid.UUID, data: CategoryUpdate) -> KbCategory:
    actor.require(Perm.KNOWLEDGE_WRITE)
    category = queries.get_category(session, category_id)
    before = {"names": category.names, "descriptions": category.descriptions, "position": category.position}
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(category, name, dict(value) if isinstance(value, dict) else value)
    changed = audit.diff(before, {k: getattr(category, k) for k in before})
    if changed:
        audit.record(session, actor, "knowledge.category_update", "kb_category", category.id, changed)
        state.bump(session, actor.tenant_id, "category")
    return category


def delete_category(session: Session, actor: Actor, category_id: uuid.UUID) -> None:
    """Remove an empty category. One that still holds articles (in any state) is refused: deleting it would
    silently move them out of the help center's structure."""
    actor.require(Perm.KNOWLEDGE_WRITE)
    category = queries.get_category(session, category_id)
    held = session.scalar(select(func.count()).select_from(KbArticle).where(KbArticle.category_id == category.id))
    if held:
        raise Conflict(
            f"the category '{category.slug}' still holds {held} article(s); move or delete them first",
            errors=[{"field": "category", "message": "not empty", "articles": held}],
        )
    audit.record(session, actor, "knowledge.category_delete", "kb_category", category.id, {"slug": category.slug})
    session.delete(category)
    session.flush()
    state.bump(session, actor.tenant_id, "category")


def reorder_categories(session: Session, actor: Actor, ordered: list[uuid.UUID]) -> None:
    """Give the categories positions 0, 10, 20 … in the order given (every category exactly once)."""
    actor.require(Perm.KNOWLEDGE_WRITE)
    rows = {c.id: c for c in queries.categories(session)}
    if sorted(map(str, ordered)) != sorted(map(str, rows)):
        raise InvalidInput("the order must name every category exactly once; reload and try again")
    for index, category_id in enumerate(ordered):
        update_category(session, actor, category_id, CategoryUpdate(position=index * 10))


# --- articles ------------------------------------------------------------------------------------------------


def _check_refs(session: Session, category_id: uuid.UUID | None, team_ids: list[uuid.UUID]) -> None:
    if category_id is not None:
        queries.get_category(session, category_id)
    if team_ids:
        from omnidesk.accounts import queries as accounts_queries

        for team_id in team_ids:
            accounts_queries.get_team(session, team_id)


def create_article(session: Session, actor: Actor, data: ArticleCreate) -> KbArticle:
    actor.require(Perm.KNOWLEDGE_WRITE)
    _check_refs(session, data.category_id, data.team_ids)
    if data.visibility == Visibility.RESTRICTED and not data.team_ids:
        raise InvalidInput("a restricted article needs at least one team in team_ids")
    group = uuid.uuid4()
    if data.translation_of is not None:
        source = queries.get_article(session, actor, data.translation_of)
        if any(a.language == data.language for a in [source, *queries.translations(session, source)]):
            raise Conflict(f"this article already has a '{data.language}' version")
        group = source.translation_group
    article_id = uuid.uuid4()
    external_id = data.external_id or f"kb-{article_id.hex[:12]}"
    if session.scalar(
        select(KbArticle.id).where(KbArticle.language == data.language, KbArticle.external_id == external_id)
    ):
        raise Conflict(f"an entry with external_id '{external_id}' already exists in '{data.language}'")
    now = utcnow()
    article = KbArticle(
        id=article_id,
        tenant_id=actor.tenant_id,
        kind=data.kind.value,
        external_id=external_id,
        language=data.language,
        translation_group=group,
        category_id=data.category_id,
        title=data.title,
        variants=list(dict.fromkeys(data.variants)),
        body=data.body,
        summary=data.summary,
        tags=list(dict.fromkeys(data.tags)),
        status=ArticleStatus.DRAFT.value,
        visibility=data.visibility.value,
        team_ids=[str(t) for t in dict.fromkeys(data.team_ids)],
        effective_from=data.effective_from,
        expires_at=data.expires_at,
        current_version=1,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    session.add(
        KbArticleVersion(
            tenant_id=actor.tenant_id, article_id=article.id, number=1, snapshot=snapshot(article), created_by=actor.id
        )
    )
    audit.record(
        session,
        actor,
        "knowledge.article_create",
        "kb_article",
        article.id,
        {"kind": article.kind, "language": article.language, "title": article.title},
    )
    publish_on_commit(session, ArticleAdded(tenant_id=actor.tenant_id, article_id=article.id))
    return article


def update_article(session: Session, actor: Actor, article_id: uuid.UUID, data: ArticleUpdate) -> KbArticle:
    article = queries.get_article(session, actor, article_id)
    if data.version is not None and data.version != article.version:
        raise Conflict(
            f"the article changed since you loaded it (version {article.version}, yours {data.version}); reload"
        )
    changes = data.model_dump(exclude_unset=True, exclude={"note", "version"})
    if "category_id" in changes or "team_ids" in changes:
        _check_refs(session, data.category_id, data.team_ids or [])
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("variants", "tags") and value is not None:
            value = list(dict.fromkeys(value))
        elif name == "team_ids" and value is not None:
            value = [str(t) for t in dict.fromkeys(value)]
        elif name == "visibility" and value is not None:
            value = value.value
        if value is None and name not in ("category_id", "effective_from", "expires_at"):
            continue
        values[name] = value
    return apply_content(session, actor, article, values, note=data.note, action="knowledge.article_update")


def apply_content(
    session: Session, actor: Actor, article: KbArticle, values: dict[str, Any], *, note: str, action: str
) -> KbArticle:
    """Write content fields, a new version, an audit record; bump the knowledge version if the entry is live.

    Unchanged values write nothing at all (so re-importing the same file is a no-op).
    """
    live = article.status == ArticleStatus.PUBLISHED.value
    actor.require(Perm.KNOWLEDGE_PUBLISH if live else Perm.KNOWLEDGE_WRITE)
    before = snapshot(article)
    for name, value in values.items():
        setattr(article, name, value)
    after = snapshot(article)
    if after.get("visibility") == Visibility.RESTRICTED.value and not after.get("team_ids"):
        raise InvalidInput("a restricted article needs at least one team in team_ids")
    start, end = article.effective_from, article.expires_at
    if start is not None and end is not None and end <= start:
        raise InvalidInput("expires_at must be after effective_from")
    changed = audit.diff(before, after)
    if not changed:
        return article
    article.current_version += 1
    article.updated_at = utcnow()
    session.flush()
    session.add(
        KbArticleVersion(
            tenant_id=actor.tenant_id,
            article_id=article.id,
            number=article.current_version,
            snapshot=after,
            note=note,
            created_by=actor.id,
        )
    )
    audit.record(session, actor, action, "kb_article", article.id, {**changed, "version": article.current_version})
    publish_on_commit(session, ArticleUpdated(tenant_id=actor.tenant_id, article_id=article.id))
    if live:
        state.bump(session, actor.tenant_id, "edit")
    return article


def change_status(
    session: Session, actor: Actor, article_id: uuid.UUID, target: ArticleStatus, note: str = ""
) -> KbArticle:
    """Move through the workflow. Publishing and archiving need the publish permission; the audit names who."""
    article = queries.get_article(session, actor, article_id)
    current = ArticleStatus(article.status)
    leaving_live = current == ArticleStatus.PUBLISHED
    actor.require(Perm.KNOWLEDGE_PUBLISH if target in PUBLISHING or leaving_live else Perm.KNOWLEDGE_WRITE)
    check_transition(current, target)
    if target == current:
        return article
    if target == ArticleStatus.PUBLISHED and not article.body.strip():
        raise InvalidInput("an entry without a body (answer) cannot be published")
    article.status = target.value
    article.updated_at = utcnow()
    if target == ArticleStatus.PUBLISHED:
        article.published_at = article.updated_at
        article.published_by = actor.id
    session.flush()
    audit.record(
        session,
        actor,
        f"knowledge.{_VERBS[target]}",
        "kb_article",
        article.id,
        {"status": [current.value, target.value], "version": article.current_version, "note": note},
    )
    publish_on_commit(session, ArticleUpdated(tenant_id=actor.tenant_id, article_id=article.id, status=target.value))
    if target == ArticleStatus.PUBLISHED or leaving_live:
        state.bump(session, actor.tenant_id, _VERBS[target])
    return article


_VERBS = {
    ArticleStatus.DRAFT: "unpublish",
    ArticleStatus.IN_REVIEW: "submit_for_review",
    ArticleStatus.PUBLISHED: "publish",
    ArticleStatus.ARCHIVED: "archive",
}


def rollback(session: Session, actor: Actor, article_id: uuid.UUID, to_version: int) -> KbArticle:
    """Restore an earlier version's content as a new version (history is never rewritten)."""
    article = queries.get_article(session, actor, article_id)
    old = queries.get_version(session, article.id, to_version)
    probe = KbArticle()
    _restore(probe, old.snapshot)
    values = {name: getattr(probe, name) for name in CONTENT_FIELDS if name in old.snapshot}
    return apply_content(
        session, actor, article, values, note=f"rollback to version {to_version}", action="knowledge.article_rollback"
    )


def diff_versions(session: Session, actor: Actor, article_id: uuid.UUID, a: int, b: int) -> dict[str, str]:
    """A unified diff per changed field between versions ``a`` and ``b``."""
    article = queries.get_article(session, actor, article_id)
    left = queries.get_version(session, article.id, a).snapshot
    right = queries.get_version(session, article.id, b).snapshot
    out: dict[str, str] = {}
    for name in CONTENT_FIELDS:
        lv, rv = left.get(name), right.get(name)
        if lv == rv:
            continue
        lt = "\n".join(lv) if isinstance(lv, list) else ("" if lv is None else str(lv))
        rt = "\n".join(rv) if isinstance(rv, list) else ("" if rv is None else str(rv))
        out[name] = "\n".join(
            difflib.unified_diff(lt.splitlines(), rt.splitlines(), f"v{a}/{name}", f"v{b}/{name}", lineterm="", n=2)
        )
    return out


# --- suggestions from agents ---------------------------------------------------------------------------------


def suggest_edit(session: Session, actor: Actor, article_id: uuid.UUID, data: SuggestionCreate) -> KbSuggestion:
    actor.require(Perm.KNOWLEDGE_SUGGEST)
    article = queries.get_article(session, actor, article_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True, exclude={"note"}).items() if v is not None}
    if not changes:
        raise InvalidInput("a suggestion needs at least one of title, variants or body")
    suggestion = KbSuggestion(
        tenant_id=actor.tenant_id, article_id=article.id, changes=changes, note=data.note, created_by=actor.id
    )
    session.add(suggestion)
    session.flush()
    audit.record(session, actor, "knowledge.suggest", "kb_article", article.id, {"suggestion_id": str(suggestion.id)})
    publish_on_commit(session, SuggestionAdded(tenant_id=actor.tenant_id, suggestion_id=suggestion.id))
    return suggestion


def decide_suggestion(session: Session, actor: Actor, suggestion_id: uuid.UUID, accept: bool) -> KbSuggestion:
    actor.require(Perm.KNOWLEDGE_PUBLISH)
    suggestion = queries.get_suggestion(session, suggestion_id)
    if suggestion.status != "open":
        raise Conflict(f"this suggestion was already {suggestion.status}")
    if accept:
        article = queries.get_article(session, actor, suggestion.article_id)
        apply_content(
            session,
            actor,
            article,
            dict(suggestion.changes),
            note=f"suggestion {suggestion.id}: {suggestion.note}"[:500],
            action="knowledge.article_update",
        )
    suggestion.status = "accepted" if accept else "rejected"
    suggestion.decided_by = actor.id
    suggestion.decided_at = utcnow()
    audit.record(session, actor, f"knowledge.suggestion_{suggestion.status}", "kb_suggestion", suggestion.id, {})
    return suggestion


# --- self-service signals (anonymous; no actor, no audit: they are usage data, not changes) --------------------


def record_event(
    session: Session,
    tenant_id: uuid.UUID,
    kind: str,
    *,
    session_key: str,
    article_id: uuid.UUID | None = None,
    query: str = "",
    result_count: int = 0,
    language: str = "",
    helpful: bool | None = None,
) -> None:
    session.add(
        KbEvent(
            tenant_id=tenant_id,
            kind=kind,
            article_id=article_id,
            session_key=session_key[:64],
            query=query.replace("\x00", "")[:200],
            result_count=result_count,
            language=language[:8],
            helpful=helpful,
        )
    )


def rate_article(
    session: Session, tenant_id: uuid.UUID, article_id: uuid.UUID, helpful: bool, *, session_key: str, now: datetime
) -> None:
    """Count a "was this helpful?" vote; a second vote from the same help-center session replaces the first."""
    article = session.scalar(select(KbArticle).where(KbArticle.id == article_id, queries.live_clause(now)))
    if article is None or article.visibility != Visibility.PUBLIC.value:
        raise NotFound("no such article")
    previous = session.scalar(
        select(KbEvent).where(
            KbEvent.kind == "feedback", KbEvent.article_id == article_id, KbEvent.session_key == session_key
        )
    )
    delta = {"helpful_yes": 0, "helpful_no": 0}
    if previous is not None:
        if previous.helpful == helpful:
            return
        delta["helpful_yes" if previous.helpful else "helpful_no"] -= 1
        previous.helpful = helpful
        previous.created_at = now
    else:
        record_event(session, tenant_id, "feedback", session_key=session_key, article_id=article_id, helpful=helpful)
    delta["helpful_yes" if helpful else "helpful_no"] += 1
    session.execute(
        update(KbArticle)
        .where(KbArticle.id == article_id)
        .values(
            helpful_yes=KbArticle.helpful_yes + delta["helpful_yes"],
            helpful_no=KbArticle.helpful_no + delta["helpful_no"],
        )
        .execution_options(synchronize_session=False)
    )
