"""HTTP handlers of the conversations slice."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from omnidesk.conversations import actions, queries
from omnidesk.conversations.schemas import (
    Channel,
    ConversationCreate,
    ConversationOut,
    ConversationUpdate,
    MessageCreate,
    MessageOut,
    NoteCreate,
)
from omnidesk.conversations.states import Priority, Status
from omnidesk.core.pagination import MAX_LIMIT, encode_cursor
from omnidesk.core.schemas import Int32, Page
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["conversations"])


@router.get("/conversations")
def list_conversations(
    db: DbDep,
    actor: ActorDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    channel: Channel | None = None,
    customer_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    assignee: Annotated[
        Literal["me", "none"] | uuid.UUID | None, Query(description="'me', 'none' or a staff id")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[ConversationOut]:
    """Conversations the caller may see, newest first, with cursor pagination."""
    filters = {
        "status": status_.value if status_ else None,
        "priority": priority.value if priority else None,
        "channel": channel.value if channel else None,
        "customer_id": customer_id,
        "team_id": team_id,
        "assignee": assignee,
        "tag": tag,
    }
    with db.tenant_read(actor.tenant_id) as s:
        rows, more = queries.list_conversations(s, actor, filters=filters, cursor=cursor, limit=limit)
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return Page[ConversationOut](items=[ConversationOut.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post("/conversations", status_code=status.HTTP_201_CREATED)
def create_conversation(data: ConversationCreate, db: DbDep, actor: ActorDep) -> ConversationOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = actions.open_conversation(s, actor, data)
        s.flush()
        s.refresh(conversation)
        return ConversationOut.model_validate(conversation)


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: uuid.UUID, db: DbDep, actor: ActorDep) -> ConversationOut:
    with db.tenant_read(actor.tenant_id) as s:
        return ConversationOut.model_validate(queries.get_conversation(s, actor, conversation_id))


@router.patch("/conversations/{conversation_id}")
def update_conversation(
    conversation_id: uuid.UUID, data: ConversationUpdate, db: DbDep, actor: ActorDep
) -> ConversationOut:
    """Change status, assignee, team, priority, tags, subject. Send ``version`` to fail on concurrent edits."""
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = actions.update_conversation(s, actor, conversation_id, data)
        s.flush()
        s.refresh(conversation)
        return ConversationOut.model_validate(conversation)


@router.get("/conversations/{conversation_id}/messages")
def list_messages(
    conversation_id: uuid.UUID,
    db: DbDep,
    actor: ActorDep,
    after_seq: Annotated[Int32, Query(ge=0, description="return messages after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    include_notes: bool = True,
) -> Page[MessageOut]:
    """Messages in order; resume from the last ``seq`` you saw with ``after_seq``."""
    with db.tenant_read(actor.tenant_id) as s:
        conversation = queries.get_conversation(s, actor, conversation_id)
        rows, more = queries.list_messages(
            s, conversation, after_seq=after_seq, limit=limit, include_internal=include_notes
        )
        return Page[MessageOut](
            items=[MessageOut.model_validate(m) for m in rows],
            next_cursor=str(rows[-1].seq) if more else None,
        )


@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
def post_message(conversation_id: uuid.UUID, data: MessageCreate, db: DbDep, actor: ActorDep) -> MessageOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return MessageOut.model_validate(actions.send_message(s, actor, conversation_id, data))


@router.post("/conversations/{conversation_id}/notes", status_code=status.HTTP_201_CREATED)
def post_note(conversation_id: uuid.UUID, data: NoteCreate, db: DbDep, actor: ActorDep) -> MessageOut:
    """An internal note: visible to staff only, never sent to the customer."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return MessageOut.model_validate(actions.add_note(s, actor, conversation_id, data.body))
