"""Every event the product publishes, as one typed catalogue.

Actions build these and hand them to ``outbox.publish_on_commit``; after the commit each leaves as its wire form
(``to_dict``: ``{"type", "op", "tenant_id", ...fields}``, ids and times as strings), which is what the real-time
gateway filters and every socket receives (``docs/realtime.md``). Conversation events carry the conversation's
:class:`Scope`, flattened, so the gateway can decide who sees them without a database query.

The contract a client may rely on (``tests/conversations/test_event_contract.py``): a client holding a
conversation as fetched, that applies the events it receives afterwards, holds what a fresh fetch returns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Protocol


class _Conversation(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def customer_id(self) -> uuid.UUID: ...
    @property
    def assignee_id(self) -> uuid.UUID | None: ...
    @property
    def team_id(self) -> uuid.UUID | None: ...


@dataclass(frozen=True, slots=True)
class Scope:
    """Who may receive an event about a conversation: its customer's sockets; staff by assignee, team and role."""

    conversation_id: uuid.UUID
    customer_id: uuid.UUID
    assignee_id: uuid.UUID | None
    team_id: uuid.UUID | None

    @classmethod
    def of(cls, conversation: _Conversation) -> Scope:
        return cls(conversation.id, conversation.customer_id, conversation.assignee_id, conversation.team_id)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "conversation_id": str(self.conversation_id),
            "customer_id": str(self.customer_id),
            "assignee_id": str(self.assignee_id) if self.assignee_id else None,
            "team_id": str(self.team_id) if self.team_id else None,
        }


def _wire(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """One event: ``type`` and ``op`` name it on the wire; ``tenant_id`` picks the bus channel."""

    type: ClassVar[str]
    op: ClassVar[str]
    tenant_id: uuid.UUID

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "op": self.op, "tenant_id": str(self.tenant_id)}
        for name, wire in _wire_names(type(self)):
            value = getattr(self, name)
            if isinstance(value, Scope):
                out.update(value.to_dict())
            else:
                out[wire] = _wire(value)
        return out


_WIRE_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}


def _wire_names(cls: type) -> tuple[tuple[str, str], ...]:
    """``(attribute, wire name)`` of each field but ``tenant_id``, worked out once per class (every stored message
    is serialised: ``dataclasses.fields`` each time was a measurable share of a batch)."""
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = tuple((f.name, f.metadata.get("wire", f.name)) for f in fields(cls) if f.name != "tenant_id")
        _WIRE_NAMES[cls] = names
    return names


# --- conversations -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ConversationAdded(Event):
    type = "conversation"
    op = "add"
    scope: Scope
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ConversationUpdated(Event):
    """``changes``: ``{field: [old, new]}`` (JSON values) for every field that changed; ``status`` as it is now."""

    type = "conversation"
    op = "update"
    scope: Scope
    changes: dict[str, Any]
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageAdded(Event):
    """``message``: the stored message (``MessageOut`` as JSON). ``origin``: the socket it came on, which has it in
    its acknowledgement already (the gateway skips that socket and never forwards the field)."""

    type = "message"
    op = "add"
    scope: Scope
    message: dict[str, Any]
    origin: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryUpdated(Event):
    """An outbound message's delivery on its channel moved (``queued`` → ``sent`` or ``failed``; a bounce turns
    ``sent`` into ``failed``). Staff only: the customer never sees our delivery troubles."""

    type = "delivery"
    op = "update"
    scope: Scope
    message_id: uuid.UUID
    channel: str
    state: str
    error: str = ""
    attempts: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class ReceiptUpdated(Event):
    type = "receipt"
    op = "update"
    scope: Scope
    party: str
    delivered_seq: int
    read_seq: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RatingAdded(Event):
    type = "rating"
    op = "add"
    scope: Scope
    score: int


@dataclass(frozen=True, kw_only=True, slots=True)
class TypingChanged(Event):
    """Ephemeral: published straight on the bus by the gateway, never stored."""

    type = "typing"
    op = "update"
    conversation_id: uuid.UUID
    customer_id: uuid.UUID
    sender: str = field(metadata={"wire": "from"})  # "customer" or "agent"
    staff_id: uuid.UUID | None
    active: bool


# --- routing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueAdded(Event):
    type = "queue"
    op = "add"
    scope: Scope
    state: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferAdded(Event):
    type = "offer"
    op = "add"
    scope: Scope
    offered_to: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferRemoved(Event):
    type = "offer"
    op = "remove"
    scope: Scope
    offered_to: uuid.UUID | None


@dataclass(frozen=True, kw_only=True, slots=True)
class PresenceUpdated(Event):
    type = "presence"
    op = "update"
    staff_id: uuid.UUID
    status: str


# --- customers and accounts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerAdded(Event):
    type = "customer"
    op = "add"
    customer_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerUpdated(Event):
    type = "customer"
    op = "update"
    customer_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerMerged(Event):
    """``merged_id`` was a duplicate of ``customer_id``: its identities, conversations and tickets moved there."""

    type = "customer"
    op = "merge"
    customer_id: uuid.UUID
    merged_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffAdded(Event):
    type = "staff"
    op = "add"
    user_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffUpdated(Event):
    type = "staff"
    op = "update"
    user_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class TeamAdded(Event):
    type = "team"
    op = "add"
    team_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class TeamUpdated(Event):
    """A team's name, description, skills or members changed."""

    type = "team"
    op = "update"
    team_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class TeamRemoved(Event):
    type = "team"
    op = "remove"
    team_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKeyAdded(Event):
    type = "api_key"
    op = "add"
    key_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKeyRevoked(Event):
    type = "api_key"
    op = "remove"
    key_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class AccessRevoked(Event):
    """Acted on by the gateway (closes the person's sockets), never forwarded: a new ``epoch`` voids every token
    minted before it; ``session_ids`` close the sockets opened through those browser sessions."""

    type = "access"
    op = "revoke"
    staff_id: uuid.UUID
    epoch: int | None
    session_ids: list[str]


# --- the assistant and knowledge ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BotHandedOver(Event):
    type = "bot"
    op = "hand_over"
    conversation_id: uuid.UUID
    reason: str
    priority: str
    intent: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ArticleAdded(Event):
    type = "kb_article"
    op = "add"
    article_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class ArticleUpdated(Event):
    type = "kb_article"
    op = "update"
    article_id: uuid.UUID
    status: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SuggestionAdded(Event):
    type = "kb_suggestion"
    op = "add"
    suggestion_id: uuid.UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class KnowledgeChanged(Event):
    """The tenant's published knowledge moved to ``version`` (caches key on it)."""

    type = "knowledge"
    op = "update"
    version: int
    reason: str


# --- tickets and notifications -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketAdded(Event):
    type = "ticket"
    op = "add"
    ticket_id: uuid.UUID
    number: int
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketUpdated(Event):
    """``fields``: the names of the fields that changed; ``status`` when the change was a transition."""

    type = "ticket"
    op = "update"
    ticket_id: uuid.UUID
    number: int
    fields: list[str]
    status: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketMessageAdded(Event):
    type = "ticket"
    op = "message"
    ticket_id: uuid.UUID
    number: int
    message_id: uuid.UUID
    public: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketEscalated(Event):
    type = "ticket"
    op = "escalate"
    ticket_id: uuid.UUID
    number: int
    priority: str


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketApprovalChanged(Event):
    """An approval was requested, decided or executed (``status``: pending, approved, rejected, executed)."""

    type = "ticket"
    op = "approval"
    ticket_id: uuid.UUID
    number: int
    approval_id: uuid.UUID
    operation: str
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketAttachmentAdded(Event):
    type = "ticket"
    op = "attachment"
    ticket_id: uuid.UUID
    number: int
    attachment_id: uuid.UUID
    evidence: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class NotificationAdded(Event):
    type = "notification"
    op = "add"
    recipient_id: uuid.UUID
    kind: str


@dataclass(frozen=True, kw_only=True, slots=True)
class NotificationRead(Event):
    type = "notification"
    op = "update"
    recipient_id: uuid.UUID
    notification_id: uuid.UUID
    read: bool = True
