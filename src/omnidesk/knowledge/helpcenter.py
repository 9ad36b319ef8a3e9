"""The public help center at ``/help/<tenant>``: server-rendered, works without JavaScript, indexable.

Readers are anonymous: they see only live, public entries. A random first-party cookie groups one visitor's views,
searches, ratings and "contact us" clicks into a help-center session, which is what deflection is counted on. The
JSON ``/help/<tenant>/api/suggest`` feeds the widget's as-you-type suggestions; it is rate limited per IP.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from omnidesk.accounts.models import Tenant
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import NotFound
from omnidesk.i18n import LANGUAGES, pick_language, translate
from omnidesk.knowledge import actions, analytics, queries, render
from omnidesk.knowledge.index import Visibility
from omnidesk.knowledge.models import KbArticle, KbCategory
from omnidesk.knowledge.search import CACHE
from omnidesk.web.deps import client_ip, get_db, public_base_url


class _HtmlErrors(APIRoute):
    """Page routes answer a missing tenant, category or article with a friendly HTML 404, not problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if "/api/" in self.path:
            return handler

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound:
                lang = pick_language(
                    request.cookies.get(LANG_COOKIE), accept_language=request.headers.get("accept-language")
                )
                slug = str(request.path_params.get("tenant_slug", ""))[:63]
                html = request.app.state.templates.get_template("help/not_found.html").render(
                    lang=lang, base=f"/help/{slug}", t=lambda key, **kw: translate(key, lang, **kw)
                )
                return HTMLResponse(html, status_code=404, headers={"Content-Security-Policy": CSP})

        return route


router = APIRouter(prefix="/help/{tenant_slug}", include_in_schema=False, route_class=_HtmlErrors)

SESSION_COOKIE = "omnidesk_hc"
LANG_COOKIE = "omnidesk_lang"
PUBLIC = Visibility(staff=False)
SUGGEST_PER_MINUTE = 120
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class Site:
    tenant_id: uuid.UUID
    slug: str
    name: str
    lang: str
    session_key: str
    new_session: bool


def _site(request: Request, tenant_slug: str, lang: str | None) -> Site:
    db: Database = get_db(request)
    with db.session(platform=True) as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == tenant_slug[:63], Tenant.is_active.is_(True)))
        if tenant is None:
            raise NotFound("no help center here")
        default = tenant.default_language
        tenant_id, name = tenant.id, tenant.name
    # An explicit choice (?lang=, the switch's cookie) wins, then the browser's Accept-Language when it names a
    # language the help center has, then the tenant's default.
    accept = request.headers.get("accept-language") or ""
    tags = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    browser = pick_language(accept_language=accept) if any(t.startswith(("zh", "en")) for t in tags) else None
    language = pick_language(lang, request.cookies.get(LANG_COOKIE), browser, default)
    key = request.cookies.get(SESSION_COOKIE, "")
    new = not (16 <= len(key) <= 64 and key.replace("-", "").replace("_", "").isalnum())
    if new:
        key = secrets.token_urlsafe(18)
    return Site(tenant_id, tenant_slug, name, language, key, new)


def _page(request: Request, site: Site, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    lang = site.lang
    ctx = {
        **context,
        "site": site,
        "lang": lang,
        "other_lang": "en" if lang == "zh-CN" else "zh-CN",
        "base": f"/help/{site.slug}",
        "t": lambda key, **kw: translate(key, lang, **kw),
        "loc": lambda names: _localised(names, lang),
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Content-Language"] = lang
    _remember(response, site)
    return response


def _remember(response: Response, site: Site) -> None:
    if site.new_session:
        response.set_cookie(
            SESSION_COOKIE, site.session_key, max_age=1800, httponly=True, samesite="lax", path=f"/help/{site.slug}"
        )


def _localised(names: dict[str, str], lang: str) -> str:
    return names.get(lang) or next(iter(names.values()), "")


def _record(db: Database, site: Site, kind: str, **kw: Any) -> None:
    with db.tenant_transaction(site.tenant_id) as s:
        actions.record_event(s, site.tenant_id, kind, session_key=site.session_key, language=site.lang, **kw)


def _live_public() -> Any:
    return select(KbArticle).where(queries.live_clause(utcnow()), KbArticle.visibility == "public")


def _description(article: KbArticle) -> str:
    text = article.summary or render.to_text(article.body)
    return text[:157] + "…" if len(text) > 160 else text


LangQ = Annotated[str | None, Query(max_length=8)]


@router.get("")
def home(request: Request, tenant_slug: str, lang: LangQ = None) -> HTMLResponse:
    site = _site(request, tenant_slug, lang)
    db = get_db(request)
    with db.tenant_transaction(site.tenant_id) as s:
        cats = queries.categories(s)
        counts = dict(
            s.execute(
                select(KbArticle.category_id, func.count())
                .where(queries.live_clause(utcnow()), KbArticle.visibility == "public", KbArticle.language == site.lang)
                .group_by(KbArticle.category_id)
            ).all()
        )
        live = {a.id: a for a in s.scalars(_live_public().where(KbArticle.language == site.lang))}
        ranked = [live[i] for i in analytics.popular_article_ids(s, utcnow() - timedelta(days=30)) if i in live]
        recent = sorted(live.values(), key=lambda a: a.published_at or a.created_at, reverse=True)
        popular = list(dict.fromkeys([*ranked, *recent]))[:8]
    shown = [c for c in cats if counts.get(c.id)]
    return _page(request, site, "help/home.html", {"categories": shown, "counts": counts, "popular": popular})


@router.get("/categories/{category_slug}")
def category(request: Request, tenant_slug: str, category_slug: str, lang: LangQ = None) -> HTMLResponse:
    site = _site(request, tenant_slug, lang)
    with get_db(request).tenant_transaction(site.tenant_id) as s:
        cat = s.scalar(select(KbCategory).where(KbCategory.slug == category_slug[:63]))
        if cat is None:
            raise NotFound("no such category")
        articles = list(
            s.scalars(
                _live_public()
                .where(KbArticle.category_id == cat.id, KbArticle.language == site.lang)
                .order_by(KbArticle.kind, KbArticle.title)
            )
        )
    return _page(request, site, "help/category.html", {"category": cat, "articles": articles})


@router.get("/articles/{article_id}")
def article(
    request: Request, tenant_slug: str, article_id: uuid.UUID, lang: LangQ = None, rated: str = ""
) -> HTMLResponse:
    site = _site(request, tenant_slug, lang)
    db = get_db(request)
    with db.tenant_transaction(site.tenant_id) as s:
        item = s.scalar(_live_public().where(KbArticle.id == article_id))
        if item is None:
            raise NotFound("no such article")
        if lang is None and item.language != site.lang:
            site = Site(site.tenant_id, site.slug, site.name, item.language, site.session_key, site.new_session)
        now = utcnow()
        siblings = [a for a in queries.translations(s, item) if queries.is_live(a, now) and a.visibility == "public"]
        cat = queries.get_category(s, item.category_id) if item.category_id else None
        index, _ = CACHE.get(s, site.tenant_id)
        related = index.search(
            " ".join([item.title, *item.tags]), limit=5, language=item.language, allow=PUBLIC, exclude=item.id
        )
        actions.record_event(
            s, site.tenant_id, "view", session_key=site.session_key, article_id=item.id, language=item.language
        )
        body_html = render.to_html(item.body)
    return _page(
        request,
        site,
        "help/article.html",
        {
            "article": item,
            "body_html": body_html,
            "description": _description(item),
            "translations": siblings,
            "category": cat,
            "related": related,
            "rated": rated in ("yes", "no"),
        },
    )


@router.post("/articles/{article_id}/feedback")
def feedback(
    request: Request, tenant_slug: str, article_id: uuid.UUID, helpful: Annotated[str, Form(pattern="^(yes|no)$")]
) -> RedirectResponse:
    site = _site(request, tenant_slug, None)
    request.app.state.rate_limiter.hit(f"hc-feedback:{client_ip(request)}", 60, 60)
    with get_db(request).tenant_transaction(site.tenant_id) as s:
        actions.rate_article(
            s, site.tenant_id, article_id, helpful == "yes", session_key=site.session_key, now=utcnow()
        )
    response = RedirectResponse(f"/help/{site.slug}/articles/{article_id}?rated={helpful}#feedback", status_code=303)
    _remember(response, site)
    return response


@router.get("/search")
def search(
    request: Request,
    tenant_slug: str,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str | None, Query(max_length=63)] = None,
    lang: LangQ = None,
) -> HTMLResponse:
    request.app.state.rate_limiter.hit(f"hc-search:{client_ip(request)}", SUGGEST_PER_MINUTE, 60)
    site = _site(request, tenant_slug, lang)
    db = get_db(request)
    hits: list[Any] = []
    with db.tenant_transaction(site.tenant_id) as s:
        cats = queries.categories(s)
        chosen = next((c for c in cats if c.slug == category), None)
        if q.strip():
            index, _ = CACHE.get(s, site.tenant_id)
            hits = index.search(
                q, limit=20, language=site.lang, category_id=chosen.id if chosen else None, allow=PUBLIC
            )
            actions.record_event(
                s, site.tenant_id, "search", session_key=site.session_key, query=q.strip(),
                result_count=len(hits), language=site.lang,
            )  # fmt: skip
    return _page(request, site, "help/search.html", {"q": q, "hits": hits, "categories": cats, "chosen": chosen})


@router.get("/contact")
def contact(request: Request, tenant_slug: str) -> RedirectResponse:
    """Records that this help-center session asked for a person, then opens the hosted chat."""
    site = _site(request, tenant_slug, None)
    _record(get_db(request), site, "contact")
    response = RedirectResponse(f"/chat/{site.slug}", status_code=303)
    _remember(response, site)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, tenant_slug: str, code: str) -> RedirectResponse:
    response = RedirectResponse(f"/help/{tenant_slug[:63]}", status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.get("/sitemap.xml")
def sitemap(request: Request, tenant_slug: str) -> Response:
    site = _site(request, tenant_slug, None)
    # The configured public URL, not the request's Host header (which a client chooses): without it (development
    # only) the links follow the Host header and the answer is for this caller alone, never a shared cache.
    origin, configured = public_base_url(request)
    base = origin + f"/help/{site.slug}"
    with get_db(request).tenant_transaction(site.tenant_id) as s:
        rows = list(s.execute(_live_public().with_only_columns(KbArticle.id, KbArticle.updated_at, KbArticle.language)))
        cats = [c.slug for c in queries.categories(s)]
    urls = [f"<url><loc>{xml_escape(base)}</loc></url>"]
    urls += [f"<url><loc>{xml_escape(f'{base}/categories/{c}')}</loc></url>" for c in cats]
    urls += [
        f"<url><loc>{xml_escape(f'{base}/articles/{r[0]}?lang={r[2]}')}</loc><lastmod>{r[1]:%Y-%m-%d}</lastmod></url>"
        for r in rows
    ]
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    body += "".join(urls) + "</urlset>"
    cache = "public, max-age=300" if configured else "private, no-store"
    return Response(body, media_type="application/xml", headers={"Cache-Control": cache})


@router.get("/api/suggest")
def suggest(
    request: Request,
    tenant_slug: str,
    q: Annotated[str, Query(max_length=200)] = "",
    lang: LangQ = None,
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> JSONResponse:
    """Public, tenant-scoped suggestions as the customer types (for the widget and the help-center search box)."""
    request.app.state.rate_limiter.hit(f"hc-suggest:{client_ip(request)}", SUGGEST_PER_MINUTE, 60)
    site = _site(request, tenant_slug, lang)
    items: list[dict[str, Any]] = []
    if q.strip():
        with get_db(request).tenant_transaction(site.tenant_id) as s:
            index, _ = CACHE.get(s, site.tenant_id)
            language = lang if lang in LANGUAGES else None
            hits = index.search(q, limit=limit, language=language, allow=PUBLIC, prefix=True)
        items = [
            {
                "id": str(h.doc.id),
                "title": h.doc.title,
                "title_html": h.title_html,
                "snippet_html": h.snippet_html,
                "language": h.doc.language,
                "url": f"/help/{site.slug}/articles/{h.doc.id}",
            }
            for h in hits
        ]
    return JSONResponse({"items": items}, headers={"Cache-Control": "no-store"})
