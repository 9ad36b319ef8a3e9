"""FastAPI dependencies: the database, the caller, and short aliases for handler signatures."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from omnidesk.accounts import auth
from omnidesk.core.actor import Actor
from omnidesk.core.db import Database
from omnidesk.core.errors import PermissionDenied, Unauthenticated
from omnidesk.core.settings import Settings
from omnidesk.security.proxies import client_ip as client_ip  # re-exported: HTTP handlers ask web.deps
from omnidesk.security.ratelimit import RateLimiter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def public_base_url(request: Request) -> tuple[str, bool]:
    """The absolute base of links that leave the response (sitemap, widget snippet, password-reset links) and
    whether it is the configured ``OMNIDESK_PUBLIC_URL``.

    The Host header is chosen by the client: a base taken from it (development without the setting; production
    refuses to start without it) may serve only the one caller, so such a response must not be stored by a shared
    cache (``Cache-Control: private, no-store``).
    """
    configured = get_settings_dep(request).public_url
    if configured:
        return configured.rstrip("/"), True
    return str(request.base_url).rstrip("/"), False


def request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix pins the cookie to this host and path and requires Secure (ASVS 3.3.x).
    return "__Host-omnidesk_session" if settings.secure_cookies else "omnidesk_session"


def current_actor(request: Request) -> Actor:
    """Authenticate a Bearer API key or a session cookie (with its CSRF token on unsafe methods)."""
    return _authenticate(request, allow_password_change=False)


def actor_changing_password(request: Request) -> Actor:
    """Like :func:`current_actor`, but also lets in a person who must still replace a one-time password (for the
    few endpoints that let them do so)."""
    return _authenticate(request, allow_password_change=True)


def _authenticate(request: Request, *, allow_password_change: bool) -> Actor:
    db = get_db(request)
    settings = get_settings_dep(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    ip = client_ip(request)
    limiter.hit(f"api:{ip}", settings.api_rate_per_minute, 60)
    header = request.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("use 'Authorization: Bearer <API key>'")
        actor = auth.authenticate_api_key(db, credential.strip(), ip=ip, request_id=request_id(request))
        request.state.actor = actor  # named in the security events of this request (web/security_events.py)
        return actor
    token = request.cookies.get(session_cookie_name(settings))
    if token:
        info = auth.resolve_session(
            db, settings, token, ip=ip, request_id=request_id(request), allow_password_change=allow_password_change
        )
        request.state.actor = info.actor
        if request.method not in SAFE_METHODS and request.headers.get("x-csrf-token") != info.csrf_token:
            raise PermissionDenied("missing or wrong X-CSRF-Token header for a cookie-authenticated request")
        return info.actor
    raise Unauthenticated("authentication required: send 'Authorization: Bearer <API key>' or sign in")


def page_session(request: Request, *, allow_password_change: bool = False) -> auth.SessionInfo | None:
    """The signed-in staff session behind a browser page, or None (the page then sends the browser to /login).

    A person who must replace a one-time password raises :class:`PasswordChangeRequired`, which sends the browser
    to the change-password page (see ``web.problems``) whatever page it asked for.
    """
    settings = get_settings_dep(request)
    token = request.cookies.get(session_cookie_name(settings))
    if not token:
        return None
    try:
        info = auth.resolve_session(
            get_db(request),
            settings,
            token,
            ip=client_ip(request),
            request_id=request_id(request),
            allow_password_change=allow_password_change,
        )
    except Unauthenticated:
        return None
    request.state.actor = info.actor
    return info


def check_form_csrf(info: auth.SessionInfo, csrf: str) -> None:
    """A browser form must carry its session's CSRF token (pages embed it in a hidden field)."""
    if not hmac.compare_digest(info.csrf_token, csrf):
        raise PermissionDenied("the form expired; reload the page and try again")


def platform_actor(request: Request) -> auth.PlatformActor:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("this operation needs a platform key: 'Authorization: Bearer <platform key>'")
    return auth.authenticate_platform_key(get_db(request), credential.strip())


DbDep = Annotated[Database, Depends(get_db)]
ActorDep = Annotated[Actor, Depends(current_actor)]
PasswordChangeActorDep = Annotated[Actor, Depends(actor_changing_password)]
PlatformDep = Annotated[auth.PlatformActor, Depends(platform_actor)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
