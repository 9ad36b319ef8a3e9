"""The hosted chat page ``/chat/<tenant>`` (full page, and the iframe the loader embeds).

This is the one route that may be framed by other sites: its own CSP names the tenant's allowed origins in
``frame-ancestors`` (and the middleware then adds no ``X-Frame-Options``). All script comes from static files.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from omnidesk.accounts.models import Tenant
from omnidesk.channels.widget import actions
from omnidesk.core.schemas import Int32
from omnidesk.i18n import LANGUAGES, catalogue, pick_language
from omnidesk.web.deps import get_db

router = APIRouter(include_in_schema=False)

_WIDGET_KEYS_PREFIX = "widget."


def _strings() -> dict[str, dict[str, str]]:
    return {lang: {k: v for k, v in catalogue(lang).items() if k.startswith(_WIDGET_KEYS_PREFIX)} for lang in LANGUAGES}


def frame_policy(origins: list[str]) -> str:
    ancestors = " ".join(["'self'", *origins])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        f"connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


@router.get("/chat/{tenant}")
def chat_page(tenant: str, request: Request, lang: str = "", embed: Int32 = 0) -> HTMLResponse:
    db = get_db(request)
    settings = request.app.state.settings
    with db.platform_transaction() as s:
        row = s.execute(select(Tenant.id, Tenant.name).where(Tenant.slug == tenant, Tenant.is_active.is_(True))).first()
    templates = request.app.state.templates
    language = pick_language(lang or None, accept_language=request.headers.get("accept-language"))
    if row is None:
        return HTMLResponse("<!doctype html><title>404</title><p>Not found / 未找到</p>", status_code=404)
    tenant_id, tenant_name = row
    with db.tenant_transaction(tenant_id) as s:
        config = actions.config_of(s)
        origins = [*settings.allowed_origins, *(config.allowed_origins if config else [])]
        title = (config.title if config and config.title else "") or tenant_name
        greeting = config.greeting if config else ""
        accent = config.accent_color if config else "#1f6feb"
        form = actions.prechat_form(config)
        prechat = [f.model_dump() for f in form.fields if f.enabled] if form.enabled else []
        offline_mode = config.offline_form if config else "off"
    page: dict[str, Any] = {
        "tenant": tenant,
        "title": title,
        "greeting": greeting,
        "lang": language,
        "embed": bool(embed),
        "accent": accent,
        "config": {
            "tenant": tenant,
            "lang": language,
            "embed": bool(embed),
            "greeting": greeting,
            "title": title,
            "parentOrigins": origins,
            "prechat": prechat,
            "offlineForm": offline_mode != "off",
            "maxUploadBytes": settings.max_body_bytes,
            "strings": _strings(),
        },
    }
    response: HTMLResponse = templates.TemplateResponse(request, "widget/chat.html", page)
    response.headers["Content-Security-Policy"] = frame_policy(origins)
    response.headers["Cache-Control"] = "no-store"
    return response
