"""The signed-in web UI: log-in, log-out, language switch and a home page (the workspace comes later)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from omnidesk.accounts import auth
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.queries import visible_to
from omnidesk.core.errors import RateLimited, Unauthenticated
from omnidesk.core.settings import Settings
from omnidesk.customers.models import Customer
from omnidesk.i18n import LANGUAGES, pick_language, translate
from omnidesk.security import devices, tokens
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.security.ratelimit import RateLimiter
from omnidesk.web.deps import client_ip, get_db, get_settings_dep, session_cookie_name

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "omnidesk_login_csrf"
LANG_COOKIE = "omnidesk_lang"


def templates(request: Request) -> Jinja2Templates:
    t: Jinja2Templates = request.app.state.templates
    return t


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    lang = context.get("lang") or pick_language(
        request.cookies.get(LANG_COOKIE), accept_language=request.headers.get("accept-language")
    )
    tenant = context.get("tenant")
    zone = _zone(getattr(tenant, "time_zone", None))
    context = {
        **context,
        "lang": lang,
        "t": lambda key, **kw: translate(key, lang, **kw),
        "label": lambda kind, value: label(kind, value, lang),
        "when": lambda moment, fmt="%Y-%m-%d %H:%M": local_time(moment, zone, fmt),
    }
    response = templates(request).TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


_LABELS = {
    "priority": "tickets.priority.{}",
    "status": "status.{}",
    "ticket_status": "tickets.status.{}",
    "channel": "channel.{}",
    "sender": "sender.{}",
    "field": "tickets.field.{}",
}


def label(kind: str, value: object, lang: str) -> str:
    """A stored code (``high``, ``pending_customer``, ``bot``, ``wechat``) as words of the page's language; the
    code itself only when no text exists for it."""
    if value is None or value == "":
        return ""
    code = str(getattr(value, "value", value))
    key = _LABELS.get(kind, kind + ".{}").format(code)
    text = translate(key, lang)
    return code if text == key else text


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (UTC; naive ones are UTC too, as SQLite returns them) in the tenant's time zone."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime(fmt)


def _same_site_path(path: str) -> str:
    """A path on this site, or "" (never "//host" or "/\\host", which browsers read as another site)."""
    if not path.startswith("/") or path.startswith(("//", "/\\")) or len(path) > 2000:
        return ""
    return path


def _same_site_page(referer: str | None, request: Request) -> str:
    """Back to the page the person switched on (a reset link must survive the switch), never off this site."""
    if not referer:
        return "/"
    parts = urlsplit(referer)
    if parts.netloc != request.url.netloc:
        return "/"
    return _same_site_path(parts.path + (f"?{parts.query}" if parts.query else "")) or "/"


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str = "") -> RedirectResponse:
    back = _same_site_path(next) or _same_site_page(request.headers.get("referer"), request)
    response = RedirectResponse(back, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.get("/login")
def login_page(request: Request, workspace: str = "", error: str = "") -> HTMLResponse:
    csrf = tokens.new_csrf_token()
    lang = pick_language(request.cookies.get(LANG_COOKIE), accept_language=request.headers.get("accept-language"))
    message = translate(f"login.{error}", lang) if error in ("failed", "rate_limited", "expired") else ""
    notice = translate("login.password_set", lang) if error == "password_set" else ""
    settings = get_settings_dep(request)
    default_ws = workspace or ("demo" if settings.environment.value in ("demo", "development") else "")
    response = render(
        request,
        "login.html",
        {"csrf": csrf, "error": message, "notice": notice, "workspace": default_ws[:63], "email": "", "lang": lang},
        status_code=401 if message else 200,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        max_age=3600,
    )
    return response


def device_cookie_name(settings: Settings) -> str:
    return "__Host-omnidesk_device" if settings.secure_cookies else "omnidesk_device"


def _login_again(request: Request, workspace: str, email: str, status_code: int, message: str) -> HTMLResponse:
    """The log-in form again, with a message (used where a redirect would hide the status, e.g. 429)."""
    settings = get_settings_dep(request)
    csrf = tokens.new_csrf_token()
    response = render(
        request,
        "login.html",
        {"csrf": csrf, "error": message, "workspace": workspace[:63], "email": email[:254]},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=settings.secure_cookies, max_age=3600
    )
    return response


def _wait_text(lang: str, seconds: int) -> str:
    if seconds < 120:
        return translate("login.throttled_seconds", lang, seconds=seconds)
    return translate("login.throttled_minutes", lang, minutes=(seconds + 59) // 60)


@router.post("/login")
def login_submit(
    request: Request,
    workspace: Annotated[str, Form(max_length=63)],
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    settings = get_settings_dep(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        return RedirectResponse("/login?error=expired", status_code=303)
    ip = client_ip(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    device_key = for_purpose(settings, Purpose.DEVICE)
    device = devices.read(device_key, request.cookies.get(device_cookie_name(settings)))
    try:
        limiter.hit(f"login-ip:{ip}", settings.login_rate_per_ip, 300)
        if device is not None and device.accounts:
            # A known device skips the account's delay, so its own attempts are bounded here instead.
            limiter.hit(f"login-device:{device.id}", settings.login_max_failures * 2, 900)
        result = auth.login(
            get_db(request),
            settings,
            tenant_slug=workspace,
            email=email,
            password=password,
            throttle=request.app.state.login_throttle,
            known_accounts=device.accounts if device else frozenset(),
            ip=ip,
            user_agent=request.headers.get("user-agent", ""),
        )
    except RateLimited as exc:
        lang = pick_language(request.cookies.get(LANG_COOKIE), accept_language=request.headers.get("accept-language"))
        throttled = _login_again(request, workspace, email, 429, _wait_text(lang, exc.retry_after))
        throttled.headers["Retry-After"] = str(exc.retry_after)
        return throttled
    except Unauthenticated:
        return RedirectResponse(f"/login?error=failed&workspace={quote(workspace[:63])}", status_code=303)
    response = RedirectResponse("/account/password" if result.must_change_password else "/", status_code=303)
    response.set_cookie(
        session_cookie_name(settings),
        result.token,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
        max_age=settings.session_absolute_hours * 3600,
    )
    response.set_cookie(
        device_cookie_name(settings),
        devices.remember(device_key, device, result.user_id),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
        max_age=devices.TTL_SECONDS,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    settings = get_settings_dep(request)
    token = request.cookies.get(session_cookie_name(settings))
    if token:
        try:
            info = auth.resolve_session(get_db(request), settings, token, allow_password_change=True)
            if hmac.compare_digest(info.csrf_token, csrf):
                auth.logout(get_db(request), token)
        except Unauthenticated:
            pass
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie_name(settings), path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    settings = get_settings_dep(request)
    token = request.cookies.get(session_cookie_name(settings))
    if not token:
        return RedirectResponse("/login", status_code=303)
    db = get_db(request)
    try:
        info = auth.resolve_session(db, settings, token, ip=client_ip(request))
    except Unauthenticated:
        return RedirectResponse("/login?error=expired", status_code=303)
    actor = info.actor
    request.state.actor = actor  # the header's settings link asks what this person may open
    counts: dict[str, int] | None = None
    recent: list[Conversation] = []
    if actor.can(Perm.CONVERSATIONS_READ):
        with db.tenant_read(actor.tenant_id) as s:
            scope = visible_to(actor)
            base = select(func.count()).select_from(Conversation).where(Conversation.status == "open")
            if scope is not None:
                base = base.where(scope)
            counts = {
                "open": s.scalar(base) or 0,
                "unassigned": s.scalar(base.where(Conversation.assignee_id.is_(None))) or 0,
                "mine": s.scalar(base.where(Conversation.assignee_id == actor.staff_id)) or 0,
                "customers": s.scalar(select(func.count()).select_from(Customer)) or 0,
            }
            stmt = select(Conversation).order_by(Conversation.created_at.desc()).limit(10)
            if scope is not None:
                stmt = stmt.where(scope)
            recent = list(s.scalars(stmt))
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    return render(
        request,
        "home.html",
        {
            "user": info.user,
            "tenant": info.tenant,
            "csrf": info.csrf_token,
            "counts": counts,
            "recent": recent,
            "lang": lang,
            "can_bot": actor.can(Perm.BOT_TEST),
            "can_staff": actor.can(Perm.STAFF_MANAGE),
        },
    )
