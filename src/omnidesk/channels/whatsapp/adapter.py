"""The WhatsApp adapter's outbound side: ``deliver`` through the Graph send API (the 24-hour customer-service
window enforced), media downloads for what customers sent, and the setup page's connection test.

Every call goes through the outbound policy (``security/outbound.py``): the API base is the tenant's setting, so
it is checked like any tenant-chosen URL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from omnidesk.channels.base import Capabilities, Delivery, OutboundMessage, TextPart, degrade
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.actions import Account
from omnidesk.channels.providers.outbound import (
    explain_to_agent,
    failed,
    last_customer_message_at,
    provider_error,
    retryable,
    sent,
)
from omnidesk.channels.whatsapp import protocol
from omnidesk.core.db import Database, utcnow
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundClient, OutboundError, OutboundFailed

CAPABILITIES = Capabilities(rich_replies=True, attachments=False, read_receipts=True, max_text=4096)
WINDOW_CLOSED = "outside the 24-hour customer-service window: only an approved template may be sent"


def _auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.secrets['access_token']}"}


class WhatsAppAdapter:
    """One per process; stateless apart from its collaborators."""

    channel = protocol.CHANNEL
    identity_kind = "whatsapp"
    capabilities = CAPABILITIES

    def __init__(self, db: Database, keys: PurposeKeys, client: OutboundClient) -> None:
        self.db = db
        self.keys = keys
        self.client = client

    def deliver(self, message: OutboundMessage) -> Delivery:
        """Send one stored message (called by the ``channels.deliver`` job). Outside the 24-hour window after
        the customer's last message WhatsApp takes only an approved template (the message's
        ``payload.whatsapp_template``): anything else is refused here without a call, and the agent gets an
        internal note saying why (the delivery is failed with the reason, announced to staff)."""
        tenant_id = message.tenant_id
        if message.recipient is None:
            return Delivery(error="the customer has no WhatsApp number", retry=False)
        template = message.payload.get("whatsapp_template")
        with self.db.tenant_transaction(tenant_id) as s:
            account = actions.account_of(s, self.keys, tenant_id, self.channel)
            if account is None or not account.enabled:
                return Delivery(error="no WhatsApp account is configured", retry=False)
            last = last_customer_message_at(s, message.conversation_id)
            window_open = last is not None and utcnow() - last < timedelta(hours=protocol.WINDOW_HOURS)
            if not window_open and not isinstance(template, Mapping):
                explain_to_agent(s, tenant_id, message.conversation_id, "messaging.whatsapp.window_closed")
                return Delivery(error=WINDOW_CLOSED, retry=False)
        body = self._body(message.recipient.value, message, template if isinstance(template, Mapping) else None)
        url = f"{account.config['api_base'].rstrip('/')}/{account.config['phone_number_id']}/messages"
        try:
            answer = self.client.request("POST", url, headers=_auth(account), json=body)
        except OutboundError as exc:
            return failed(self.db, tenant_id, self.channel, exc.reason, retry=isinstance(exc, OutboundFailed))
        if answer.status_code >= 300:
            return failed(self.db, tenant_id, self.channel, provider_error(answer), retry=retryable(answer.status_code))
        return sent(self.db, tenant_id, self.channel, _sent_id(answer.json()))

    def _body(self, to: str, message: OutboundMessage, template: Mapping[str, Any] | None) -> dict[str, Any]:
        if template is not None:
            return protocol.template_body(to, template)
        shown = (
            degrade(message, CAPABILITIES)
            if len(message.buttons) <= 3
            else degrade(message, Capabilities(attachments=False, max_text=4096))
        )
        text = "\n".join(p.text for p in shown.parts if isinstance(p, TextPart))
        if shown.buttons:
            return protocol.interactive_body(to, text, [dict(b) for b in shown.buttons])
        return protocol.text_body(to, text)

    def download_media(self, account: Account, media_id: str) -> tuple[bytes, str]:
        """The Cloud API keeps a customer's file behind two calls: its URL (valid a few minutes) by id, then the
        bytes with the same token. Both through the outbound policy."""
        base = account.config["api_base"].rstrip("/")
        meta = self.client.request("GET", f"{base}/{media_id}", headers=_auth(account))
        if meta.status_code != 200:
            raise OutboundFailed(provider_error(meta))
        info = meta.json()
        answer = self.client.request("GET", str(info.get("url") or ""), headers=_auth(account))
        if answer.status_code != 200:
            raise OutboundFailed(provider_error(answer))
        return answer.content, str(info.get("mime_type") or answer.headers.get("content-type") or "")

    def test_connection(self, account: Account) -> str:
        """ "" when the credentials open the phone number's record, else why not."""
        url = f"{account.config['api_base'].rstrip('/')}/{account.config['phone_number_id']}"
        try:
            answer = self.client.request("GET", url, headers=_auth(account))
        except OutboundError as exc:
            return exc.reason
        return "" if answer.status_code == 200 else provider_error(answer)


def _sent_id(body: Any) -> str | None:
    if isinstance(body, dict):
        messages = body.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("id") or "") or None
    return None
