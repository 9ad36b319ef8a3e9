"""Which conversation an incoming e-mail belongs to, the way mail clients thread.

In order: the ids it answers (``In-Reply-To``, then ``References`` from the latest back) found among the
conversation's stored Message-IDs, inbound and ours; then the reply token in the address we answered from
(``support+c<conversation>@…``, set as our ``Reply-To``); then the same contact's conversation with the same
normalised subject (``Re:``/``Fwd:``/``回复:``/``转发:`` stripped) active within :data:`WINDOW`; else a new one.

A reply found by its ids in **someone else's** conversation (a stranger answering a newsletter or a message
forwarded to them) opens the sender's own conversation: replies of different senders are never merged.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.channels.base import ThreadRef
from omnidesk.channels.email.parse import ParsedEmail, normalise_subject
from omnidesk.conversations.models import ChannelMessage, Conversation
from omnidesk.core.db import utcnow
from omnidesk.customers.models import CustomerIdentity

CHANNEL = "email"
WINDOW = timedelta(days=14)
_TOKEN = re.compile(r"^[^+@]+\+c([0-9a-f]{32})@", re.I)


def reply_address(inbound_address: str, conversation_id: uuid.UUID) -> str:
    """Our ``Reply-To`` for a conversation: the inbound address plus-addressed with the conversation's token."""
    local, _, domain = inbound_address.partition("@")
    return f"{local}+c{conversation_id.hex}@{domain}"


def base_address(address: str) -> str:
    """The mailbox an address is delivered to: plus-addressing removed."""
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def thread_for(session: Session, parsed: ParsedEmail) -> tuple[ThreadRef, uuid.UUID | None]:
    """The thread, and the customer already holding the sender's address (``None``: a new sender). The customer is
    the one the customers slice would resolve the identity to; the intake needs it named to accept a conversation
    id."""
    subject = parsed.subject[:300]
    sender = session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.kind == "email", CustomerIdentity.value == parsed.from_address
        )
    )
    ids = parsed.thread_ids
    if ids:
        rows = dict(
            session.execute(
                select(ChannelMessage.channel_message_id, ChannelMessage.conversation_id).where(
                    ChannelMessage.channel == CHANNEL, ChannelMessage.channel_message_id.in_(ids[:50])
                )
            ).all()
        )
        for mid in ids:
            conversation_id = rows.get(mid)
            if conversation_id is None:
                continue
            owner = session.scalar(select(Conversation.customer_id).where(Conversation.id == conversation_id))
            if sender is not None and owner == sender:
                return ThreadRef(conversation_id=conversation_id, subject=subject), sender
            return ThreadRef(new_conversation=True, subject=subject), sender  # a stranger's: their own conversation
    for address in [*parsed.to, *parsed.cc]:
        token = _TOKEN.match(address)
        if token and sender is not None:
            conversation_id = uuid.UUID(token.group(1))
            owner = session.scalar(select(Conversation.customer_id).where(Conversation.id == conversation_id))
            if owner == sender:
                return ThreadRef(conversation_id=conversation_id, subject=subject), sender
    wanted = normalise_subject(parsed.subject)
    if sender is not None and wanted:
        recent = session.execute(
            select(Conversation.id, Conversation.subject)
            .where(
                Conversation.customer_id == sender,
                Conversation.channel == CHANNEL,
                Conversation.last_message_at >= utcnow() - WINDOW,
            )
            .order_by(Conversation.last_message_at.desc())
            .limit(20)
        ).all()
        for conversation_id, their_subject in recent:
            if normalise_subject(their_subject) == wanted:
                return ThreadRef(conversation_id=conversation_id, subject=subject), sender
    return ThreadRef(new_conversation=True, subject=subject), sender
