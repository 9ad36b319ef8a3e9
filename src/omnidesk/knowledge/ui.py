"""The staff UI for the knowledge base: list, edit, review and publish, history with diffs and rollback, import.

Server-rendered forms (no JavaScript needed). Every POST carries the session's CSRF token; every change goes
through the same actions as the API, so permissions and the audit trail are the same. Times typed into the
forms are read in the tenant's time zone.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from omnidesk.accounts import auth
from omnidesk.core.db import utcnow
from omnidesk.core.errors import DomainError, PermissionDenied
from omnidesk.core.schemas import Int32
from omnidesk.knowledge import actions, analytics, imports, queries, render, transfer
from omnidesk.knowledge.api import job_out
from omnidesk.knowledge.archive import LimitExceeded, Limits
from omnidesk.knowledge.schemas import ArticleCreate, ArticleUpdate, SuggestionCreate
from omnidesk.knowledge.states import ArticleStatus
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.ui import LANG_COOKIE
from omnidesk.web.ui import render as render_page

router = APIRouter(prefix="/knowledge", include_in_schema=False)


def _page(
    request: Request, info: auth.SessionInfo, name: str, ctx: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    from omnidesk.i18n import pick_language

    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    actor = info.actor
    perms = {p.name.lower(): actor.can(p) for p in Perm if p.name.startswith("KNOWLEDGE")}
    return render_page(
        request,
        name,
        {**ctx, "csrf": info.csrf_token, "user": info.user, "tenant": info.tenant, "can": perms, "lang": lang},
        status_code,
    )


def _login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def _when(value: str, zone: str) -> datetime | None:
    """A ``datetime-local`` form value, read in the tenant's time zone."""
    if not value.strip():
        return None
    return datetime.fromisoformat(value.strip()).replace(tzinfo=ZoneInfo(zone))


def _local(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


@router.get("")
def index(request: Request, status: str = "", language: str = "", q: str = "") -> Response:
    info = _session(request)
    if info is None:
        return _login()
    filters = {
        "status": status if status in {s.value for s in ArticleStatus} else None,
        "language": language if language in ("zh-CN", "en") else None,
        "q": q[:200] or None,
    }
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        try:
            rows, _ = queries.list_articles(s, info.actor, filters=filters, cursor=None, limit=200)
        except PermissionDenied:
            return _page(request, info, "forbidden.html", {"forbidden_key": "knowledge.ui.denied"}, 403)
        cats = {c.id: c for c in queries.categories(s)}
        open_suggestions = len(queries.list_suggestions(s, info.actor, "open"))
        stats = (
            analytics.summary(s, info.actor, utcnow() - timedelta(days=30))
            if info.actor.can(Perm.KNOWLEDGE_ANALYTICS)
            else None
        )
    return _page(
        request,
        info,
        "knowledge/list.html",
        {
            "rows": rows,
            "cats": cats,
            "filters": filters,
            "q": q[:200],
            "open_suggestions": open_suggestions,
            "stats": stats,
        },
    )


def _form_values(
    title: str, variants: str, body: str, summary: str, tags: str, category_id: str, visibility: str,
    effective_from: str, expires_at: str, zone: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "title": title,
        "variants": _lines(variants),
        "body": body,
        "summary": summary,
        "tags": _tags(tags),
        "category_id": category_id or None,
        "visibility": visibility,
        "effective_from": _when(effective_from, zone),
        "expires_at": _when(expires_at, zone),
    }


Text = Annotated[str, Form(max_length=100_000)]
Short = Annotated[str, Form(max_length=1000)]


@router.get("/new")
def new_form(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return _login()
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        cats = queries.categories(s)
    return _page(request, info, "knowledge/edit.html", {"article": None, "cats": cats, "error": "", "values": {}})


@router.post("/new")
def create(
    request: Request,
    csrf: Short,
    kind: Short,
    language: Short,
    title: Short = "",
    variants: Text = "",
    body: Text = "",
    summary: Short = "",
    tags: Short = "",
    category_id: Short = "",
    visibility: Short = "public",
    effective_from: Short = "",
    expires_at: Short = "",
) -> Response:
    info = _session(request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    zone = info.tenant.time_zone
    try:
        values = _form_values(
            title, variants, body, summary, tags, category_id, visibility, effective_from, expires_at, zone
        )
        data = ArticleCreate.model_validate({**values, "kind": kind, "language": language})
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            article = actions.create_article(s, info.actor, data)
            article_id = article.id
    except (ValidationError, DomainError, ValueError) as exc:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            cats = queries.categories(s)
        form = {
            "title": title,
            "variants": variants,
            "body": body,
            "summary": summary,
            "tags": tags,
            "kind": kind,
            "language": language,
        }
        return _page(
            request,
            info,
            "knowledge/edit.html",
            {"article": None, "cats": cats, "error": _message(exc), "values": form},
            422,
        )
    return RedirectResponse(f"/knowledge/{article_id}", status_code=303)


def _message(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.detail
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


@router.post("/import")
async def import_file(
    request: Request,
    csrf: Short,
    format: Short,
    file: Annotated[UploadFile, File()],
    action: Short = "import",
    all_or_nothing: Short = "",
    skip_errors: Short = "",  # the form before previews; importing the good rows is the default now
) -> Response:
    """Import, or with ``action=preview`` show what the import would do and keep the file for a confirmation."""
    from starlette.concurrency import run_in_threadpool

    info = await run_in_threadpool(_session, request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    settings = request.app.state.settings
    limits = Limits.from_settings(settings)
    content = await file.read(limits.max_bytes + 1)
    db = get_db(request)
    strict = all_or_nothing == "on"

    def run() -> dict[str, Any]:
        try:
            if len(content) > limits.max_bytes:
                raise LimitExceeded("max_bytes", limits.max_bytes, "file too large")
            if format not in transfer.FORMATS:
                return {"error": f"unknown format '{format}'", "errors": []}
            if action == "preview":
                imports.check_cheaply(format, content, limits)
                with db.tenant_transaction(info.actor.tenant_id) as s:
                    job, report = imports.save_preview(s, info.actor, format, content, filename=file.filename or "",
                                                       all_or_nothing=strict, limits=limits)  # fmt: skip
                    return {"preview": report, "job_id": job.id, "filename": job.filename, "all_or_nothing": strict}
            if len(content) > settings.knowledge_import_background_bytes:
                with db.tenant_transaction(info.actor.tenant_id) as s:
                    job = imports.queue(s, info.actor, format, content, filename=file.filename or "",
                                        all_or_nothing=strict, limits=limits)  # fmt: skip
                    job_id = job.id
                return {"job_id": job_id}
            with db.tenant_transaction(info.actor.tenant_id) as s:
                imports.refuse_if_busy(s)
                return {
                    "report": transfer.import_entries(
                        s, info.actor, format, content, all_or_nothing=strict, limits=limits
                    )
                }
        except LimitExceeded as exc:
            # The limit in the reader's language; the API's detail (with the setting's name) is for operators.
            return {"error": exc.detail, "errors": [], "limit": exc.limit, "limit_value": exc.value}
        except DomainError as exc:
            return {"error": exc.detail, "errors": exc.errors}

    result = await run_in_threadpool(run)
    if "preview" in result:
        return _page(request, info, "knowledge/import_preview.html", result)
    if "job_id" in result:
        return RedirectResponse(f"/knowledge/imports/{result['job_id']}", status_code=303)
    return _page(request, info, "knowledge/import.html", result, 200 if "report" in result else 422)


@router.post("/imports/{job_id}/confirm")
async def confirm_import(request: Request, job_id: uuid.UUID, csrf: Short) -> Response:
    """Import a previewed file: small ones right away, big ones as a background job; either way the job's page
    shows the outcome."""
    from starlette.concurrency import run_in_threadpool

    info = await run_in_threadpool(_session, request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    db = get_db(request)

    def run() -> Response:
        try:
            with db.tenant_transaction(info.actor.tenant_id) as s:
                imports.confirm(s, info.actor, job_id)  # queues the import's job in this transaction
        except DomainError as exc:
            return _page(request, info, "knowledge/import.html", {"error": exc.detail, "errors": []}, exc.status)
        return RedirectResponse(f"/knowledge/imports/{job_id}", status_code=303)

    return await run_in_threadpool(run)


@router.get("/imports/{job_id}")
def import_job(request: Request, job_id: uuid.UUID) -> Response:
    """A background import's progress; the page reloads itself every few seconds until the job has ended."""
    info = _session(request)
    if info is None:
        return _login()
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        try:
            job = job_out(imports.get(s, info.actor, job_id))
        except DomainError as exc:
            return _page(request, info, "knowledge/denied.html", {"message": exc.detail}, exc.status)
    return _page(request, info, "knowledge/import_job.html", {"job": job})


@router.get("/{article_id}")
def detail(
    request: Request, article_id: uuid.UUID, error: str = "", diff_from: Int32 = 0, diff_to: Int32 = 0
) -> Response:
    info = _session(request)
    if info is None:
        return _login()
    zone = info.tenant.time_zone
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        try:
            article = queries.get_article(s, info.actor, article_id)
        except DomainError as exc:
            return _page(request, info, "knowledge/denied.html", {"message": exc.detail}, exc.status)
        versions = queries.versions(s, article.id)
        cats = queries.categories(s)
        siblings = queries.translations(s, article)
        pending = [x for x in queries.list_suggestions(s, info.actor, "open") if x.article_id == article.id]
        diff = actions.diff_versions(s, info.actor, article.id, diff_from, diff_to) if diff_from and diff_to else None
    values = {
        "effective_from": _local(article.effective_from, zone),
        "expires_at": _local(article.expires_at, zone),
    }
    return _page(
        request,
        info,
        "knowledge/edit.html",
        {
            "article": article,
            "preview": render.to_html(article.body),
            "versions": versions,
            "cats": cats,
            "translations": siblings,
            "suggestions": pending,
            "diff": diff,
            "diff_range": (diff_from, diff_to),
            "error": error[:300],
            "values": values,
            "zone": zone,
        },
    )


@router.post("/{article_id}")
def save(
    request: Request,
    article_id: uuid.UUID,
    csrf: Short,
    version: Annotated[Int32, Form()],
    title: Short = "",
    variants: Text = "",
    body: Text = "",
    summary: Short = "",
    tags: Short = "",
    category_id: Short = "",
    visibility: Short = "public",
    effective_from: Short = "",
    expires_at: Short = "",
    note: Short = "",
) -> Response:
    info = _session(request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    zone = info.tenant.time_zone
    try:
        values = _form_values(
            title, variants, body, summary, tags, category_id, visibility, effective_from, expires_at, zone
        )
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            article = queries.get_article(s, info.actor, article_id)
            if not info.actor.can(Perm.KNOWLEDGE_PUBLISH if article.status == "published" else Perm.KNOWLEDGE_WRITE):
                # Agents and others without the right propose the change instead.
                actions.suggest_edit(
                    s, info.actor, article_id,
                    SuggestionCreate(title=values["title"], variants=values["variants"], body=values["body"], note=note),
                )  # fmt: skip
                return RedirectResponse(f"/knowledge/{article_id}?error=suggested", status_code=303)
            data = ArticleUpdate.model_validate({**values, "note": note[:500], "version": version})
            actions.update_article(s, info.actor, article_id, data)
    except (ValidationError, DomainError, ValueError) as exc:
        return RedirectResponse(f"/knowledge/{article_id}?error={_quote(_message(exc))}", status_code=303)
    return RedirectResponse(f"/knowledge/{article_id}", status_code=303)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300])


@router.post("/{article_id}/status")
def change_status(request: Request, article_id: uuid.UUID, csrf: Short, status: Short, note: Short = "") -> Response:
    info = _session(request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    try:
        target = ArticleStatus(status)
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.change_status(s, info.actor, article_id, target, note[:500])
    except (DomainError, ValueError) as exc:
        return RedirectResponse(f"/knowledge/{article_id}?error={_quote(_message(exc))}", status_code=303)
    return RedirectResponse(f"/knowledge/{article_id}", status_code=303)


@router.post("/suggestions/{suggestion_id}")
def decide(request: Request, suggestion_id: uuid.UUID, csrf: Short, decision: Short) -> Response:
    info = _session(request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        article_id = queries.get_suggestion(s, suggestion_id).article_id
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.decide_suggestion(s, info.actor, suggestion_id, decision == "accept")
    except DomainError as exc:
        return RedirectResponse(f"/knowledge/{article_id}?error={_quote(exc.detail)}", status_code=303)
    return RedirectResponse(f"/knowledge/{article_id}", status_code=303)


@router.post("/{article_id}/rollback")
def rollback(
    request: Request, article_id: uuid.UUID, csrf: Short, to_version: Annotated[Int32, Form(ge=1)]
) -> Response:
    info = _session(request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.rollback(s, info.actor, article_id, to_version)
    except DomainError as exc:
        return RedirectResponse(f"/knowledge/{article_id}?error={_quote(exc.detail)}", status_code=303)
    return RedirectResponse(f"/knowledge/{article_id}", status_code=303)
