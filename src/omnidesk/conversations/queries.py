"""Read helpers of the conversations slice, including who may see which conversation."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.actor import Actor
from omnidesk.core.errors import NotFound
from omnidesk.core.pagination import decode_cursor
from omnidesk.security.permissions import Perm


def visible_to(actor: Actor) -> ColumnElement[bool] | None:
    """Agents see conversations assigned to them, unassigned ones and those of their teams; supervisors all."""
    if actor.can(Perm.CONVERSATIONS_READ_ALL):
        return None
    # An API key with the agent role is nobody's inbox: it sees only the unassigned queue.
    clauses: list[ColumnElement[bool]] = [Conversation.assignee_id.is_(None)]
    if actor.staff_id is not None:
        clauses.append(Conversation.assignee_id == actor.staff_id)
    if actor.team_ids:
        clauses.append(Conversation.team_id.in_(actor.team_ids))
    return or_(*clauses)


def get_conversation(session: Session, actor: Actor, conversation_id: uuid.UUID) -> Conversation:
    actor.require(Perm.CONVERSATIONS_READ)
    stmt = select(Conversation).where(Conversation.id == conversation_id)
    scope = visible_to(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    conversation = session.scalar(stmt)
    if conversation is None:
        raise NotFound("no conversation with this id")
    return conversation


def list_conversations(
    session: Session,
    actor: Actor,
    *,
    filters: dict[str, Any],
    cursor: str | None,
    limit: int,
) -> tuple[list[Conversation], bool]:
    actor.require(Perm.CONVERSATIONS_READ)
    stmt = select(Conversation)
    scope = visible_to(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    for name in ("status", "priority", "channel", "customer_id", "team_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Conversation, name) == filters[name])
    assignee = filters.get("assignee")
    if assignee == "me":
        # An API key is nobody, so nothing is assigned to it ("== None" would mean "unassigned" in SQL).
        stmt = stmt.where(Conversation.assignee_id == actor.staff_id if actor.staff_id is not None else false())
    elif assignee == "none":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif isinstance(assignee, uuid.UUID):
        stmt = stmt.where(Conversation.assignee_id == assignee)
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                Conversation.created_at < created,
                (Conversation.created_at == created) & (Conversation.id < row_id),
            )
        )
    stmt = stmt.order_by(Conversation.created_at.desc(), Conversation.id.desc())
    tag = filters.get("tag")
    if tag:
        rows = [c for c in session.scalars(stmt.limit(limit * 20)) if tag in (c.tags or [])]
        return rows[:limit], len(rows) > limit
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def list_messages(
    session: Session, conversation: Conversation, *, after_seq: int, limit: int, include_internal: bool
) -> tuple[list[Message], bool]:
    stmt = select(Message).where(Message.conversation_id == conversation.id, Message.seq > after_seq)
    if not include_internal:
        stmt = stmt.where(Message.internal.is_(False))
    rows = list(session.scalars(stmt.order_by(Message.seq).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def find_message_by_client_id(session: Session, conversation_id: uuid.UUID, client_id: str) -> Message | None:
    return session.scalar(
        select(Message).where(Message.conversation_id == conversation_id, Message.client_id == client_id)
    )


def get_message(session: Session, message_id: uuid.UUID) -> Message:
    message = session.scalar(select(Message).where(Message.id == message_id))
    if message is None:
        raise NotFound("no message with this id")
    return message
