"""The admin page of outgoing webhooks (``/admin/webhooks``): subscribe a URL, see its secret once, disable,
enable, delete; the recent deliveries with their state and a replay button.

Server-rendered forms with the session's CSRF token, through the same actions as the API (permission, audit)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from omnidesk.core.errors import DomainError
from omnidesk.i18n import pick_language
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.outbound import OutboundPolicy
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, get_settings_dep, page_session
from omnidesk.web.ui import LANG_COOKIE, render
from omnidesk.webhooks import actions, queries
from omnidesk.webhooks.catalogue import EVENT_TYPES
from omnidesk.webhooks.schemas import SubscriptionIn, SubscriptionPatch

router = APIRouter(include_in_schema=False)
NOTICES = ("disabled", "enabled", "deleted", "replayed")
PAGE = "/admin/webhooks"


@router.get(PAGE)
def webhooks_page(request: Request, done: str = "") -> Response:
    return _page(request, notice=done if done in NOTICES else "")


def _page(
    request: Request, *, notice: str = "", error: str = "", created: Any = None, status_code: int = 200
) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    if not info.actor.can(Perm.TENANT_SETTINGS):
        return render(request, "bot/forbidden.html", {"lang": lang, "forbidden_key": "webhooks.forbidden"}, 403)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        subscriptions = queries.list_subscriptions(s, info.actor)
        deliveries = queries.recent_deliveries(s, info.actor)
    urls = {sub.id: sub.url for sub in subscriptions}
    return render(
        request,
        "webhooks/index.html",
        {
            "lang": lang,
            "csrf": info.csrf_token,
            "user": info.user,
            "subscriptions": subscriptions,
            "deliveries": deliveries,
            "urls": urls,
            "event_types": EVENT_TYPES,
            "zone": ZoneInfo(info.tenant.time_zone),
            "notice": notice,
            "error": error,
            "created": created,
        },
        status_code=status_code,
    )


@router.post(PAGE)
def create(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    url: Annotated[str, Form(max_length=2000)],
    event_types: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Answers with the page itself (not a redirect): the secret is shown in this answer only."""
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    settings = get_settings_dep(request)
    try:
        data = SubscriptionIn(url=url, event_types=event_types or [], description=description)
    except ValidationError:
        return _page(request, error="URL and at least one event type are required", status_code=422)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            created = actions.create(
                s, info.actor, data, OutboundPolicy.from_settings(settings),
                for_purpose(settings, Purpose.TENANT_SECRETS),
            )  # fmt: skip
            shown = {"url": created.subscription.url, "secret": created.secret}
    except DomainError as exc:
        return _page(request, error=exc.detail, status_code=exc.status)
    return _page(request, created=shown)


def _act(request: Request, csrf: str, what: str, run: Any) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    settings = get_settings_dep(request)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            run(s, info.actor, OutboundPolicy.from_settings(settings))
    except DomainError as exc:
        return _page(request, error=exc.detail, status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done={what}", status_code=303)


@router.post(PAGE + "/{webhook_id}/disable")
def disable(request: Request, webhook_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return _act(request, csrf, "disabled",
                lambda s, a, p: actions.update(s, a, webhook_id, SubscriptionPatch(enabled=False), p))  # fmt: skip


@router.post(PAGE + "/{webhook_id}/enable")
def enable(request: Request, webhook_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return _act(request, csrf, "enabled",
                lambda s, a, p: actions.update(s, a, webhook_id, SubscriptionPatch(enabled=True), p))  # fmt: skip


@router.post(PAGE + "/{webhook_id}/delete")
def delete(request: Request, webhook_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return _act(request, csrf, "deleted", lambda s, a, p: actions.delete(s, a, webhook_id))


@router.post(PAGE + "/{webhook_id}/deliveries/{delivery_id}/replay")
def replay(
    request: Request, webhook_id: uuid.UUID, delivery_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    return _act(request, csrf, "replayed", lambda s, a, p: actions.replay(s, a, webhook_id, delivery_id))
