"""The channel contract: what every channel hands to the product, what it gets back, and what it can do.

A channel adapter (the widget today; e-mail, messaging apps, SMS and voice next) turns whatever its outside world
sends into :class:`InboundMessage` values and passes a batch of them to ``conversations.receive_messages``, the one
way a customer message is stored. Agent, bot and system messages leave through ``conversations.post_message``;
each is described to the adapters as an :class:`OutboundMessage`, which an adapter delivers within its
:class:`Capabilities` (see :func:`degrade`).

This module is pure data (standard library only): the conversations slice depends on it, and every adapter depends
on the conversations slice, never the other way round. See ``docs/channels.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

__all__ = [
    "AttachmentPart",
    "Capabilities",
    "ChannelAdapter",
    "ContentPart",
    "Delivery",
    "InboundMessage",
    "LocationPart",
    "OutboundMessage",
    "ReplyPart",
    "SenderIdentity",
    "TextPart",
    "ThreadRef",
    "degrade",
    "stored_form",
]

MAX_CHANNEL_MESSAGE_ID = 200


# --- content parts -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    """A file. ``attachment_id`` names a row the adapter already stored (the widget's upload); an adapter that
    only has a link gives ``url`` (fetched later, under the outbound policy)."""

    filename: str
    content_type: str
    size: int
    attachment_id: uuid.UUID | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class LocationPart:
    latitude: float
    longitude: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class ReplyPart:
    """A structured reply: the customer picked an option (a quick-reply button, a list item) the product offered.
    ``value`` is what the option stands for, ``title`` what the customer saw."""

    value: str
    title: str = ""


ContentPart = TextPart | AttachmentPart | LocationPart | ReplyPart


# --- inbound -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderIdentity:
    """Who sent the message, as the channel knows them: ``kind`` is a customer identity kind (``email``,
    ``phone``, ``web_visitor``, ``external``, ``wechat``, ``whatsapp``) and ``value`` the address or id on it.

    ``customer_id`` is set when the adapter already knows the customer from a credential it verified (the widget's
    signed visitor token); otherwise the customers slice finds the customer by the identity or creates one.
    ``verified`` says whether the channel proved the identity (a signed-in user, a verified phone): an unverified
    identity never merges a sender into an existing profile that holds it verified.
    """

    kind: str
    value: str
    customer_id: uuid.UUID | None = None
    verified: bool = False
    display_name: str = ""
    language: str | None = None

    @classmethod
    def of_customer(cls, customer_id: uuid.UUID) -> SenderIdentity:
        """A sender the adapter knows as a customer already (a signed token names them): nothing to resolve."""
        return cls(kind="customer", value=str(customer_id), customer_id=customer_id, verified=True)


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """Which conversation a message belongs to, as far as the channel can tell.

    * ``conversation_id``: the channel names the conversation (the widget); it must be the sender's own.
    * ``reply_to``: the channel message id this one answers (e-mail ``In-Reply-To``); the conversation of that
      earlier message, inbound or outbound, if it is the sender's.
    * ``new_conversation``: the sender explicitly starts a new conversation (the widget's "new chat").
    * none of these: the sender's latest conversation on this channel that is not resolved, else a new one.
    """

    conversation_id: uuid.UUID | None = None
    reply_to: str | None = None
    new_conversation: bool = False
    subject: str = ""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, normalised.

    ``channel_message_id`` is the channel's own id for the message, stable across redeliveries: storing is
    idempotent on ``(channel, channel_message_id)`` within a tenant, so a webhook retried or a widget resend is
    answered with the stored message and never stored twice. ``raw`` is the payload as received, kept beside
    the message for audit (``None`` when the normalised form is the whole of it, as for the widget).
    ``client_id`` is the sender's own id where the channel has one (the widget's); it is kept on the message so
    the conversation's clients can match their optimistic copy. ``ip`` and ``origin`` (the connection it came
    on, which already has its answer and is skipped by the event) describe the delivery, for audit and fan-out.
    """

    channel: str
    channel_message_id: str
    sender: SenderIdentity
    parts: tuple[ContentPart, ...]
    thread: ThreadRef = field(default_factory=ThreadRef)
    raw: Mapping[str, Any] | None = None
    received_at: datetime | None = None
    client_id: str | None = None
    ip: str | None = None
    origin: str | None = None

    def __post_init__(self) -> None:
        if not self.channel_message_id or len(self.channel_message_id) > MAX_CHANNEL_MESSAGE_ID:
            raise ValueError(f"channel_message_id must be 1–{MAX_CHANNEL_MESSAGE_ID} characters")
        if not self.parts:
            raise ValueError("a message needs at least one content part")


def stored_form(parts: Sequence[ContentPart]) -> tuple[str, str, dict[str, Any]]:
    """``(kind, body, payload)`` of the stored message for ``parts``: the text is the body (what search, the
    assistant and the transcript read); a single attachment or location gives the message its kind; anything
    structured also travels in the payload so that no part is lost."""
    texts = [p.text for p in parts if isinstance(p, TextPart)]
    attachments = [p for p in parts if isinstance(p, AttachmentPart)]
    locations = [p for p in parts if isinstance(p, LocationPart)]
    replies = [p for p in parts if isinstance(p, ReplyPart)]
    payload: dict[str, Any] = {}
    if attachments:
        payload["attachment" if len(attachments) == 1 else "attachments"] = (
            _attachment_json(attachments[0]) if len(attachments) == 1 else [_attachment_json(a) for a in attachments]
        )
    if locations:
        first = locations[0]
        payload["location"] = {"latitude": first.latitude, "longitude": first.longitude, "label": first.label}
    if replies:
        payload["reply"] = {"value": replies[0].value, "title": replies[0].title}
    body = "\n".join(t for t in texts if t)
    if not body and replies:
        body = replies[0].title or replies[0].value
    elif not body and attachments:
        body = attachments[0].filename
    elif not body and locations:
        body = locations[0].label or f"{locations[0].latitude},{locations[0].longitude}"
    kind = "text"
    if not texts and not replies:
        if len(attachments) == 1 and not locations:
            kind = "attachment"
        elif locations and not attachments:
            kind = "location"
    return kind, body, payload


def _attachment_json(part: AttachmentPart) -> dict[str, Any]:
    out: dict[str, Any] = {"filename": part.filename, "content_type": part.content_type, "size": part.size}
    if part.attachment_id is not None:
        out["id"] = str(part.attachment_id)
    if part.url is not None:
        out["url"] = part.url
    return out


# --- outbound ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message from the product (agent, bot, system) to the customer, as a channel should deliver it.

    ``buttons`` are the structured replies offered (each ``{"label", "value"}``); a channel without rich replies
    gets them as numbered text (:func:`degrade`). ``reply_to`` is the channel message id of the customer's latest
    message in the conversation, for channels that thread (e-mail); ``references`` every channel message id of the
    conversation on the channel, oldest first (e-mail's ``References``); ``subject`` the conversation's subject;
    ``payload`` the stored message's payload (channel options an agent chose, such as e-mail ``cc``).
    """

    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    seq: int
    channel: str
    sender_type: str
    parts: tuple[ContentPart, ...]
    buttons: tuple[Mapping[str, str], ...] = ()
    reply_to: str | None = None
    recipient: SenderIdentity | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_stored(
        cls,
        tenant_id: uuid.UUID,
        channel: str,
        message: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        recipient: SenderIdentity | None = None,
        references: Sequence[str] = (),
        subject: str = "",
    ) -> OutboundMessage:
        """Built from a stored message as the conversations slice serialises it (``MessageOut`` as JSON)."""
        payload = message.get("payload") or {}
        parts: list[ContentPart] = []
        attachment = payload.get("attachment")
        if isinstance(attachment, Mapping):
            parts.append(
                AttachmentPart(
                    filename=str(attachment.get("filename", "")),
                    content_type=str(attachment.get("content_type", "")),
                    size=int(attachment.get("size", 0)),
                    attachment_id=uuid.UUID(str(attachment["id"])) if attachment.get("id") else None,
                )
            )
        else:
            parts.append(TextPart(str(message.get("body", ""))))
        buttons = tuple(
            {"label": str(b.get("label", "")), "value": str(b.get("value", ""))}
            for b in payload.get("buttons") or ()
            if isinstance(b, Mapping)
        )
        return cls(
            tenant_id=tenant_id,
            conversation_id=uuid.UUID(str(message["conversation_id"])),
            message_id=uuid.UUID(str(message["id"])),
            seq=int(message["seq"]),
            channel=channel,
            sender_type=str(message.get("sender_type", "")),
            parts=tuple(parts),
            buttons=buttons,
            reply_to=reply_to,
            recipient=recipient,
            references=tuple(references),
            subject=subject,
            payload=dict(payload),
        )


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can carry. The product never sends what a channel cannot show: it degrades instead.

    * ``rich_replies``: quick-reply buttons / lists; without them, options become numbered lines of text.
    * ``attachments``: files; without them, a file becomes its name and a link the customer can open.
    * ``typing``: typing indicators, both ways.
    * ``read_receipts``: delivered / read markers from the customer's side.
    * ``edit_window``: how long after sending a message may still be edited or withdrawn on the channel
      (``None``: never).
    * ``max_text``: the longest text one message may carry (``None``: no limit the product must respect).
    """

    rich_replies: bool = False
    attachments: bool = False
    typing: bool = False
    read_receipts: bool = False
    edit_window: timedelta | None = None
    max_text: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What an adapter reports after handing a message to its channel: the channel's id for it (kept so that a
    reply to it finds the conversation), or why it failed and whether trying again may help."""

    channel_message_id: str | None = None
    error: str | None = None
    retry: bool = False


class ChannelAdapter(Protocol):
    """One channel. ``channel`` is its name as stored on conversations (``web``, ``email``, ...).

    Inbound, the adapter authenticates its outside world (signatures, tokens), builds :class:`InboundMessage`
    values and stores them with ``conversations.receive_messages`` in one transaction per batch; it answers its
    outside world only after the commit. Outbound, :meth:`deliver` is called for each message of a conversation
    on its channel after that message is committed, possibly again for the same message after a crash:
    adapters pass ``message_id`` to their provider as an idempotency key where it takes one.
    """

    @property
    def channel(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def deliver(self, message: OutboundMessage) -> Delivery: ...


def degrade(message: OutboundMessage, capabilities: Capabilities) -> OutboundMessage:
    """``message`` as a channel with ``capabilities`` can show it: buttons become numbered lines, files their
    name, long text is cut at ``max_text`` (with an ellipsis)."""
    parts = list(message.parts)
    buttons = message.buttons
    if buttons and not capabilities.rich_replies:
        lines = "\n".join(f"{n}. {b.get('label') or b.get('value')}" for n, b in enumerate(buttons, 1))
        parts.append(TextPart(lines))
        buttons = ()
    if not capabilities.attachments:
        parts = [TextPart(f"[{p.filename}]") if isinstance(p, AttachmentPart) else p for p in parts]
    if capabilities.max_text is not None:
        limit = capabilities.max_text
        parts = [
            TextPart(p.text[: limit - 1] + "…") if isinstance(p, TextPart) and len(p.text) > limit else p for p in parts
        ]
    return replace(message, parts=tuple(parts), buttons=buttons)
