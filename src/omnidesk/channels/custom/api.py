"""``POST /api/v1/channels/custom/<channel>/messages``: a customer message from the workspace's own system.

Authenticated by an API key with ``conversations.write`` (the workspace's system speaks for its users). The
message is stored through ``conversations.receive_messages`` on the channel ``custom:<channel>``, idempotent on
the caller's ``message_id``; the sender is the identity ``external`` ``<channel>:<sender id>`` (unverified: the
product cannot check it). It then goes through routing and the assistant like any channel's message. Answers go
out as the signed ``message.created`` webhooks (``/admin/webhooks``): the caller matches them by the
``conversation_id`` this endpoint returns."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import Field, StringConstraints

from omnidesk.channels.base import InboundMessage, SenderIdentity, TextPart, ThreadRef
from omnidesk.channels.providers.intake import store
from omnidesk.conversations.intake import Refused
from omnidesk.core.errors import NotFound
from omnidesk.core.schemas import Input, Language, SingleLine
from omnidesk.customers import queries as customer_queries
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["channels"])

ChannelName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,23}$", description="your name for the channel")]


class CustomSender(Input):
    id: Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)]
    name: Annotated[SingleLine, StringConstraints(max_length=200)] = ""
    language: Language | None = None


class CustomMessageIn(Input):
    message_id: Annotated[SingleLine, StringConstraints(min_length=1, max_length=160)] = Field(
        description="your id of the message; sending it again returns the stored message"
    )
    sender: CustomSender
    text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    conversation_id: uuid.UUID | None = Field(default=None, description="continue this conversation (the sender's)")
    new_conversation: bool = False


@router.post(
    "/channels/custom/{channel}/messages",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "the same message_id again: the stored message, nothing new stored"}},
)
def post_custom_message(
    channel: ChannelName, data: CustomMessageIn, actor: ActorDep, db: DbDep, response: Response
) -> dict[str, Any]:
    """Store a customer's message from your own system; 201 when stored, 200 for a repeat of a stored one."""
    actor.require(Perm.CONVERSATIONS_WRITE)
    name = f"custom:{channel}"
    value = f"{channel}:{data.sender.id}"
    customer_id = None
    if data.conversation_id is not None:
        # A named conversation must be the sender's: the intake compares it with the sender's customer.
        with db.tenant_read(actor.tenant_id) as s:
            known = customer_queries.find_by_identity(s, "external", value)
        if known is None:
            raise NotFound("no conversation with this id for this sender")
        customer_id = known.id
    message = InboundMessage(
        channel=name,
        channel_message_id=data.message_id,
        sender=SenderIdentity(
            "external", value, customer_id=customer_id, display_name=data.sender.name, language=data.sender.language
        ),
        parts=(TextPart(data.text),),
        thread=ThreadRef(conversation_id=data.conversation_id, new_conversation=data.new_conversation),
        raw=data.model_dump(mode="json"),
    )
    (outcome,) = store(db, actor.tenant_id, name, [message])
    if isinstance(outcome, Refused):
        raise NotFound(outcome.detail)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return {"created": outcome.created, "conversation_id": outcome.message["conversation_id"],
            "message": outcome.message}  # fmt: skip
