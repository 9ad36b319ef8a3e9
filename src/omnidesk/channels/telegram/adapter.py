"""The Telegram adapter's outbound side: ``sendMessage`` through the outbound policy, and the connection test
(``getMe``). Telegram reports no delivery or read status to bots: a message handed over is "sent"."""

from __future__ import annotations

from omnidesk.channels.base import Capabilities, Delivery, OutboundMessage, TextPart, degrade
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.actions import Account
from omnidesk.channels.providers.outbound import failed, provider_error, retryable, target_of
from omnidesk.channels.telegram import protocol
from omnidesk.core.db import Database
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundClient, OutboundError, OutboundFailed

CAPABILITIES = Capabilities(rich_replies=True, attachments=False, max_text=4096)


def _url(account: Account, method: str) -> str:
    return f"{account.config['api_base'].rstrip('/')}/bot{account.secrets['bot_token']}/{method}"


class TelegramAdapter:
    channel = protocol.CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, db: Database, keys: PurposeKeys, client: OutboundClient) -> None:
        self.db = db
        self.keys = keys
        self.client = client

    def deliver(self, message: OutboundMessage) -> Delivery:
        tenant_id = message.tenant_id
        with self.db.tenant_transaction(tenant_id) as s:
            account = actions.account_of(s, self.keys, tenant_id, self.channel)
            target = target_of(s, message.message_id, message.conversation_id, "telegram")
            if account is None or target is None:
                error = "no Telegram bot configured" if account is None else "the customer has no Telegram id"
                return failed(s, message.message_id, self.channel, error, retry=False, tenant_id=tenant_id)
            if target.already:
                return Delivery(channel_message_id=target.already)
        shown = degrade(message, CAPABILITIES)
        text = "\n".join(p.text for p in shown.parts if isinstance(p, TextPart)) or "…"
        body = protocol.send_body(target.recipient, text, [dict(b) for b in shown.buttons])
        try:
            answer = self.client.request("POST", _url(account, "sendMessage"), json=body)
        except OutboundError as exc:
            with self.db.tenant_transaction(tenant_id) as s:
                return failed(s, message.message_id, self.channel, exc.reason,
                              retry=isinstance(exc, OutboundFailed), tenant_id=tenant_id)  # fmt: skip
        with self.db.tenant_transaction(tenant_id) as s:
            result = answer.json() if answer.status_code < 300 else None
            if not isinstance(result, dict) or not result.get("ok"):
                return failed(s, message.message_id, self.channel, provider_error(answer),
                              retry=retryable(answer.status_code), tenant_id=tenant_id)  # fmt: skip
            sent = result.get("result") or {}
            provider_id = f"{(sent.get('chat') or {}).get('id', target.recipient)}:{sent.get('message_id')}"
            actions.do_record_delivery(s, tenant_id, self.channel, message.message_id, status="sent",
                                       provider_message_id=provider_id)  # fmt: skip
            actions.do_record_sent(s, self.channel)
        return Delivery(channel_message_id=provider_id)

    def test_connection(self, account: Account) -> str:
        try:
            answer = self.client.request("GET", _url(account, "getMe"))
        except OutboundError as exc:
            return exc.reason
        return "" if answer.status_code == 200 else provider_error(answer)
