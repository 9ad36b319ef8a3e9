"""``/settings/channels/email``: a tenant's support mailboxes (inbound address, From, SMTP relay, DKIM), the relay
password and DKIM key write-only (sealed tenant secrets: the page shows whether one is set, never its value), and a
button that tests the relay connection as a delivery would (connect, TLS, log in; nothing is sent)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from omnidesk.accounts import tenant_secrets
from omnidesk.channels.email import adapter
from omnidesk.channels.email.actions import SECURITY, MailboxInput, save_mailbox
from omnidesk.channels.email.models import EmailMailbox
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.web.console._page import Visit, done, run, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/channels/email"
NOTICES = ("created", "saved")
_BLANK = {"id": "", "inbound_address": "", "from_address": "", "from_name": "", "smtp_host": "", "smtp_port": 587,
          "smtp_security": "starttls", "smtp_username": "", "dkim_selector": "", "enabled": True}  # fmt: skip


def _keys(v: Visit) -> Any:
    return for_purpose(v.request.app.state.settings, Purpose.TENANT_SECRETS)


def _rows(v: Visit) -> list[dict[str, Any]]:
    with v.read() as s:
        out = []
        for m in s.scalars(select(EmailMailbox).order_by(EmailMailbox.created_at)):
            out.append(
                {
                    "id": str(m.id), "inbound_address": m.inbound_address, "from_address": m.from_address,
                    "from_name": m.from_name, "smtp_host": m.smtp_host, "smtp_port": m.smtp_port,
                    "smtp_security": m.smtp_security, "smtp_username": m.smtp_username,
                    "dkim_selector": m.dkim_selector, "enabled": m.enabled,
                    "password_set": tenant_secrets.status(s, m.password_secret).is_set,
                    "dkim_set": tenant_secrets.status(s, m.dkim_secret).is_set,
                }
            )  # fmt: skip
        return out


def _render(v: Visit, form: dict[str, Any], *, notice: str = "", error: str = "", tested: str = "",
            status_code: int = 200) -> Response:  # fmt: skip
    return v.render(
        "console/email.html",
        {"section": "email", "rows": _rows(v), "form": form, "security": SECURITY, "notice": notice,
         "error": error, "tested": tested},
        status_code=status_code,
    )  # fmt: skip


@router.get(PAGE)
def email_page(request: Request, done: str = "", edit: str = "") -> Response:
    v = visit(request, Perm.TENANT_SETTINGS)
    if not isinstance(v, Visit):
        return v
    form = dict(_BLANK)
    for row in _rows(v) if edit else []:
        if row["id"] == edit:
            form = row
    return _render(v, form, notice=done if done in NOTICES else "")


@router.post(PAGE)
def save(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    inbound_address: Annotated[str, Form(max_length=254)] = "",
    from_address: Annotated[str, Form(max_length=254)] = "",
    from_name: Annotated[str, Form(max_length=200)] = "",
    smtp_host: Annotated[str, Form(max_length=253)] = "",
    smtp_port: Annotated[int, Form(ge=1, le=65535)] = 587,
    smtp_security: Annotated[str, Form(max_length=16)] = "starttls",
    smtp_username: Annotated[str, Form(max_length=254)] = "",
    smtp_password: Annotated[str, Form(max_length=1000)] = "",
    dkim_selector: Annotated[str, Form(max_length=63)] = "",
    dkim_private_key: Annotated[str, Form(max_length=10000)] = "",
    enabled: Annotated[str, Form(max_length=5)] = "",
    mailbox_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    v = visit(request, Perm.TENANT_SETTINGS, csrf)
    if not isinstance(v, Visit):
        return v
    form = {"id": mailbox_id, "inbound_address": inbound_address, "from_address": from_address,
            "from_name": from_name, "smtp_host": smtp_host, "smtp_port": smtp_port, "smtp_security": smtp_security,
            "smtp_username": smtp_username, "dkim_selector": dkim_selector, "enabled": bool(enabled)}  # fmt: skip
    target: uuid.UUID | None = None
    if mailbox_id:
        try:
            target = uuid.UUID(mailbox_id)
        except ValueError:
            return _render(v, form, error=v.t("console.err.stale"), status_code=422)
    data = MailboxInput(
        inbound_address=inbound_address, from_address=from_address, from_name=from_name, smtp_host=smtp_host,
        smtp_port=smtp_port, smtp_security=smtp_security, smtp_username=smtp_username,
        dkim_selector=dkim_selector, enabled=bool(enabled), smtp_password=smtp_password or None,
        dkim_private_key=dkim_private_key or None,
    )  # fmt: skip
    keys = _keys(v)
    _, error = run(v, lambda s, a: save_mailbox(s, a, keys, data, target))
    if error:
        return _render(v, form, error=error, status_code=422)
    return done(PAGE, "saved" if target else "created")


@router.post(PAGE + "/test")
def test_connection(
    request: Request, csrf: Annotated[str, Form(max_length=100)], mailbox_id: Annotated[str, Form(max_length=36)]
) -> Response:
    v = visit(request, Perm.TENANT_SETTINGS, csrf)
    if not isinstance(v, Visit):
        return v
    try:
        wanted = uuid.UUID(mailbox_id)
    except ValueError:
        return _render(v, dict(_BLANK), error=v.t("console.err.stale"), status_code=422)
    with v.read() as s:
        mailbox = s.get(EmailMailbox, wanted)
        if mailbox is None:
            return _render(v, dict(_BLANK), error=v.t("console.err.stale"), status_code=404)
        password = ""
        if tenant_secrets.status(s, mailbox.password_secret).is_set:
            password = tenant_secrets.reveal(s, _keys(v), v.actor.tenant_id, mailbox.password_secret)
        s.expunge(mailbox)
    if not mailbox.smtp_host:
        return _render(v, dict(_BLANK), tested=v.t("console.email.no_relay"))
    problem = adapter.test_connection(mailbox, password)
    message = v.t("console.email.test_ok") if problem is None else v.t("console.email.test_failed", error=problem)
    return _render(v, dict(_BLANK), tested=message)
