"""Actions of the widget channel: a visitor's session, their conversations, messages, receipts, rating, files.

Every function taking a ``customer_id`` acts for that visitor only: :func:`own_conversation` is the one gate, and
a conversation of anyone else is "not found". Messages go through ``conversations.do_append_message`` like any
other; internal notes never reach a visitor (they are filtered in :mod:`queries` and in the socket filters).
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.bot import pipeline as bot_pipeline
from omnidesk.channels.widget import identity
from omnidesk.channels.widget.attachments import CheckedFile
from omnidesk.channels.widget.models import Attachment, WidgetConfig
from omnidesk.channels.widget.schemas import (
    AttachmentOut,
    ContactDetails,
    SessionStart,
    VisitorConversationCreate,
    VisitorMessageCreate,
    WidgetConfigUpdate,
    message_payload,
)
from omnidesk.compliance import audit
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import feedback
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.models import Conversation, ConversationRating, Message
from omnidesk.conversations.schemas import Channel, ConversationCreate, SenderType
from omnidesk.core.actor import Actor
from omnidesk.core.blobs import BlobStore
from omnidesk.core.db import utcnow
from omnidesk.core.errors import NotFound
from omnidesk.customers import queries as customer_queries
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.routing import actions as routing
from omnidesk.security.permissions import Perm


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(24)


def config_of(session: Session) -> WidgetConfig | None:
    return session.scalar(select(WidgetConfig))


def ensure_config(session: Session, actor: Actor) -> WidgetConfig:
    row = config_of(session)
    if row is None:
        row = WidgetConfig(tenant_id=actor.tenant_id, identity_secret=secrets.token_urlsafe(32), allowed_origins=[])
        session.add(row)
        session.flush()
        audit.record(session, actor, "widget.configure", "widget_config", row.id, {"created": True})
    return row


def update_config(session: Session, actor: Actor, data: WidgetConfigUpdate) -> WidgetConfig:
    actor.require(Perm.TENANT_SETTINGS)
    row = ensure_config(session, actor)
    fields = ("enabled", "allowed_origins", "title", "greeting", "accent_color")
    before = {f: getattr(row, f) for f in fields}
    for name in fields:
        value = getattr(data, name)
        if value is not None:
            setattr(row, name, list(dict.fromkeys(value)) if name == "allowed_origins" else value)
    changes = audit.diff(before, {f: getattr(row, f) for f in fields})
    if data.rotate_identity_secret:
        row.identity_secret = secrets.token_urlsafe(32)
        changes["identity_secret"] = "rotated"  # noqa: S105 - a marker in the audit record, not a secret
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "widget.configure", "widget_config", row.id, changes)
    return row


def _visitor_customer(session: Session, visitor_id: str) -> Customer | None:
    return customer_queries.find_by_identity(session, "web_visitor", visitor_id)


def _add_identity(session: Session, actor: Actor, customer: Customer, kind: str, value: str, verified: bool) -> None:
    session.add(
        CustomerIdentity(tenant_id=actor.tenant_id, customer_id=customer.id, kind=kind, value=value, verified=verified)
    )
    session.flush()


def start_session(
    session: Session, actor: Actor, data: SessionStart, *, identity_max_age_seconds: int
) -> tuple[Customer, str, bool]:
    """Find or create the visitor's customer. Returns ``(customer, visitor_id, identified)``.

    A browser keeps its ``visitor_id``; an unknown or absent one gets a fresh id and a new anonymous customer. With
    a valid signed ``identifier`` the visitor is that host-site user: their customer if one exists (so they see
    their history on any device), else the anonymous customer is upgraded to carry the identifier. A signed
    identity older than ``identity_max_age_seconds`` raises :class:`identity.IdentityExpired` (401) before anything
    is written.
    """
    config = config_of(session)
    identified = bool(config) and identity.verified(
        config.identity_secret if config else "",
        data.identifier,
        data.identifier_issued_at,
        data.identifier_hash,
        now=int(utcnow().timestamp()),
        max_age_seconds=identity_max_age_seconds,
    )
    customer = _visitor_customer(session, data.visitor_id) if data.visitor_id else None
    visitor_id = data.visitor_id if customer is not None and data.visitor_id else new_visitor_id()
    if identified and data.identifier:
        known = customer_queries.find_by_identity(session, "external", data.identifier)
        if known is not None:
            customer = known
        elif customer is not None:
            _add_identity(session, actor, customer, "external", data.identifier, True)
    if customer is None:
        customer = Customer(
            tenant_id=actor.tenant_id,
            name=(data.name or "")[:200],
            language=data.language if data.language in ("zh-CN", "en") else None,
        )
        session.add(customer)
        session.flush()
        _add_identity(session, actor, customer, "web_visitor", visitor_id, False)
        if identified and data.identifier:
            _add_identity(session, actor, customer, "external", data.identifier, True)
        audit.record(
            session,
            Actor(tenant_id=actor.tenant_id, kind=actor.kind, id=customer.id, role=actor.role, ip=actor.ip),
            "widget.visitor_create",
            "customer",
            customer.id,
            {"identified": identified},
        )
    elif identified and data.name and not customer.name:
        customer.name = data.name[:200]
    return customer, visitor_id, identified


def update_contact(session: Session, actor: Actor, customer_id: uuid.UUID, data: ContactDetails) -> Customer:
    """Store the contact details a visitor typed. They are unverified: never used to merge profiles."""
    customer = customer_queries.get_customer(session, customer_id)
    changes = {}
    for name in ("name", "email", "phone"):
        value = getattr(data, name)
        if value:
            value = value.lower() if name == "email" else value
            changes[name] = [getattr(customer, name), value]
            setattr(customer, name, value)
    customer.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "widget.contact_update", "customer", customer.id, {k: "set" for k in changes})
    return customer


def own_conversation(session: Session, customer_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.customer_id == customer_id)
    )
    if conversation is None:
        raise NotFound("no conversation with this id")
    return conversation


def list_own_conversations(session: Session, customer_id: uuid.UUID, limit: int = 20) -> list[Conversation]:
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.created_at.desc())
            .limit(limit)
        )
    )


def open_conversation(
    session: Session, actor: Actor, customer_id: uuid.UUID, data: VisitorConversationCreate
) -> tuple[Conversation, bool]:
    """Open a web conversation with its first message and queue it for a person.

    Idempotent on ``client_id``: a retried request finds the conversation its first message opened. Returns
    ``(conversation, created)``.
    """
    existing = open_conversation_if_exists(session, customer_id, data.client_id)
    if existing is not None:
        return existing, False
    conversation = conversation_actions.do_open_conversation(
        session,
        actor,
        ConversationCreate(customer_id=customer_id, channel=Channel.WEB, subject=data.subject, message=data.message),
        customer_id,
        first_client_id=data.client_id,
    )
    if bot_pipeline.bot_takes_new_conversations(session):
        bot_pipeline.hold(session, actor.tenant_id, conversation.id)  # the assistant answers first
    else:
        routing.enqueue(session, actor, conversation)
    return conversation, True


def open_conversation_if_exists(session: Session, customer_id: uuid.UUID, client_id: str) -> Conversation | None:
    """The conversation this visitor already opened with the first message ``client_id`` (a retried request)."""
    return session.scalar(
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.customer_id == customer_id, Message.client_id == client_id, Message.seq == 1)
    )


def send(
    session: Session, actor: Actor, customer_id: uuid.UUID, conversation_id: uuid.UUID, data: VisitorMessageCreate
) -> tuple[Message, bool]:
    """Append the visitor's message, once per ``client_id``. Returns ``(message, created)``.

    A message in a resolved (reopened) or unassigned conversation puts it back in the queue for a person.
    """
    conversation = own_conversation(session, customer_id, conversation_id)
    existing = conversation_queries.find_message_by_client_id(session, conversation.id, data.client_id)
    if existing is not None:
        return existing, False
    message = conversation_actions.do_append_message(
        session,
        actor,
        conversation,
        body=data.body,
        sender_type=SenderType.CUSTOMER,
        sender_id=customer_id,
        client_id=data.client_id,
    )
    if conversation.assignee_id is None and not bot_pipeline.held_by_bot(session, conversation.id):
        routing.enqueue(session, actor, conversation)
    return message, True


def visible_messages(
    session: Session, customer_id: uuid.UUID, conversation_id: uuid.UUID, *, after_seq: int, limit: int
) -> tuple[list[Message], bool]:
    conversation = own_conversation(session, customer_id, conversation_id)
    return conversation_queries.list_messages(
        session, conversation, after_seq=after_seq, limit=limit, include_internal=False
    )


def mark_read(
    session: Session, actor: Actor, customer_id: uuid.UUID, conversation_id: uuid.UUID, delivered: int, read: int
) -> None:
    conversation = own_conversation(session, customer_id, conversation_id)
    feedback.do_mark_read(session, actor, conversation, party="customer", delivered_seq=delivered, read_seq=read)


def rate(
    session: Session, actor: Actor, customer_id: uuid.UUID, conversation_id: uuid.UUID, score: int, comment: str
) -> ConversationRating:
    conversation = own_conversation(session, customer_id, conversation_id)
    return feedback.do_rate(session, actor, conversation, score=score, comment=comment)


def attach(
    session: Session,
    actor: Actor,
    conversation: Conversation,
    checked: CheckedFile,
    store: BlobStore,
    *,
    sender_type: SenderType,
    sender_id: uuid.UUID | None,
    client_id: str | None,
) -> Message:
    """Store an already checked file (encrypted) and post it as an ``attachment`` message.

    The blob is written first; if the transaction then fails, an unreferenced blob remains (harmless, unreadable
    without its row) rather than a message pointing at nothing.
    """
    if client_id:
        existing = conversation_queries.find_message_by_client_id(session, conversation.id, client_id)
        if existing is not None:
            return existing
    key = store.put(checked.data, checked.content_type).key
    row = Attachment(
        tenant_id=actor.tenant_id,
        conversation_id=conversation.id,
        filename=checked.filename,
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
        storage_key=key,
        uploaded_by=sender_type.value,
    )
    session.add(row)
    session.flush()
    out = AttachmentOut.model_validate(row)
    return conversation_actions.do_append_message(
        session,
        actor,
        conversation,
        body=checked.filename,
        sender_type=sender_type,
        sender_id=sender_id,
        kind="attachment",
        payload=message_payload(out),
        client_id=client_id,
    )


def attachment_of(session: Session, conversation: Conversation, attachment_id: uuid.UUID) -> Attachment:
    row = session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.conversation_id == conversation.id)
    )
    if row is None:
        raise NotFound("no attachment with this id")
    return row
