"""What every provider's ``deliver`` shares: the conversation's recipient, the message as stored, the bookkeeping
of a delivery, and turning an outbound call's failure into a :class:`~omnidesk.channels.base.Delivery`.

Delivery runs in a job after the message was committed, possibly twice for one message (a crash between the
provider's answer and our commit): the providers here take no idempotency key, so a message already recorded as
handed over is not sent again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import Tenant
from omnidesk.channels.base import Delivery
from omnidesk.channels.providers import actions
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.actor import system_actor
from omnidesk.customers.models import CustomerIdentity
from omnidesk.i18n import translate
from omnidesk.security.outbound import Fetched, OutboundError, OutboundFailed


@dataclass(frozen=True, slots=True)
class Target:
    """Who a conversation's message goes to on a provider, and what we know of the conversation."""

    recipient: str
    payload: dict[str, Any]
    last_customer_at: datetime | None
    already: str | None  # the provider's id when this message was handed over before


def target_of(session: Session, message_id: uuid.UUID, conversation_id: uuid.UUID, kind: str) -> Target | None:
    """The customer's identity of ``kind`` in the conversation (None: the customer has none on this channel)."""
    customer_id = session.scalar(select(Conversation.customer_id).where(Conversation.id == conversation_id))
    if customer_id is None:
        return None
    recipient = session.scalar(
        select(CustomerIdentity.value)
        .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == kind)
        .order_by(CustomerIdentity.created_at.desc())
        .limit(1)
    )
    if recipient is None:
        return None
    payload = session.scalar(select(Message.payload).where(Message.id == message_id)) or {}
    last = session.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation_id, Message.sender_type == SenderType.CUSTOMER.value
        )
    )
    done = actions.delivery_of(session, message_id)
    already = done.provider_message_id if done is not None and done.status != "refused" else None
    return Target(recipient, dict(payload), last, already)


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


def failed(
    session: Session, message_id: uuid.UUID, provider: str, error: str, *, retry: bool, tenant_id: uuid.UUID
) -> Delivery:
    """Record a failed attempt (the channel's last error and the message's delivery row)."""
    actions.do_record_error(session, provider, error)
    actions.do_record_delivery(session, tenant_id, provider, message_id, status="queued" if retry else "failed",
                               error=error)  # fmt: skip
    return Delivery(error=error, retry=retry)


def outbound_failure(exc: OutboundError) -> tuple[str, bool]:
    return exc.reason, isinstance(exc, OutboundFailed)


def explain_to_agent(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID, key: str) -> None:
    """An internal note in the conversation, in the workspace's language: why the customer did not get the
    message (the agent sees it where they wrote, and nothing reaches the customer)."""
    language = session.scalar(select(Tenant.default_language).where(Tenant.id == tenant_id)) or "en"
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    conversation_actions.do_post_message(
        session, system_actor(tenant_id), conversation, body=translate(key, language), sender_type=SenderType.SYSTEM,
        sender_id=None, internal=True,
    )  # fmt: skip
