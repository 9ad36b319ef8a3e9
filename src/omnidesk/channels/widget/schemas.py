"""Request and response shapes of the visitor API and the widget settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from omnidesk.conversations.schemas import Body, ClientId
from omnidesk.core.schemas import Email, Input, Output, SingleLine
from omnidesk.customers.schemas import Phone

VisitorId = Annotated[str, StringConstraints(pattern=r"^v_[A-Za-z0-9_-]{22,64}$")]
Origin = Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", max_length=200)]


class SessionStart(Input):
    visitor_id: VisitorId | None = Field(default=None, description="the id this browser was given before, if any")
    identifier: Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="the host site's own user id, with identifier_hash"
    )
    identifier_issued_at: int | None = Field(
        default=None,
        ge=1_000_000_000,
        le=10_000_000_000,
        description="when the host site signed the identifier, in Unix seconds; part of the signed text",
    )
    identifier_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = Field(
        default=None,
        description="hex HMAC-SHA256 of '<identifier>:<identifier_issued_at>' with the tenant's widget identity "
        "secret; valid OMNIDESK_WIDGET_IDENTITY_MAX_AGE_SECONDS (600) after it was issued",
    )
    name: Annotated[SingleLine, StringConstraints(max_length=200)] | None = None
    language: Annotated[str, StringConstraints(max_length=10)] | None = None

    @model_validator(mode="after")
    def _signed_with_a_time(self) -> SessionStart:
        # Hashes of the first scheme (identifier alone, never expiring) are refused by name, so the integrator
        # sees what changed instead of a silently anonymous visitor.
        if self.identifier_hash and self.identifier_issued_at is None:
            raise ValueError(
                "identifier_issued_at is required with identifier_hash: sign '<identifier>:<issued_at>' "
                "(Unix seconds) as described in docs/widget.md; hashes of the identifier alone are no longer accepted"
            )
        return self


class ContactDetails(Input):
    name: Annotated[SingleLine, StringConstraints(max_length=200)] | None = None
    email: Email | None = None
    phone: Phone | None = None


class VisitorConversationOut(Output):
    id: uuid.UUID
    status: str
    subject: str
    last_seq: int
    last_message_at: datetime | None
    created_at: datetime


class SessionOut(Output):
    visitor_id: str
    token: str = Field(description="visitor token for this API (Authorization: Bearer); short-lived")
    socket_token: str = Field(description="dedicated token for the WebSocket's first frame; short-lived")
    expires_in: int
    customer_name: str
    identified: bool
    conversations: list[VisitorConversationOut]


class VisitorMessageCreate(Input):
    body: Body
    client_id: ClientId = Field(description="the widget's own id for this message; a resend is not stored twice")


class VisitorSocketSend(VisitorMessageCreate):
    """``{"type": "send", ...}`` on the visitor's socket: the same message as the HTTP send, for a conversation."""

    conversation_id: uuid.UUID


class VisitorConversationCreate(Input):
    message: Body
    client_id: ClientId
    subject: Annotated[SingleLine, StringConstraints(max_length=300)] = ""


STANDARD_FIELDS = ("name", "email", "phone")
FieldKey = Annotated[str, StringConstraints(pattern=r"^(name|email|phone|[a-z][a-z0-9_]{0,39})$")]
OfflineMode = Literal["off", "no_agents", "outside_hours"]


class PrechatField(Input):
    """One field of the pre-chat form: ``name``, ``email``, ``phone`` or a custom text field (its own key, stored
    in the customer's attributes)."""

    key: FieldKey
    label: Annotated[SingleLine, StringConstraints(max_length=80)] = Field(
        default="", description="the label shown to the visitor (custom fields; standard fields have their own)"
    )
    required: bool = False
    enabled: bool = True


class PrechatForm(Input):
    enabled: bool = False
    fields: list[PrechatField] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _unique_keys(self) -> PrechatForm:
        keys = [f.key for f in self.fields]
        if len(keys) != len(set(keys)):
            raise ValueError("each pre-chat field key may appear once")
        for f in self.fields:
            if f.key not in STANDARD_FIELDS and not f.label:
                raise ValueError(f"the custom field '{f.key}' needs a label")
        return self


class PrechatIn(Input):
    """What the visitor typed into the pre-chat form: field key → value (checked against the tenant's form)."""

    values: dict[FieldKey, Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=dict, max_length=20
    )


class OfflineIn(Input):
    """The offline form: a ticket for when no one is there to chat."""

    name: Annotated[SingleLine, StringConstraints(max_length=200)] = ""
    email: Annotated[str, StringConstraints(max_length=254)] = ""
    message: Annotated[str, StringConstraints(max_length=5000)] = ""


class OfflineOut(Output):
    ticket_number: int
    message: str = Field(description="the sentence to show the visitor, in their language")


class AvailabilityOut(Output):
    agents_online: int
    offline_form: bool = Field(description="whether the widget should offer the offline form instead of a chat")


class WidgetConfigOut(Output):
    enabled: bool
    allowed_origins: list[str]
    title: str
    greeting: str
    accent_color: str
    prechat: PrechatForm
    offline_form: OfflineMode
    snippet: str


class WidgetConfigUpdate(Input):
    enabled: bool | None = None
    allowed_origins: list[Origin] | None = Field(default=None, max_length=50)
    title: Annotated[SingleLine, StringConstraints(max_length=100)] | None = None
    greeting: Annotated[str, StringConstraints(max_length=500)] | None = None
    accent_color: Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None
    prechat: PrechatForm | None = None
    offline_form: OfflineMode | None = None
    rotate_identity_secret: bool = False


class WidgetSecretOut(Output):
    identity_secret: str


class AttachmentOut(Output):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int


def message_payload(attachment: AttachmentOut) -> dict[str, Any]:
    return {"attachment": attachment.model_dump(mode="json")}
