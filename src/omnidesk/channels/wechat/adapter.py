"""The WeChat adapter's outbound side: the customer-service message API (``/cgi-bin/message/custom/send``) with an
access token from ``/cgi-bin/token`` (kept until shortly before it expires), through the outbound policy. WeChat
allows customer-service messages within 48 hours of the customer's last interaction: later, it answers errcode
45015, which is a permanent failure the agent sees on the delivery."""

from __future__ import annotations

import threading
import time
import uuid
from urllib.parse import urlencode

from omnidesk.channels.base import Capabilities, Delivery, OutboundMessage, TextPart, degrade
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.actions import Account
from omnidesk.channels.providers.outbound import failed, provider_error, retryable, sent
from omnidesk.channels.wechat import protocol
from omnidesk.core.db import Database
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundClient, OutboundError, OutboundFailed

CAPABILITIES = Capabilities(max_text=2000)
_EXPIRED_TOKEN = {40001, 40014, 42001}


class WeChatAdapter:
    channel = protocol.CHANNEL
    identity_kind = "wechat_openid"
    capabilities = CAPABILITIES

    def __init__(self, db: Database, keys: PurposeKeys, client: OutboundClient) -> None:
        self.db = db
        self.keys = keys
        self.client = client
        self._tokens: dict[uuid.UUID, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _token(self, account: Account, *, fresh: bool = False) -> str:
        with self._lock:
            held = self._tokens.get(account.tenant_id)
        if held and not fresh and held[1] > time.monotonic():
            return held[0]
        query = urlencode({"grant_type": "client_credential", "appid": account.config["app_id"],
                           "secret": account.secrets["app_secret"]})  # fmt: skip
        answer = self.client.request("GET", f"{account.config['api_base'].rstrip('/')}/cgi-bin/token?{query}")
        body = answer.json() if answer.status_code == 200 else {}
        if not isinstance(body, dict) or not body.get("access_token"):
            raise OutboundFailed(
                f"no access token: {body.get('errmsg') if isinstance(body, dict) else answer.status_code}"
            )
        with self._lock:
            # Renewed five minutes early: WeChat keeps the old token valid for a while after a new one is issued.
            self._tokens[account.tenant_id] = (
                str(body["access_token"]),
                time.monotonic() + int(body.get("expires_in", 7200)) - 300,
            )
        return str(body["access_token"])

    def deliver(self, message: OutboundMessage) -> Delivery:
        tenant_id = message.tenant_id
        if message.recipient is None:
            return Delivery(error="the customer has no WeChat openid", retry=False)
        with self.db.tenant_read(tenant_id) as s:
            account = actions.account_of(s, self.keys, tenant_id, self.channel)
        if account is None or not account.enabled:
            return Delivery(error="no WeChat account is configured", retry=False)
        shown = degrade(message, CAPABILITIES)
        text = "\n".join(p.text for p in shown.parts if isinstance(p, TextPart))
        body = protocol.custom_send_body(message.recipient.value, text)
        base = account.config["api_base"].rstrip("/")
        try:
            for attempt in range(2):
                token = self._token(account, fresh=attempt > 0)
                answer = self.client.request(
                    "POST", f"{base}/cgi-bin/message/custom/send?access_token={token}", json=body
                )
                result = answer.json() if answer.status_code == 200 else None
                if not (isinstance(result, dict) and result.get("errcode") in _EXPIRED_TOKEN):
                    break
        except OutboundError as exc:
            return failed(self.db, tenant_id, self.channel, exc.reason, retry=isinstance(exc, OutboundFailed))
        if answer.status_code != 200 or not isinstance(result, dict):
            return failed(self.db, tenant_id, self.channel, provider_error(answer), retry=retryable(answer.status_code))
        if result.get("errcode"):
            error = f"{result.get('errcode')} {result.get('errmsg', '')}"
            return failed(self.db, tenant_id, self.channel, error, retry=result.get("errcode") in (-1, 45009))
        return sent(self.db, tenant_id, self.channel, str(result.get("msgid") or "") or f"out:{message.message_id}")

    def test_connection(self, account: Account) -> str:
        try:
            self._token(account, fresh=True)
        except OutboundError as exc:
            return exc.reason
        return ""
