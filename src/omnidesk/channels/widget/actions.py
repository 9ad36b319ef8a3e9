"""Actions of the widget channel: a visitor's session, their conversations, messages, receipts, rating, files.

Every function taking a ``customer_id`` acts for that visitor only: :func:`own_conversation` is the one gate, and
a conversation of anyone else is "not found". A visitor's messages go in through ``conversations.receive_messages``
(the widget's adapter builds them), staff files out through ``conversations.do_post_message``; internal notes never
reach a visitor (they are filtered in :mod:`queries` and in the socket filters).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.channels.base import AttachmentPart, TextPart
from omnidesk.channels.widget import adapter, identity
from omnidesk.channels.widget.attachments import CheckedFile
from omnidesk.channels.widget.models import Attachment, WidgetConfig
from omnidesk.channels.widget.schemas import (
    STANDARD_FIELDS,
    AttachmentOut,
    ContactDetails,
    OfflineIn,
    PrechatForm,
    PrechatIn,
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
from omnidesk.conversations.intake import Refused, Stored, receive_messages
from omnidesk.conversations.models import Conversation, ConversationRating, Message
from omnidesk.conversations.schemas import Channel, MessageOut, SenderType
from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.blobs import BlobStore
from omnidesk.core.db import utcnow
from omnidesk.core.errors import InvalidInput, NotFound
from omnidesk.core.schemas import Email
from omnidesk.customers import actions as customer_actions
from omnidesk.customers import queries as customer_queries
from omnidesk.customers.actions import ChannelIdentity
from omnidesk.customers.models import Customer
from omnidesk.customers.schemas import Phone
from omnidesk.i18n import translate
from omnidesk.routing.models import AgentPresence
from omnidesk.security.permissions import Perm
from omnidesk.tickets import actions as ticket_actions
from omnidesk.tickets import queries as ticket_queries
from omnidesk.tickets import sla
from omnidesk.tickets.schemas import TicketCreate


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(24)


def config_of(session: Session) -> WidgetConfig | None:
    return session.scalar(select(WidgetConfig))


def config_or_default(session: Session, tenant_id: uuid.UUID) -> WidgetConfig:
    """The tenant's widget settings, or the defaults (unsaved) until an admin saves some. A read: never writes."""
    row = config_of(session)
    if row is not None:
        return row
    return WidgetConfig(
        tenant_id=tenant_id, enabled=True, identity_secret="", allowed_origins=[], title="", greeting="",
        accent_color="#1f6feb", prechat={}, offline_form="off",
    )  # fmt: skip


def reveal_identity_secret(session: Session, actor: Actor) -> str:
    """The secret host sites sign visitor identifiers with (admins only), created on first need; every reading of
    it is audited."""
    actor.require(Perm.TENANT_SETTINGS)
    config = ensure_config(session, actor)
    audit.record(session, actor, "widget.identity_secret_read", "widget_config", config.id)
    return config.identity_secret


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
    fields = ("enabled", "allowed_origins", "title", "greeting", "accent_color", "prechat", "offline_form")
    before = {f: getattr(row, f) for f in fields}
    for name in fields:
        value = getattr(data, name)
        if value is None:
            continue
        if name == "allowed_origins":
            value = list(dict.fromkeys(value))
        elif name == "prechat":
            value = value.model_dump(mode="json")
        setattr(row, name, value)
    changes = audit.diff(before, {f: getattr(row, f) for f in fields})
    if data.rotate_identity_secret:
        row.identity_secret = secrets.token_urlsafe(32)
        changes["identity_secret"] = "rotated"  # noqa: S105 - a marker in the audit record, not a secret
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "widget.configure", "widget_config", row.id, changes)
    return row


def start_session(
    session: Session, actor: Actor, data: SessionStart, *, identity_max_age_seconds: int
) -> tuple[Customer, str, bool]:
    """Find or create the visitor's customer. Returns ``(customer, visitor_id, identified)``.

    A browser keeps its ``visitor_id``; an unknown or absent one gets a fresh id and a new anonymous customer. With
    a valid signed ``identifier`` the visitor is that host-site user: their customer if one exists (so they see
    their history on any device), else the anonymous customer is upgraded to carry the identifier. Customers and
    identities are the customers slice's: its actions create and link them. A signed identity older than
    ``identity_max_age_seconds`` raises :class:`identity.IdentityExpired` (401) before anything is written.
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
    customer = customer_queries.find_by_identity(session, "web_visitor", data.visitor_id) if data.visitor_id else None
    visitor_id = data.visitor_id if customer is not None and data.visitor_id else new_visitor_id()
    external = ChannelIdentity("external", data.identifier, verified=True) if identified and data.identifier else None
    if external is not None:
        known = customer_queries.find_by_identity(session, external.kind, external.value)
        if known is not None:
            customer = known
        elif customer is not None:
            customer_actions.do_link_identity(session, actor, customer, external)
    if customer is None:
        identities = [ChannelIdentity("web_visitor", visitor_id), *([external] if external else [])]
        customer = customer_actions.do_create_from_channel(
            session, actor, identities, name=data.name or "", language=data.language, source="widget"
        )
    elif identified and data.name:
        customer_actions.do_update_contact(session, actor, customer.id, name=data.name, only_if_empty=True)
    return customer, visitor_id, identified


def update_contact(session: Session, actor: Actor, customer_id: uuid.UUID, data: ContactDetails) -> Customer:
    """Store the contact details a visitor typed. They are unverified: never used to merge profiles."""
    return customer_actions.do_update_contact(
        session, actor, customer_id, name=data.name, email=data.email, phone=data.phone
    )


_EMAIL: TypeAdapter[str] = TypeAdapter(Email)
_PHONE: TypeAdapter[str] = TypeAdapter(Phone)


def prechat_form(config: WidgetConfig | None) -> PrechatForm:
    """The tenant's pre-chat form (switched off until an admin turns it on)."""
    try:
        return PrechatForm.model_validate((config.prechat if config else None) or {})
    except ValidationError:
        return PrechatForm()


def _field_error(key: str, message_key: str, language: str, label: str = "") -> dict[str, str]:
    label = label or translate(f"widget.contact_{key}", language)
    return {"field": key, "message": translate(message_key, language, field=label)}


def submit_prechat(session: Session, actor: Actor, customer_id: uuid.UUID, data: PrechatIn, language: str) -> Customer:
    """Check what the visitor typed against the tenant's pre-chat form, then store it on their customer through
    the customers slice (audited). Any error: a 422 naming each field, in the visitor's language, and nothing is
    stored."""
    form = prechat_form(config_of(session))
    errors: list[dict[str, str]] = []
    clean: dict[str, str] = {}
    active = [f for f in form.fields if f.enabled] if form.enabled else []
    known = {f.key for f in active}
    for key in data.values:
        if key not in known:
            errors.append({"field": key, "message": translate("widget.field_unknown", language, field=key)})
    for spec in active:
        value = (data.values.get(spec.key) or "").strip()
        label = spec.label if spec.key not in STANDARD_FIELDS else ""
        if not value:
            if spec.required:
                errors.append(_field_error(spec.key, "widget.field_required", language, label))
            continue
        try:
            if spec.key == "email":
                value = _EMAIL.validate_python(value)
            elif spec.key == "phone":
                value = _PHONE.validate_python(value)
            elif len(value) > 200 or any(ord(c) < 32 for c in value):
                raise ValueError(value)
        except (ValidationError, ValueError):
            message_key = {"email": "widget.field_email", "phone": "widget.field_phone"}.get(
                spec.key, "widget.field_text"
            )
            errors.append(_field_error(spec.key, message_key, language, label))
            continue
        clean[spec.key] = value
    if errors:
        raise InvalidInput(translate("widget.form_invalid", language), errors=errors)
    custom = {k: v for k, v in clean.items() if k not in STANDARD_FIELDS}
    return customer_actions.do_update_contact(
        session,
        actor,
        customer_id,
        name=clean.get("name"),
        email=clean.get("email"),
        phone=clean.get("phone"),
        attributes=custom or None,
    )


def agents_online(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(AgentPresence).where(AgentPresence.status == "online")) or 0
    )


def open_now(session: Session, tenant_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Whether the workspace is within its business hours (the calendar of ``/settings/hours``, holidays
    included); a workspace with no calendar is always open."""
    spec = ticket_queries.ticket_settings(session, tenant_id).calendar
    return not spec or sla.is_working(sla.parse_calendar(spec), now or utcnow())


def offline_form_due(session: Session, tenant_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Whether the widget offers the offline form: as the tenant chose it, while no agent is online
    ("no_agents") or outside the business hours ("outside_hours", whoever happens to be online)."""
    config = config_of(session)
    mode = config.offline_form if config else "off"
    if mode == "no_agents":
        return agents_online(session) == 0
    if mode == "outside_hours":
        return not open_now(session, tenant_id, now)
    return False


def check_prechat(session: Session, customer_id: uuid.UUID, language: str) -> None:
    """Refuse a chat message while the tenant's pre-chat form has required fields this visitor has not given
    (422 naming each, in the visitor's language): the widget asks first, but a client that skips the form (or
    calls the API directly) must not get round it."""
    form = prechat_form(config_of(session))
    if not form.enabled:
        return
    customer = customer_queries.get_customer(session, customer_id)
    attributes = customer.attributes or {}
    missing = [
        _field_error(f.key, "widget.field_required", language, f.label if f.key not in STANDARD_FIELDS else "")
        for f in form.fields
        if f.enabled and f.required
        and not str((getattr(customer, f.key) if f.key in STANDARD_FIELDS else attributes.get(f.key)) or "").strip()
    ]  # fmt: skip
    if missing:
        raise InvalidInput(translate("widget.prechat_first", language), errors=missing)


def submit_offline(session: Session, actor: Actor, customer_id: uuid.UUID, data: OfflineIn, language: str) -> int:
    """The offline form: the visitor's name and e-mail go on their customer (customers slice, audited), their
    message becomes a ticket with them as requester (tickets slice; created by the product on their behalf, as the
    assistant's hand-over does). Returns the ticket number. Errors: a 422 per field, nothing stored."""
    config = config_of(session)
    if config is None or config.offline_form == "off":
        raise NotFound("the offline form is switched off for this workspace")
    errors: list[dict[str, str]] = []
    email = data.email.strip()
    if not email:
        errors.append(_field_error("email", "widget.field_required", language))
    else:
        try:
            email = _EMAIL.validate_python(email)
        except ValidationError:
            errors.append(_field_error("email", "widget.field_email", language))
    if not data.message.strip():
        errors.append(
            _field_error("message", "widget.field_required", language, translate("widget.offline_message", language))
        )
    if errors:
        raise InvalidInput(translate("widget.form_invalid", language), errors=errors)
    customer_actions.do_update_contact(session, actor, customer_id, name=data.name or None, email=email)
    text = " ".join(data.message.split())
    subject = text if len(text) <= 120 else text[:119].rstrip() + "…"
    ticket = ticket_actions.create_ticket(
        session,
        system_actor(actor.tenant_id),
        TicketCreate(
            subject=subject,
            description=data.message.strip(),
            customer_id=customer_id,
            channel=Channel.WEB,
            tags=["offline_form"],
        ),
        source="widget",
    )
    audit.record(session, actor, "widget.offline_form", "ticket", ticket.id, {"number": ticket.number})
    return ticket.number


def for_visitor(session: Session, messages: list[MessageOut]) -> list[MessageOut]:
    """Messages as a visitor sees them: an agent's by display name (``sender_name``), no staff id."""
    staff_ids = {m.sender_id for m in messages if m.sender_type == SenderType.AGENT.value and m.sender_id}
    names: dict[uuid.UUID, str] = {}
    if staff_ids:
        rows = session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(staff_ids)))
        names = {staff_id: name for staff_id, name in rows}
    out = []
    for m in messages:
        if m.sender_type != SenderType.CUSTOMER.value:
            m = m.model_copy(update={"sender_id": None, "sender_name": names.get(m.sender_id) if m.sender_id else None})
        out.append(m)
    return out


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
    session: Session, actor: Actor, customer_id: uuid.UUID, data: VisitorConversationCreate, language: str = "zh-CN"
) -> tuple[Conversation, Stored]:
    """Open a web conversation with its first message (the assistant holds it, or it is queued for a person);
    refused while the pre-chat form's required fields are missing (:func:`check_prechat`).

    Idempotent on ``client_id``: a retried request finds the conversation its first message opened. Returns
    ``(conversation, outcome of the first message)``.
    """
    check_prechat(session, customer_id, language)
    conversation_id = adapter.new_conversation_id(customer_id, data.client_id)
    message = adapter.inbound(customer_id, conversation_id, data.client_id, [TextPart(data.message)], ip=actor.ip,
                              opening=True, subject=data.subject)  # fmt: skip
    (outcome,) = receive_messages(session, actor, [message])
    if isinstance(outcome, Refused):
        raise NotFound(outcome.detail)
    return own_conversation(session, customer_id, uuid.UUID(outcome.message["conversation_id"])), outcome


def open_conversation_if_exists(session: Session, customer_id: uuid.UUID, client_id: str) -> Conversation | None:
    """The conversation this visitor already opened with the first message ``client_id`` (a retried request)."""
    return session.scalar(
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.customer_id == customer_id, Message.client_id == client_id, Message.seq == 1)
    )


def send(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    conversation_id: uuid.UUID,
    data: VisitorMessageCreate,
    language: str = "zh-CN",
) -> Stored:
    """Store the visitor's message, once per ``client_id`` (``created`` is false for a resend); refused while the
    pre-chat form's required fields are missing (:func:`check_prechat`).

    A message in a resolved (reopened) or unassigned conversation puts it back in the queue for a person.
    """
    check_prechat(session, customer_id, language)
    message = adapter.inbound(customer_id, conversation_id, data.client_id, [TextPart(data.body)], ip=actor.ip)
    (outcome,) = receive_messages(session, actor, [message])
    if isinstance(outcome, Refused):
        raise NotFound(outcome.detail)
    return outcome


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
    if sender_type == SenderType.CUSTOMER:
        assert sender_id is not None
        part = AttachmentPart(row.filename, row.content_type, row.size, attachment_id=row.id)
        message = adapter.inbound(sender_id, conversation.id, client_id or uuid.uuid4().hex, [part], ip=actor.ip)
        (outcome,) = receive_messages(session, actor, [message])
        if isinstance(outcome, Refused):
            raise NotFound(outcome.detail)
        return conversation_queries.get_message(session, uuid.UUID(outcome.message["id"]))
    out = AttachmentOut.model_validate(row)
    return conversation_actions.do_post_message(
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
