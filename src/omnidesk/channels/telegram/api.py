"""The Telegram webhook: ``/api/v1/channels/telegram/<workspace>/webhook``, registered with ``setWebhook`` and
its ``secret_token``. Each update is checked by ``X-Telegram-Bot-Api-Secret-Token`` before its body is read,
stored (idempotent on the chat and message id: Telegram retries until it gets a 2xx) and answered after the
commit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from omnidesk.channels.providers.intake import BadSignature, accounts_of, store
from omnidesk.channels.telegram import protocol
from omnidesk.core.errors import InvalidInput
from omnidesk.web.deps import get_db

router = APIRouter(tags=["channels"])


@router.post("/channels/telegram/{tenant}/webhook")
async def receive(tenant: str, request: Request) -> dict[str, Any]:
    """One update. 401 and nothing stored without the secret token."""
    raw = await request.body()
    secret = request.headers.get(protocol.SECRET_HEADER)
    return await run_in_threadpool(_receive, request, tenant, raw, secret)


def _receive(request: Request, tenant: str, raw: bytes, secret: str | None) -> dict[str, Any]:
    account = accounts_of(request).get(tenant, protocol.CHANNEL)
    if not protocol.secret_ok(account.secrets.get("secret_token", ""), secret):
        raise BadSignature("X-Telegram-Bot-Api-Secret-Token is missing or wrong")
    try:
        update = json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(update, dict):
        raise InvalidInput("the body is not a JSON object")
    message = protocol.parse(update)
    stored = store(get_db(request), account.tenant_id, protocol.CHANNEL, [message] if message else [])
    return {"stored": len(stored)}
