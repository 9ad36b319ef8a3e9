"""The SMS webhook: ``/api/v1/channels/sms/<workspace>/webhook``, set as the number's incoming-message URL and
as the status callback. ``X-Twilio-Signature`` is checked over the URL and the form before anything is stored;
a status callback moves the delivery of our message, an incoming SMS is stored once per ``MessageSid``. The
answer is an empty TwiML response (no automatic reply)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from omnidesk.channels.providers import actions
from omnidesk.channels.providers.intake import BadSignature, accounts_of, store
from omnidesk.channels.sms import protocol
from omnidesk.web.deps import get_db, public_base_url

router = APIRouter(tags=["channels"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed_url(request: Request) -> str:
    """The URL as Twilio called it: the configured public base (a proxy in front changes scheme and host), the
    path and the query string."""
    base, _ = public_base_url(request)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base.rstrip('/')}{request.url.path}{query}"


@router.post("/channels/sms/{tenant}/webhook")
async def receive(tenant: str, request: Request) -> Response:
    """An incoming SMS or a status callback. 403 and nothing stored when the signature does not match."""
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    return await run_in_threadpool(_receive, request, tenant, params, request.headers.get(protocol.SIGNATURE_HEADER))


def _receive(request: Request, tenant: str, params: dict[str, str], header: str | None) -> Response:
    account = accounts_of(request).get(tenant, protocol.CHANNEL)
    if not protocol.signature_ok(account.secrets.get("auth_token", ""), signed_url(request), params, header):
        raise BadSignature("X-Twilio-Signature does not match the URL and parameters")
    db = get_db(request)
    if protocol.is_status(params):
        status = protocol.STATUSES.get(params.get("MessageStatus") or params.get("SmsStatus") or "")
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        if status and sid:
            error = f"{params.get('ErrorCode', '')} {params.get('ErrorMessage', '')}".strip()
            with db.tenant_transaction(account.tenant_id) as s:
                actions.do_record_status(s, account.tenant_id, protocol.CHANNEL, sid, status, error)
    else:
        message = protocol.parse(params)
        store(db, account.tenant_id, protocol.CHANNEL, [message] if message else [])
    return Response(EMPTY_TWIML, media_type="application/xml")
