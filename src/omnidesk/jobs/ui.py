"""The admin page of failed background jobs (``/admin/jobs``): kind, last error, attempts, time; retry or discard.

Server-rendered forms with the session's CSRF token, through the same actions as the API (permission and audit)."""

from __future__ import annotations

import uuid
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from omnidesk.core.errors import DomainError
from omnidesk.i18n import pick_language, translate
from omnidesk.jobs import actions, queries, registry
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)
NOTICES = ("retried", "discarded")


@router.get("/admin/jobs")
def jobs_page(request: Request, done: str = "") -> Response:
    return _page(request, notice=done if done in NOTICES else "")


def _page(request: Request, *, notice: str = "", error: str = "", status_code: int = 200) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    if not info.actor.can(Perm.TENANT_SETTINGS):
        return render(request, "bot/forbidden.html", {"lang": lang, "forbidden_key": "jobs.forbidden"}, 403)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        jobs = queries.list_jobs(s, info.actor)
    labels = {}
    for kind in registry.KINDS:
        text = translate(f"jobs.kinds.{kind}", lang)
        labels[kind] = text if text != f"jobs.kinds.{kind}" else kind
    return render(
        request,
        "jobs/dead.html",
        {
            "lang": lang,
            "csrf": info.csrf_token,
            "user": info.user,
            "jobs": jobs,
            "labels": labels,
            "zone": ZoneInfo(info.tenant.time_zone),
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _act(request: Request, job_id: uuid.UUID, csrf: str, what: str) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            (actions.retry if what == "retried" else actions.discard)(s, info.actor, job_id)
    except DomainError as exc:
        return _page(request, error=exc.detail, status_code=exc.status)
    return RedirectResponse(f"/admin/jobs?done={what}", status_code=303)


@router.post("/admin/jobs/{job_id}/retry")
def retry(request: Request, job_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return _act(request, job_id, csrf, "retried")


@router.post("/admin/jobs/{job_id}/discard")
def discard(request: Request, job_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return _act(request, job_id, csrf, "discarded")
