"""Request and response shapes of the conversations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from omnidesk.conversations.states import Priority, Status
from omnidesk.core.schemas import Input, Int32, Output, SingleLine, Tag, Timestamp

Body = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")]


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    WECHAT = "wechat"
    WHATSAPP = "whatsapp"
    API = "api"


class SenderType(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class ConversationCreate(Input):
    customer_id: uuid.UUID
    channel: Channel = Channel.API
    subject: Annotated[SingleLine, StringConstraints(max_length=300)] = ""
    priority: Priority = Priority.NORMAL
    team_id: uuid.UUID | None = None
    tags: list[Tag] = Field(default=[], max_length=50)
    message: Body | None = Field(default=None, description="optional first message, from the customer")


class ConversationUpdate(Input):
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    subject: Annotated[SingleLine, StringConstraints(max_length=300)] | None = None
    snoozed_until: Timestamp | None = None
    version: Int32 | None = Field(
        default=None, ge=1, description="if given, the update fails with 409 unless it matches"
    )


class MessageCreate(Input):
    body: Body
    sender_type: SenderType = Field(
        default=SenderType.AGENT, description="'customer' lets an integration relay what the customer wrote"
    )
    client_id: ClientId | None = Field(default=None, description="the sender's own id; a repeat is not stored twice")


class NoteCreate(Input):
    body: Body


class MessageOut(Output):
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_type: str
    sender_id: uuid.UUID | None
    kind: str
    internal: bool
    body: str
    payload: dict[str, Any]
    client_id: str | None
    created_at: datetime
    sender_name: str | None = Field(
        default=None, description="an agent's display name (what a customer sees instead of their id)"
    )


class ConversationOut(Output):
    id: uuid.UUID
    customer_id: uuid.UUID
    channel: str
    subject: str
    status: Status
    priority: Priority
    assignee_id: uuid.UUID | None
    team_id: uuid.UUID | None
    tags: list[str]
    last_seq: int
    last_message_at: datetime | None
    snoozed_until: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class ReceiptIn(Input):
    delivered_seq: Int32 = Field(default=0, ge=0, description="received up to this seq")
    read_seq: Int32 = Field(default=0, ge=0, description="read up to this seq")


class RatingIn(Input):
    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""
