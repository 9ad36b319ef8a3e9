"""The SMS adapter's outbound side: the Messages API (``POST /2010-04-01/Accounts/<sid>/Messages.json``, form
encoded, HTTP basic auth with the account SID and auth token) through the outbound policy."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from omnidesk.channels.base import Capabilities, Delivery, OutboundMessage, TextPart, degrade
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.actions import Account
from omnidesk.channels.providers.outbound import failed, provider_error, retryable, sent
from omnidesk.channels.sms import protocol
from omnidesk.core.db import Database
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundClient, OutboundError, OutboundFailed

CAPABILITIES = Capabilities(max_text=1600)


def _headers(account: Account) -> dict[str, str]:
    token = base64.b64encode(f"{account.config['account_sid']}:{account.secrets['auth_token']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _account_url(account: Account) -> str:
    return f"{account.config['api_base'].rstrip('/')}/2010-04-01/Accounts/{account.config['account_sid']}"


class SmsAdapter:
    channel = protocol.CHANNEL
    identity_kind = "phone"
    capabilities = CAPABILITIES

    def __init__(self, db: Database, keys: PurposeKeys, client: OutboundClient, status_callback: str = "") -> None:
        self.db = db
        self.keys = keys
        self.client = client
        self.status_callback = status_callback

    def deliver(self, message: OutboundMessage) -> Delivery:
        tenant_id = message.tenant_id
        if message.recipient is None:
            return Delivery(error="the customer has no phone number", retry=False)
        with self.db.tenant_read(tenant_id) as s:
            account = actions.account_of(s, self.keys, tenant_id, self.channel)
        if account is None or not account.enabled:
            return Delivery(error="no SMS account is configured", retry=False)
        shown = degrade(message, CAPABILITIES)
        text = "\n".join(p.text for p in shown.parts if isinstance(p, TextPart))
        form = {"To": message.recipient.value, "From": account.config["from_number"], "Body": text}
        headers = {**_headers(account), "Content-Type": "application/x-www-form-urlencoded"}
        try:
            answer = self.client.request("POST", f"{_account_url(account)}/Messages.json", headers=headers,
                                         content=urlencode(form).encode())  # fmt: skip
        except OutboundError as exc:
            return failed(self.db, tenant_id, self.channel, exc.reason, retry=isinstance(exc, OutboundFailed))
        if answer.status_code >= 300:
            return failed(self.db, tenant_id, self.channel, provider_error(answer), retry=retryable(answer.status_code))
        body = answer.json()
        return sent(self.db, tenant_id, self.channel, str(body.get("sid") or "") or None)

    def test_connection(self, account: Account) -> str:
        try:
            answer = self.client.request("GET", f"{_account_url(account)}.json", headers=_headers(account))
        except OutboundError as exc:
            return exc.reason
        return "" if answer.status_code == 200 else provider_error(answer)
