"""What every provider's ``deliver`` shares: turning a provider's refusal into a
:class:`~omnidesk.channels.base.Delivery`, keeping the channel's health, and telling the agent why a message was
not sent.

``channels.delivery`` calls ``deliver`` from its job, records the outcome (sent / queued for a retry / failed) on
the message's delivery and announces it to staff; a message already sent is never handed over again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import Tenant
from omnidesk.channels.base import Delivery
from omnidesk.channels.providers import actions
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.i18n import translate
from omnidesk.security.outbound import Fetched


def provider_error(fetched: Fetched) -> str:
    try:
        body = fetched.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{fetched.status_code} {error.get('code', '')} {error.get('message', '')}".strip()
        if body.get("description") or body.get("message"):  # Telegram, Twilio
            return f"{fetched.status_code} {body.get('description') or body.get('message')}"
    return f"HTTP {fetched.status_code}"


def retryable(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def failed(db: Database, tenant_id: uuid.UUID, provider: str, error: str, *, retry: bool) -> Delivery:
    """A failed attempt: the channel's last error (its health on the settings page) and the outcome."""
    with db.tenant_transaction(tenant_id) as s:
        actions.do_record_error(s, provider, error)
    return Delivery(error=error, retry=retry)


def sent(db: Database, tenant_id: uuid.UUID, provider: str, provider_message_id: str | None) -> Delivery:
    with db.tenant_transaction(tenant_id) as s:
        actions.do_record_sent(s, provider)
    return Delivery(channel_message_id=provider_message_id)


def last_customer_message_at(session: Session, conversation_id: uuid.UUID) -> datetime | None:
    last = session.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation_id, Message.sender_type == SenderType.CUSTOMER.value
        )
    )
    return last if last is None or last.tzinfo else last.replace(tzinfo=UTC)


def explain_to_agent(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID, key: str) -> None:
    """An internal note in the conversation, in the workspace's language: why the customer did not get the
    message (the agent sees it where they wrote; nothing reaches the customer)."""
    language = session.scalar(select(Tenant.default_language).where(Tenant.id == tenant_id)) or "en"
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    conversation_actions.do_post_message(
        session, system_actor(tenant_id), conversation, body=translate(key, language), sender_type=SenderType.SYSTEM,
        sender_id=None, internal=True,
    )  # fmt: skip
