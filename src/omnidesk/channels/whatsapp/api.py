"""The WhatsApp Cloud API webhook: ``GET`` answers Meta's verification handshake, ``POST`` takes notifications.

The URL to paste into the Meta app's webhook settings is ``/api/v1/channels/whatsapp/<workspace>/webhook``. A
notification is authenticated by ``X-Hub-Signature-256`` over the raw body before anything else is read; its
messages are stored in one transaction (media downloads queued as jobs in it) and its status reports recorded on
our messages; the 200 goes out after the commit, with nothing left running."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from omnidesk.channels.providers import actions, media
from omnidesk.channels.providers.intake import BadSignature, accounts_of, store
from omnidesk.channels.whatsapp import protocol
from omnidesk.core.errors import InvalidInput
from omnidesk.web.deps import get_db

router = APIRouter(tags=["channels"])


@router.get("/channels/whatsapp/{tenant}/webhook", response_class=PlainTextResponse)
def verify(
    tenant: str,
    request: Request,
    mode: Annotated[str, Query(alias="hub.mode", max_length=40)] = "",
    token: Annotated[str, Query(alias="hub.verify_token", max_length=200)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> Response:
    """Meta's subscription handshake: echo ``hub.challenge`` when ``hub.verify_token`` is the one configured."""
    account = accounts_of(request).get(tenant, protocol.CHANNEL)
    expected = account.secrets.get("verify_token", "")
    if mode != "subscribe" or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return PlainTextResponse("verification failed", status_code=403)
    return PlainTextResponse(challenge)


@router.post("/channels/whatsapp/{tenant}/webhook")
async def receive(tenant: str, request: Request) -> dict[str, Any]:
    """A notification (messages and/or statuses). 401 and nothing stored when the signature does not match."""
    raw = await request.body()
    signature = request.headers.get(protocol.SIGNATURE_HEADER)
    return await run_in_threadpool(_receive, request, tenant, raw, signature)


def _receive(request: Request, tenant: str, raw: bytes, signature: str | None) -> dict[str, Any]:
    account = accounts_of(request).get(tenant, protocol.CHANNEL)
    if not protocol.signature_ok(account.secrets.get("app_secret", ""), raw, signature):
        raise BadSignature("X-Hub-Signature-256 does not match the body")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInput("the body is not a JSON object")
    notification = protocol.parse(payload)
    db = get_db(request)
    refs = {
        m.channel_message_id: {"media_id": m.media_id, "filename": m.filename, "content_type": m.content_type}
        for m in notification.media
    }
    stored = store(
        db,
        account.tenant_id,
        protocol.CHANNEL,
        notification.messages,
        after=lambda s, created: media.queue_downloads(s, protocol.CHANNEL, created, refs),
    )
    matched = 0
    if notification.statuses:
        with db.tenant_transaction(account.tenant_id) as s:
            for report in notification.statuses:
                matched += actions.do_record_status(s, account.tenant_id, protocol.CHANNEL,
                                                    report.provider_message_id, report.status, report.error)  # fmt: skip
    return {"stored": len(stored), "statuses": matched}
