"""The Telegram adapter's outbound side: ``sendMessage`` through the outbound policy, and the connection test
(``getMe``). Telegram reports no delivery or read status to bots: a message handed over is "sent"."""

from __future__ import annotations

from omnidesk.channels.base import Capabilities, Delivery, OutboundMessage, TextPart, degrade
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.actions import Account
from omnidesk.channels.providers.outbound import failed, provider_error, retryable, sent
from omnidesk.channels.telegram import protocol
from omnidesk.core.db import Database
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundClient, OutboundError, OutboundFailed

CAPABILITIES = Capabilities(rich_replies=True, attachments=False, max_text=4096)


def _url(account: Account, method: str) -> str:
    return f"{account.config['api_base'].rstrip('/')}/bot{account.secrets['bot_token']}/{method}"


class TelegramAdapter:
    channel = protocol.CHANNEL
    identity_kind = "telegram"
    capabilities = CAPABILITIES

    def __init__(self, db: Database, keys: PurposeKeys, client: OutboundClient) -> None:
        self.db = db
        self.keys = keys
        self.client = client

    def deliver(self, message: OutboundMessage) -> Delivery:
        """Send one stored message (called by the ``channels.deliver`` job); in a private chat the chat id is
        the user's id, which is the customer's ``telegram`` identity."""
        tenant_id = message.tenant_id
        if message.recipient is None:
            return Delivery(error="the customer has no Telegram id", retry=False)
        with self.db.tenant_read(tenant_id) as s:
            account = actions.account_of(s, self.keys, tenant_id, self.channel)
        if account is None or not account.enabled:
            return Delivery(error="no Telegram bot is configured", retry=False)
        shown = degrade(message, CAPABILITIES)
        text = "\n".join(p.text for p in shown.parts if isinstance(p, TextPart)) or "…"
        body = protocol.send_body(message.recipient.value, text, [dict(b) for b in shown.buttons])
        try:
            answer = self.client.request("POST", _url(account, "sendMessage"), json=body)
        except OutboundError as exc:
            return failed(self.db, tenant_id, self.channel, exc.reason, retry=isinstance(exc, OutboundFailed))
        result = answer.json() if answer.status_code < 300 else None
        if not isinstance(result, dict) or not result.get("ok"):
            return failed(self.db, tenant_id, self.channel, provider_error(answer), retry=retryable(answer.status_code))
        chat = (result.get("result") or {}).get("chat") or {}
        provider_id = f"{chat.get('id', message.recipient.value)}:{(result.get('result') or {}).get('message_id')}"
        return sent(self.db, tenant_id, self.channel, provider_id)

    def test_connection(self, account: Account) -> str:
        try:
            answer = self.client.request("GET", _url(account, "getMe"))
        except OutboundError as exc:
            return exc.reason
        return "" if answer.status_code == 200 else provider_error(answer)
