"""``/settings/channels``: every way customers reach the workspace on one page, with its health, and the setup
forms of the provider channels (``/settings/channels/whatsapp``, ``telegram``, ``sms``).

Credentials are write-only: the form shows whether each is set (and its last four characters when long), an empty
field keeps the stored value. The page shows the webhook URL to paste into the provider's console, and a
"test connection" button that calls the provider with the stored credentials (through the outbound policy).
``/settings/channels/email`` belongs to the e-mail channel, not to this module: routes are registered per
provider, never as a catch-all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from omnidesk.accounts import tenant_secrets
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.catalogue import PROVIDERS, secret_name
from omnidesk.channels.providers.intake import accounts_of
from omnidesk.channels.sms.adapter import SmsAdapter
from omnidesk.channels.telegram.adapter import TelegramAdapter
from omnidesk.channels.wechat.adapter import WeChatAdapter
from omnidesk.channels.whatsapp.adapter import WhatsAppAdapter
from omnidesk.channels.widget import actions as widget_actions
from omnidesk.core.errors import DomainError
from omnidesk.i18n import pick_language
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.outbound import OutboundClient
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db, get_settings_dep, page_session, public_base_url
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)
PAGE = "/settings/channels"
NOTICES = ("saved",)


def _session(request: Request) -> Any:
    info = page_session(request)
    if info is None:
        return None, None
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    return info, lang


def _forbidden(request: Request, lang: str) -> Response:
    return render(request, "bot/forbidden.html", {"lang": lang, "forbidden_key": "messaging.forbidden"}, 403)


@router.get(PAGE)
def overview(request: Request) -> Response:
    info, lang = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.TENANT_SETTINGS):
        return _forbidden(request, lang)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        widget = widget_actions.config_of(s)
        rows = {row.provider: row for row in actions.list_channels(s)}
    channels = [{"key": key, "row": rows.get(key)} for key in PROVIDERS]
    return render(request, "settings/channels/index.html", {
        "lang": lang, "csrf": info.csrf_token, "user": info.user, "tenant": info.tenant,
        "widget_enabled": widget.enabled if widget else False, "channels": channels,
    })  # fmt: skip


def _provider_page(
    request: Request, provider: str, *, notice: str = "", error: str = "", tested: str | None = None, status: int = 200
) -> Response:
    info, lang = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.TENANT_SETTINGS):
        return _forbidden(request, lang)
    spec = PROVIDERS[provider]
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        row = actions.channel_of(s, provider)
        secrets = {name: tenant_secrets.status(s, secret_name(provider, name)) for name in spec.secrets}
    config = {name: str((row.config if row else {}).get(name) or default) for name, default in spec.config}
    base, _ = public_base_url(request)
    webhook = f"{base.rstrip('/')}/api/v1{spec.webhook_path.format(tenant=info.tenant.slug)}"
    return render(request, "settings/channels/provider.html", {
        "lang": lang, "csrf": info.csrf_token, "user": info.user, "tenant": info.tenant, "provider": provider,
        "row": row, "config": config, "secrets": secrets, "webhook": webhook, "notice": notice, "error": error,
        "tested": tested,
    }, status_code=status)  # fmt: skip


async def _save(request: Request, provider: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save_sync, request, provider, {k: str(v) for k, v in form.items()})


def _save_sync(request: Request, provider: str, form: dict[str, str]) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, form.get("csrf", ""))
    spec = PROVIDERS[provider]
    settings = get_settings_dep(request)
    config = {name: form.get(f"config.{name}", "")[:300] for name, _ in spec.config}
    secrets = {name: form.get(f"secret.{name}", "")[:500] for name in spec.secrets}
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.configure(s, info.actor, for_purpose(settings, Purpose.TENANT_SECRETS), provider, config=config,
                              secrets=secrets, enabled=form.get("enabled") == "on")  # fmt: skip
    except DomainError as exc:
        return _provider_page(request, provider, error=exc.detail, status=exc.status)
    accounts_of(request).forget(info.tenant.slug, provider)
    return RedirectResponse(f"{PAGE}/{provider}?done=saved", status_code=303)


async def _test(request: Request, provider: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_test_sync, request, provider, str(form.get("csrf", "")))


def _test_sync(request: Request, provider: str, csrf: str) -> Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    if not info.actor.can(Perm.TENANT_SETTINGS):
        return _provider_page(request, provider)
    settings = get_settings_dep(request)
    keys = for_purpose(settings, Purpose.TENANT_SECRETS)
    db = get_db(request)
    with db.tenant_read(info.actor.tenant_id) as s:
        account = actions.account_of(s, keys, info.actor.tenant_id, provider)
    if account is None:
        return _provider_page(request, provider, tested="not configured", status=422)
    client = OutboundClient(request.app.state.outbound)
    try:
        if provider == "whatsapp":
            problem = WhatsAppAdapter(db, keys, client).test_connection(account)
        elif provider == "telegram":
            problem = TelegramAdapter(db, keys, client).test_connection(account)
        elif provider == "wechat":
            problem = WeChatAdapter(db, keys, client).test_connection(account)
        else:
            problem = SmsAdapter(db, keys, client).test_connection(account)
    finally:
        client.close()
    if problem:
        with db.tenant_transaction(info.actor.tenant_id) as s:
            actions.do_record_error(s, provider, problem)
    return _provider_page(request, provider, tested=problem or "ok")


def _routes(provider: str) -> None:
    async def page(request: Request, done: str = "") -> Response:
        return await run_in_threadpool(_provider_page, request, provider, notice=done if done in NOTICES else "")

    async def save(request: Request) -> Response:
        return await _save(request, provider)

    async def test(request: Request) -> Response:
        return await _test(request, provider)

    router.add_api_route(f"{PAGE}/{provider}", page, methods=["GET"])
    router.add_api_route(f"{PAGE}/{provider}", save, methods=["POST"])
    router.add_api_route(f"{PAGE}/{provider}/test", test, methods=["POST"])


for _provider in PROVIDERS:
    _routes(_provider)
