"""What the agent inbox shows on each row beyond the conversation itself: the last message, how many customer
messages the agents have not read, since when the customer has been waiting for a reply, and the reply target.

Read-only; a constant number of queries for a page of rows (no per-row query). The reply target is a pure
function of the priority and the waiting time (:func:`reply_due`): a chat is "due" while the customer waits for
an answer, not like a ticket's SLA clock, so it needs no stored timer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from omnidesk.conversations.models import Conversation, Message, ReadMarker

REPLY_TARGETS = {
    "urgent": timedelta(minutes=1),
    "high": timedelta(minutes=2),
    "normal": timedelta(minutes=5),
    "low": timedelta(minutes=15),
}
"""How long a customer may wait for a person's (or the assistant's) reply, by conversation priority."""
PREVIEW_CHARS = 80
RECENT = 200


@dataclass(frozen=True)
class RowFacts:
    preview: str
    preview_from: str  # sender type of the last message ("" when none)
    preview_internal: bool
    unread: int
    waiting_since: datetime | None  # the customer's oldest unanswered message, None when answered


@dataclass(frozen=True)
class ReplyDue:
    state: str  # "ok" | "soon" | "breached"
    due_at: datetime


def reply_due(waiting_since: datetime | None, priority: str, now: datetime) -> ReplyDue | None:
    """The reply target of a waiting customer: breached past the target, "soon" in its last third."""
    if waiting_since is None:
        return None
    target = REPLY_TARGETS.get(priority, REPLY_TARGETS["normal"])
    due_at = waiting_since + target
    left = due_at - now
    state = "breached" if left <= timedelta(0) else "soon" if left <= target / 3 else "ok"
    return ReplyDue(state, due_at)


def row_facts(session: Session, conversations: list[Conversation]) -> dict[uuid.UUID, RowFacts]:
    if not conversations:
        return {}
    ids = [c.id for c in conversations]
    last = dict(
        (row[0], row[1:])
        for row in session.execute(
            select(Message.conversation_id, Message.body, Message.sender_type, Message.internal, Message.kind)
            .join(Conversation, and_(Conversation.id == Message.conversation_id, Conversation.last_seq == Message.seq))
            .where(Message.conversation_id.in_(ids))
        ).all()
    )
    read = dict(
        session.execute(
            select(ReadMarker.conversation_id, ReadMarker.read_seq).where(
                ReadMarker.conversation_id.in_(ids), ReadMarker.party == "agent"
            )
        ).all()
    )
    # per conversation: the last reply's seq, and the customer's messages (seq, time) after the agents' marker
    replied = dict(
        session.execute(
            select(Message.conversation_id, func.max(Message.seq))
            .where(
                Message.conversation_id.in_(ids),
                Message.sender_type.in_(("agent", "bot")),
                Message.internal.is_(False),
            )
            .group_by(Message.conversation_id)
        ).all()
    )
    # bounded: the last ``RECENT`` messages of each conversation count (an unread backlog shows as "200")
    customer = session.execute(
        select(Message.conversation_id, Message.seq, Message.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.conversation_id.in_(ids),
            Message.sender_type == "customer",
            Message.seq > Conversation.last_seq - RECENT,
        )
        .order_by(Message.conversation_id, Message.seq.desc())
    )
    unread: dict[uuid.UUID, int] = {}
    waiting: dict[uuid.UUID, datetime] = {}
    for conversation_id, seq, created_at in customer:
        if seq > read.get(conversation_id, 0):
            unread[conversation_id] = unread.get(conversation_id, 0) + 1
        if seq > replied.get(conversation_id, 0):
            waiting[conversation_id] = created_at  # descending: ends on the oldest unanswered one
    out = {}
    for c in conversations:
        body, sender, internal, kind = last.get(c.id, ("", "", False, "text"))
        text = " ".join((body or "").split())
        if kind == "attachment":
            text = "📎 " + text
        out[c.id] = RowFacts(
            preview=text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else ""),
            preview_from=sender,
            preview_internal=bool(internal),
            unread=unread.get(c.id, 0),
            waiting_since=waiting.get(c.id) if c.status != "resolved" else None,
        )
    return out
