"""Pages for a person's own credentials: change password (also the forced first one), sign out other sessions,
and the one-time reset link's set-new-password page (an admin makes the link in the console, ``accounts/ui.py``).

Every form carries a CSRF token; every change goes through ``accounts.credentials``, like the API.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnidesk.accounts import auth, credentials
from omnidesk.core.errors import DomainError, InvalidInput, NotFound, RateLimited
from omnidesk.core.schemas import Int32
from omnidesk.i18n import pick_language, translate
from omnidesk.security import tokens
from omnidesk.security.ratelimit import RateLimiter
from omnidesk.web.deps import check_form_csrf, client_ip, get_db, get_settings_dep, page_session
from omnidesk.web.ui import LANG_COOKIE, LOGIN_CSRF_COOKIE, render

router = APIRouter(include_in_schema=False)

PasswordField = Annotated[str, Form(max_length=200)]


def _lang(request: Request, info: auth.SessionInfo | None = None, fallback: str | None = None) -> str:
    return pick_language(
        request.cookies.get(LANG_COOKIE),
        info.user.language if info else fallback,
        accept_language=request.headers.get("accept-language"),
    )


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def _login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def _problem_text(exc: DomainError, lang: str) -> str:
    if isinstance(exc, RateLimited):
        return translate("account.too_many", lang, minutes=(exc.retry_after + 59) // 60)
    return exc.detail


# ---- the signed-in person's own password and sessions ----


def _account_page(
    request: Request, info: auth.SessionInfo, *, error: str = "", notice: str = "", status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "account/password.html",
        {
            "lang": _lang(request, info),
            "user": info.user,
            "csrf": info.csrf_token,
            "forced": info.user.must_change_password,
            "error": error,
            "notice": notice,
        },
        status_code,
    )


@router.get("/account")
def account(request: Request) -> Response:
    return RedirectResponse("/account/password", status_code=303)


@router.get("/account/password")
def password_page(request: Request, done: str = "", n: Int32 = 0) -> Response:
    info = page_session(request, allow_password_change=True)
    if info is None:
        return _login()
    lang = _lang(request, info)
    notice = ""
    if done == "changed":
        notice = translate("account.password_changed", lang, count=max(n, 0))
    elif done == "ended":
        notice = translate("account.sessions_ended", lang, count=max(n, 0))
    return _account_page(request, info, notice=notice)


@router.post("/account/password")
def password_submit(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    current_password: PasswordField,
    new_password: PasswordField,
    confirm_password: PasswordField,
) -> Response:
    info = page_session(request, allow_password_change=True)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    lang = _lang(request, info)
    if new_password != confirm_password:
        return _account_page(request, info, error=translate("account.mismatch", lang), status_code=422)
    actor = info.actor
    try:
        _limiter(request).hit(f"pwchange:{actor.tenant_id}:{actor.id}", 10, 900)
        with get_db(request).tenant_transaction(actor.tenant_id) as s:
            ended = credentials.change_password(s, actor, current_password, new_password)
    except (InvalidInput, RateLimited) as exc:
        response = _account_page(request, info, error=_problem_text(exc, lang), status_code=exc.status)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return RedirectResponse(f"/account/password?done=changed&n={ended}", status_code=303)


@router.post("/account/sessions/end-others")
def end_other_sessions(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    info = page_session(request)
    if info is None:
        return _login()
    check_form_csrf(info, csrf)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        ended = credentials.end_other_sessions(s, info.actor)
    return RedirectResponse(f"/account/password?done=ended&n={ended}", status_code=303)


# ---- the one-time reset link (no sign-in) ----


def _no_referrer(response: Response) -> Response:
    # The token is in the path: never let it leave in a Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _reset_form(
    request: Request, token: str, target: credentials.ResetTarget, *, error: str = "", status_code: int = 200
) -> Response:
    settings = get_settings_dep(request)
    csrf = tokens.new_csrf_token()
    response = render(
        request,
        "account/reset.html",
        {
            "lang": _lang(request, fallback=target.language),
            "target": target,
            "token": token,
            "csrf": csrf,
            "error": error,
        },
        status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=settings.secure_cookies, max_age=3600
    )
    return _no_referrer(response)


def _link_gone(request: Request) -> Response:
    return _no_referrer(render(request, "account/reset_gone.html", {}, 410))


@router.get("/password-reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    try:
        with get_db(request).platform_read() as s:
            target = credentials.reset_target(s, token)
    except NotFound:
        return _link_gone(request)
    return _reset_form(request, token, target)


@router.post("/password-reset/{token}")
def reset_submit(
    request: Request,
    token: str,
    csrf: Annotated[str, Form(max_length=100)],
    new_password: PasswordField,
    confirm_password: PasswordField,
) -> Response:
    lang = _lang(request)
    try:
        _limiter(request).hit(f"pwreset-ip:{client_ip(request)}", 20, 300)
    except RateLimited as exc:
        limited = render(request, "account/reset_gone.html", {"error": _problem_text(exc, lang)}, 429)
        limited.headers["Retry-After"] = str(exc.retry_after)
        return _no_referrer(limited)
    db = get_db(request)
    try:
        with db.platform_read() as s:
            target = credentials.reset_target(s, token)
    except NotFound:
        return _link_gone(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        return _reset_form(request, token, target, error=translate("account.form_expired", lang), status_code=403)
    if new_password != confirm_password:
        return _reset_form(request, token, target, error=translate("account.mismatch", lang), status_code=422)
    try:
        with db.platform_transaction() as s:
            target = credentials.redeem_reset_link(s, token, new_password, ip=client_ip(request))
    except NotFound:
        return _link_gone(request)
    except InvalidInput as exc:
        return _reset_form(request, token, target, error=exc.detail, status_code=422)
    response = RedirectResponse(f"/login?error=password_set&workspace={target.tenant_slug}", status_code=303)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return _no_referrer(response)
