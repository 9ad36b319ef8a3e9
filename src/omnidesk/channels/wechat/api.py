"""The WeChat Official Account callback: ``/api/v1/channels/wechat/<workspace>/webhook`` (the server URL in the
account's basic configuration). ``GET`` answers the ``echostr`` handshake; ``POST`` takes messages in plain or
safe mode. The signature (and in safe mode ``msg_signature`` and the app id inside the ciphertext) is checked
before anything is stored; the answer is ``success`` (no passive reply: answers go out through the
customer-service message API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from omnidesk.channels.providers.intake import BadSignature, accounts_of, store
from omnidesk.channels.wechat import protocol
from omnidesk.core.errors import InvalidInput
from omnidesk.web.deps import get_db

router = APIRouter(tags=["channels"])
Q = Annotated[str, Query(max_length=200)]


@router.get("/channels/wechat/{tenant}/webhook", response_class=PlainTextResponse)
def verify(tenant: str, request: Request, signature: Q = "", timestamp: Q = "", nonce: Q = "",
           echostr: Q = "") -> Response:  # fmt: skip
    account = accounts_of(request).get(tenant, protocol.CHANNEL)
    if not protocol.signature_ok(signature, account.secrets.get("token", ""), timestamp, nonce):
        return PlainTextResponse("verification failed", status_code=403)
    return PlainTextResponse(echostr)


@router.post("/channels/wechat/{tenant}/webhook", response_class=PlainTextResponse)
async def receive(tenant: str, request: Request, signature: Q = "", timestamp: Q = "", nonce: Q = "",
                  encrypt_type: Q = "", msg_signature: Q = "") -> Response:  # fmt: skip
    raw = (await request.body()).decode(errors="replace")
    query = (signature, timestamp, nonce, encrypt_type, msg_signature)
    return await run_in_threadpool(_receive, request, tenant, raw, query)


def _receive(request: Request, tenant: str, raw: str, query: tuple[str, str, str, str, str]) -> Response:
    signature, timestamp, nonce, encrypt_type, msg_signature = query
    account = accounts_of(request).get(tenant, protocol.CHANNEL)
    token = account.secrets.get("token", "")
    if not protocol.signature_ok(signature, token, timestamp, nonce):
        raise BadSignature("the signature does not match the token")
    try:
        fields = protocol.parse_xml(raw)
        if encrypt_type == "aes":
            encrypted = fields.get("Encrypt", "")
            if not protocol.signature_ok(msg_signature, token, timestamp, nonce, encrypted):
                raise BadSignature("msg_signature does not match")
            plain = protocol.decrypt(account.secrets.get("encoding_aes_key", ""), account.config["app_id"], encrypted)
            fields = protocol.parse_xml(plain)
    except protocol.BadMessage as exc:
        raise InvalidInput(str(exc)) from None
    message = protocol.parse(fields, raw)
    store(get_db(request), account.tenant_id, protocol.CHANNEL, [message] if message else [])
    return PlainTextResponse("success")
