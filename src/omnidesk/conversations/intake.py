"""Customers' messages stored many at a time: one transaction for every message that arrived together.

The socket send path (:mod:`omnidesk.realtime.intake`) hands over the messages that arrived while the previous
batch was being written, and they are stored here together: one commit (one WAL sync on SQLite, one round trip
on PostgreSQL) and a fixed handful of statements per batch, where appending them one by one costs a commit and
about eight statements each. Each message ends exactly as :func:`actions.do_append_message` would leave it: the
next ``seq`` of its conversation in arrival order, a resend with a known ``client_id`` answered with the stored
message, a resolved or snoozed conversation reopened, an unassigned conversation that the assistant does not
hold put back in the queue, an audit record in the same transaction and a ``message`` event after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from omnidesk.bot.models import BotConversation
from omnidesk.compliance import audit
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations.actions import event_scope
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import MessageOut, SenderType
from omnidesk.conversations.states import Status
from omnidesk.core.actor import visitor_actor
from omnidesk.core.db import utcnow
from omnidesk.events.outbox import publish_on_commit
from omnidesk.routing import actions as routing
from omnidesk.routing.models import QueueEntry
from omnidesk.routing.strategy import QueueState

__all__ = ["CustomerMessage", "Outcome", "Refused", "Stored", "append_customer_messages"]


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """A visitor's text message for one of their conversations (already validated at the edge)."""

    customer_id: uuid.UUID
    conversation_id: uuid.UUID
    client_id: str
    body: str
    ip: str | None = None
    origin: str | None = None  # the socket it came on: answered there with an ack, so its event skips that socket


@dataclass(frozen=True, slots=True)
class Stored:
    """The message as stored (``MessageOut`` as JSON); ``created`` is false for a resend of a stored message;
    ``held_by_bot`` tells the caller that the assistant should answer it."""

    message: dict[str, Any]
    created: bool
    held_by_bot: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    status: int
    detail: str


Outcome = Stored | Refused

# id, customer_id, assignee_id, team_id, last_seq, status, snoozed_until
_ConversationRow = Row[uuid.UUID, uuid.UUID, uuid.UUID | None, uuid.UUID | None, int, str, datetime | None]
_REOPENS = (Status.RESOLVED.value, Status.SNOOZED.value)
_QUEUED = (QueueState.WAITING.value, QueueState.OFFERED.value)


def append_customer_messages(session: Session, tenant_id: uuid.UUID, items: Sequence[CustomerMessage]) -> list[Outcome]:
    """Store ``items`` (all of tenant ``tenant_id``, whose session this is) and return one outcome per item,
    in order. A conversation that is not the sender's own is refused as not found, like any unknown id."""
    conversation_ids = {item.conversation_id for item in items}
    # Only the columns needed, not ORM objects: building objects was the largest cost of a batch.
    query = select(
        Conversation.id,
        Conversation.customer_id,
        Conversation.assignee_id,
        Conversation.team_id,
        Conversation.last_seq,
        Conversation.status,
        Conversation.snoozed_until,
    ).where(Conversation.tenant_id == tenant_id, Conversation.id.in_(conversation_ids))
    if session.get_bind().dialect.name == "postgresql":
        # Other processes append to the same conversations: lock their rows so each seq is handed out once.
        query = query.with_for_update()
    conversations: dict[uuid.UUID, _ConversationRow] = {row.id: row for row in session.execute(query).all()}
    known = _stored_by_client_id(session, conversations, items)

    now = utcnow()
    next_seq = {cid: c.last_seq for cid, c in conversations.items()}
    reopened: set[uuid.UUID] = set()
    message_rows: list[dict[str, Any]] = []
    created: list[tuple[uuid.UUID, str]] = []  # (conversation, client id) of each row, in order
    origins: dict[tuple[uuid.UUID, str], str | None] = {}
    audit_rows: list[dict[str, Any]] = []
    outcomes: list[Outcome | None] = []
    for item in items:
        conversation = conversations.get(item.conversation_id)
        if conversation is None or conversation.customer_id != item.customer_id:
            outcomes.append(Refused(404, "no conversation with this id"))
            continue
        key = (item.conversation_id, item.client_id)
        if key in known:
            outcomes.append(Stored(known[key], created=False))
            continue
        next_seq[conversation.id] += 1
        if conversation.status in _REOPENS:
            reopened.add(conversation.id)
        row = {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "conversation_id": conversation.id,
            "seq": next_seq[conversation.id],
            "sender_type": SenderType.CUSTOMER.value,
            "sender_id": item.customer_id,
            "kind": "text",
            "internal": False,
            "body": item.body,
            "payload": {},
            "client_id": item.client_id,
            "created_at": now,
        }
        message_rows.append(row)
        created.append(key)
        origins[key] = item.origin
        audit_rows.append(_audit_row(tenant_id, item, row, now))
        known[key] = MessageOut.model_validate(row).model_dump(mode="json")
        outcomes.append(None)  # filled in below, once we know whether the assistant holds the conversation
    if not message_rows:
        return [o for o in outcomes if o is not None]

    written = {conversation_id for conversation_id, _ in created}
    session.execute(insert(_table(Message)), message_rows)
    session.execute(insert(_table(AuditRecord)), audit_rows)
    table = _table(Conversation)
    session.execute(
        update(table)
        .where(table.c.tenant_id == tenant_id, table.c.id == bindparam("b_id"))
        .values(
            last_seq=bindparam("b_seq"),
            last_message_at=bindparam("b_at"),
            status=bindparam("b_status"),
            snoozed_until=bindparam("b_snoozed"),
        ),
        [
            {
                "b_id": cid,
                "b_seq": next_seq[cid],
                "b_at": now,
                "b_status": Status.OPEN.value if cid in reopened else conversations[cid].status,
                "b_snoozed": None if cid in reopened else conversations[cid].snoozed_until,
            }
            for cid in written
        ],
    )
    for key in created:
        scope = event_scope(conversations[key[0]])
        publish_on_commit(session, tenant_id, "message", "add", message=known[key], origin=origins[key], **scope)
    held = _held_by_bot(session, written)
    _queue_for_a_person(session, tenant_id, [conversations[cid] for cid in written if cid not in held], items)

    filled: list[Outcome] = []
    pending = iter(created)
    for outcome in outcomes:
        if outcome is None:
            key = next(pending)
            outcome = Stored(known[key], created=True, held_by_bot=key[0] in held)
        filled.append(outcome)
    return filled


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _stored_by_client_id(
    session: Session, conversations: dict[uuid.UUID, _ConversationRow], items: Sequence[CustomerMessage]
) -> dict[tuple[uuid.UUID, str], dict[str, Any]]:
    """The messages already stored under the batch's client ids: a resend is answered with the stored one."""
    if not conversations:
        return {}
    pairs = {(i.conversation_id, i.client_id) for i in items if i.conversation_id in conversations}
    if not pairs:
        return {}
    # Two IN lists, not a row-value IN of the pairs: SQLite scans the whole table for the latter, while this probes
    # the unique (conversation_id, client_id) index; the few extra combinations are dropped below.
    rows = session.scalars(
        select(Message).where(
            Message.conversation_id.in_({c for c, _ in pairs}), Message.client_id.in_({k for _, k in pairs})
        )
    )
    return {
        (m.conversation_id, m.client_id or ""): MessageOut.model_validate(m).model_dump(mode="json")
        for m in rows
        if (m.conversation_id, m.client_id) in pairs
    }


def _audit_row(tenant_id: uuid.UUID, item: CustomerMessage, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    changes = {"message_id": str(row["id"]), "seq": row["seq"], "sender_type": SenderType.CUSTOMER.value}
    actor = visitor_actor(tenant_id, item.customer_id, item.ip)
    entry = audit.values(actor, "conversation.message_add", "conversation", item.conversation_id, changes)
    return {**entry, "id": uuid.uuid4(), "created_at": now}


def _held_by_bot(session: Session, conversation_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(BotConversation.conversation_id).where(
                BotConversation.conversation_id.in_(conversation_ids), BotConversation.handled_by == "bot"
            )
        )
    )


def _queue_for_a_person(
    session: Session, tenant_id: uuid.UUID, conversations: list[_ConversationRow], items: Sequence[CustomerMessage]
) -> None:
    """Unassigned conversations not yet waiting go (back) into the queue; the common case, already waiting,
    costs one query for the whole batch."""
    unassigned = {c.id: c for c in conversations if c.assignee_id is None}
    if not unassigned:
        return
    waiting = set(
        session.scalars(
            select(QueueEntry.conversation_id).where(
                QueueEntry.conversation_id.in_(unassigned), QueueEntry.state.in_(_QUEUED)
            )
        )
    )
    ips = {item.conversation_id: item.ip for item in items}
    for cid, row in unassigned.items():
        conversation = session.get(Conversation, cid) if cid not in waiting else None
        if conversation is not None:
            routing.enqueue(session, visitor_actor(tenant_id, row.customer_id, ips.get(cid)), conversation)
