"""The one way a customer message is stored: :func:`receive_messages`, for a batch of normalised inbound messages.

Every channel hands its messages over here (``channels/base.py`` describes them; ``docs/channels.md`` the road),
one message or hundreds that arrived together: one transaction and a fixed handful of statements per batch (one
commit, one WAL sync on SQLite, one round trip on PostgreSQL), where storing them one by one costs a commit and
about eight statements each. Each message is

* stored once: a redelivery with a known ``(channel, channel_message_id)`` is answered with the stored message;
* from a customer resolved through the customers slice (the adapter's verified customer, or the holder of the
  sender's identity, or a new customer);
* in a conversation found or opened (``ThreadRef``), with the next ``seq`` of that conversation in arrival order;
  a resolved or snoozed conversation reopens;
* audited in the same transaction, and announced by a ``message`` event after the commit.

Who answers what arrived (the assistant holds new conversations, people get the rest through the queue) is not
this slice's business: the intake policy registered at start-up (``omnidesk.wiring``) decides, inside the same
transaction. Agent, bot and system messages leave through ``actions.do_post_message`` instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from omnidesk.channels.base import InboundMessage, stored_form
from omnidesk.compliance import audit
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations.models import ChannelMessage, Conversation, Message
from omnidesk.conversations.schemas import MessageOut, SenderType
from omnidesk.conversations.states import Status
from omnidesk.core.actor import Actor, ActorKind, visitor_actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import PermissionDenied
from omnidesk.customers import actions as customer_actions
from omnidesk.customers.models import Customer
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import ConversationAdded, ConversationUpdated, MessageAdded, Scope
from omnidesk.security.permissions import Perm

__all__ = [
    "Arrival",
    "IntakePolicy",
    "Outcome",
    "Refused",
    "Stored",
    "create_conversation",
    "receive_messages",
    "set_intake_policy",
]


@dataclass(frozen=True, slots=True)
class Stored:
    """The message as stored (``MessageOut`` as JSON); ``created`` is false for a redelivery of a stored message;
    ``held_by_bot`` tells the caller that the assistant should answer it."""

    message: dict[str, Any]
    created: bool
    held_by_bot: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    status: int
    detail: str


Outcome = Stored | Refused


@dataclass(frozen=True, slots=True)
class Arrival:
    """A customer message just stored, as the intake policy sees it. ``opened``: the message opened its
    conversation; ``relayed``: staff or an API key stored it on the customer's behalf (they handle the
    conversation themselves)."""

    conversation_id: uuid.UUID
    customer_id: uuid.UUID
    assignee_id: uuid.UUID | None
    message_id: uuid.UUID
    opened: bool
    relayed: bool
    actor: Actor
    kind: str = "text"  # the stored message's kind: text, or an attachment
    seq: int = 0  # the message's place in its conversation


IntakePolicy = Callable[[Session, Actor, Sequence[Arrival]], set[uuid.UUID]]
"""Called once per batch, inside its transaction, with the messages created; returns the ids of the
conversations the assistant holds (their messages are ``held_by_bot``)."""

_policy: list[IntakePolicy] = []


def set_intake_policy(policy: IntakePolicy) -> None:
    """Registered once at start-up by the composition root (``omnidesk.wiring.install``): the slices that decide
    who answers (routing, the assistant) sit above this one, so this one cannot import them."""
    _policy[:] = [policy]


def _current_policy() -> IntakePolicy:
    if not _policy:
        # Storing a message nobody will ever be offered is worse than failing: every entry point installs it.
        raise RuntimeError("no intake policy registered: call omnidesk.wiring.install() at start-up")
    return _policy[0]


@dataclass(slots=True)
class _Conversation:
    """The columns of a conversation the batch needs (building ORM objects was the largest cost of a batch)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    assignee_id: uuid.UUID | None
    team_id: uuid.UUID | None
    last_seq: int
    status: str
    snoozed_until: datetime | None
    channel: str
    opened: bool = False
    reopen: bool = field(default=False)


_COLUMNS = (
    Conversation.id,
    Conversation.customer_id,
    Conversation.assignee_id,
    Conversation.team_id,
    Conversation.last_seq,
    Conversation.status,
    Conversation.snoozed_until,
    Conversation.channel,
)
_REOPENS = (Status.RESOLVED.value, Status.SNOOZED.value)
_Key = tuple[str, str]  # (channel, channel_message_id)


def receive_messages(
    session: Session, actor: Actor, batch: Sequence[InboundMessage], *, relayed: bool = False
) -> list[Outcome]:
    """Store ``batch`` (all of ``actor``'s tenant, whose session this is); one outcome per message, in order.

    ``actor`` delivers the batch: a channel adapter acting as the system after authenticating its outside world,
    a visitor for their own messages only, or staff / an API key with ``conversations.write`` relaying what a
    customer wrote. A message whose conversation is not its sender's is refused as not found, like any unknown id,
    without failing the others. ``relayed`` (implied for staff and API keys): whoever stores these messages on the
    customer's behalf handles the conversation, so the intake policy does not queue it for a person.
    """
    _authorize(actor, batch)
    if not batch:
        return []
    tenant_id = actor.tenant_id
    known = _known(session, batch)
    lookup = _named_conversations(session, batch, known)

    now = utcnow()
    message_rows: list[dict[str, Any]] = []
    channel_rows: list[dict[str, Any]] = []
    audit_rows: list[dict[str, Any]] = []
    created: list[tuple[_Key, _Conversation, InboundMessage, Actor]] = []
    outcomes: list[Outcome | None] = []
    for item in batch:
        key = (item.channel, item.channel_message_id)
        if key in known:
            outcomes.append(Stored(known[key], created=False))
            continue
        conversation = _conversation_of(session, actor, item, lookup)
        if isinstance(conversation, Refused):
            outcomes.append(conversation)
            continue
        conversation.last_seq += 1
        if conversation.status in _REOPENS:
            conversation.reopen = True
        kind, body, payload = stored_form(item.parts)
        row = {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "conversation_id": conversation.id,
            "seq": conversation.last_seq,
            "sender_type": SenderType.CUSTOMER.value,
            "sender_id": conversation.customer_id,
            "kind": kind,
            "internal": False,
            "body": body,
            "payload": payload,
            "client_id": item.client_id,
            "created_at": item.received_at or now,
        }
        message_rows.append(row)
        channel_rows.append(
            {
                "tenant_id": tenant_id,
                "channel": item.channel,
                "channel_message_id": item.channel_message_id,
                "direction": "in",
                "conversation_id": conversation.id,
                "message_id": row["id"],
                "raw": dict(item.raw) if item.raw is not None else None,
                "created_at": now,
            }
        )
        audited_as = _audited_as(actor, conversation.customer_id, item.ip)
        audit_rows.append(_audit_row(audited_as, conversation.id, row, now))
        known[key] = MessageOut.model_validate(row).model_dump(mode="json")
        created.append((key, conversation, item, audited_as))
        outcomes.append(None)  # filled in below, once the policy said whether the assistant holds it
    if not message_rows:
        return [o for o in outcomes if o is not None]

    session.execute(insert(_table(Message)), message_rows)
    session.execute(insert(_table(ChannelMessage)), channel_rows)
    session.execute(insert(_table(AuditRecord)), audit_rows)
    written = {c.id: c for _, c, _, _ in created}
    _update_conversations(session, tenant_id, written.values(), now)
    for conversation in written.values():
        if conversation.reopen:
            # A customer writing again reopens the conversation: everyone holding it as resolved must hear so.
            changes: dict[str, Any] = {"status": [conversation.status, Status.OPEN.value]}
            if conversation.snoozed_until is not None:
                changes["snoozed_until"] = [conversation.snoozed_until.isoformat(), None]
            publish_on_commit(
                session,
                ConversationUpdated(
                    tenant_id=tenant_id, scope=Scope.of(conversation), changes=changes, status=Status.OPEN.value
                ),
            )
    for key, conversation, item, _ in created:
        publish_on_commit(
            session,
            MessageAdded(tenant_id=tenant_id, scope=Scope.of(conversation), message=known[key], origin=item.origin),
        )

    relayed = relayed or actor.kind in (ActorKind.STAFF, ActorKind.API_KEY)
    arrivals = [
        Arrival(
            c.id,
            c.customer_id,
            c.assignee_id,
            uuid.UUID(known[key]["id"]),
            c.opened,
            relayed,
            audited_as,
            known[key]["kind"],
            known[key]["seq"],
        )
        for key, c, _, audited_as in created
    ]
    held = _current_policy()(session, actor, arrivals)

    filled: list[Outcome] = []
    pending = iter(created)
    for outcome in outcomes:
        if outcome is None:
            key, conversation, _, _ = next(pending)
            outcome = Stored(known[key], created=True, held_by_bot=conversation.id in held)
        filled.append(outcome)
    return filled


def create_conversation(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    *,
    channel: str,
    subject: str = "",
    priority: str = "normal",
    team_id: uuid.UUID | None = None,
    tags: Sequence[str] = (),
    conversation_id: uuid.UUID | None = None,
) -> Conversation:
    """A new, empty conversation of a customer the caller has checked: row, audit record, ``conversation`` event."""
    now = utcnow()
    conversation = Conversation(
        id=conversation_id or uuid.uuid4(),
        tenant_id=actor.tenant_id,
        customer_id=customer_id,
        channel=channel,
        subject=subject,
        priority=priority,
        team_id=team_id,
        tags=list(dict.fromkeys(tags)),
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.flush()
    audit.record(
        session,
        actor,
        "conversation.create",
        "conversation",
        conversation.id,
        {"channel": conversation.channel, "customer_id": str(customer_id)},
    )
    publish_on_commit(
        session, ConversationAdded(tenant_id=actor.tenant_id, scope=Scope.of(conversation), status=Status.OPEN.value)
    )
    return conversation


def _authorize(actor: Actor, batch: Sequence[InboundMessage]) -> None:
    if actor.kind == ActorKind.VISITOR:
        # A visitor stores their own messages only: the adapter put the customer from their signed token.
        if any(item.sender.customer_id != actor.id for item in batch):
            raise PermissionDenied("a visitor sends messages as themselves only")
    elif actor.kind != ActorKind.SYSTEM:
        actor.require(Perm.CONVERSATIONS_WRITE)


def _audited_as(actor: Actor, customer_id: uuid.UUID, ip: str | None) -> Actor:
    """Staff relaying a message are audited as themselves; anything else as the customer who wrote it."""
    if actor.kind in (ActorKind.STAFF, ActorKind.API_KEY):
        return actor
    return visitor_actor(actor.tenant_id, customer_id, ip or actor.ip)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _known(session: Session, batch: Sequence[InboundMessage]) -> dict[_Key, dict[str, Any]]:
    """The messages already stored under the batch's channel ids: a redelivery is answered with the stored one."""
    keys = {(item.channel, item.channel_message_id) for item in batch}
    # Two IN lists, not a row-value IN of the pairs: SQLite scans the whole table for the latter, while this probes
    # the unique (tenant, channel, channel_message_id) index; the few extra combinations are dropped below. No join:
    # SQLite would be free to walk the tenant's messages instead, and a redelivery is the rare case anyway.
    found = {
        (channel, cmid): message_id
        for channel, cmid, message_id in session.execute(
            select(ChannelMessage.channel, ChannelMessage.channel_message_id, ChannelMessage.message_id).where(
                ChannelMessage.channel.in_({c for c, _ in keys}),
                ChannelMessage.channel_message_id.in_({m for _, m in keys}),
            )
        )
        if (channel, cmid) in keys
    }
    if not found:
        return {}
    messages = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(set(found.values()))))}
    return {
        key: MessageOut.model_validate(messages[message_id]).model_dump(mode="json")
        for key, message_id in found.items()
        if message_id in messages
    }


def _lock(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        # Other processes append to the same conversations: lock their rows so each seq is handed out once.
        return query.with_for_update()
    return query


def _named_conversations(
    session: Session, batch: Sequence[InboundMessage], known: dict[_Key, dict[str, Any]]
) -> _Lookup:
    """The conversations the batch names, directly or by the channel id of a message they reply to: one query
    for the whole batch (the widget's case), one more only for channels that thread by reply."""
    pending = [item for item in batch if (item.channel, item.channel_message_id) not in known]
    ids = {item.thread.conversation_id for item in pending if item.thread.conversation_id is not None}
    wanted = {(item.channel, item.thread.reply_to) for item in pending if item.thread.reply_to}
    replies: dict[_Key, uuid.UUID] = {}
    if wanted:
        rows = session.execute(
            select(ChannelMessage.channel, ChannelMessage.channel_message_id, ChannelMessage.conversation_id).where(
                ChannelMessage.channel.in_({c for c, _ in wanted}),
                ChannelMessage.channel_message_id.in_({r for _, r in wanted}),
            )
        )
        replies = {(c, m): cid for c, m, cid in rows if (c, m) in wanted}
        ids |= set(replies.values())
    lookup = _Lookup(replies=replies)
    if ids:
        query = _lock(session, select(*_COLUMNS).where(Conversation.id.in_(ids)))
        lookup.conversations = {row.id: _Conversation(*row) for row in session.execute(query)}
    return lookup


@dataclass(slots=True)
class _Lookup:
    conversations: dict[uuid.UUID, _Conversation] = field(default_factory=dict)
    replies: dict[_Key, uuid.UUID] = field(default_factory=dict)
    latest: dict[tuple[uuid.UUID, str], _Conversation] = field(default_factory=dict)
    customers: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)


_NOT_FOUND = Refused(404, "no conversation with this id")


def _conversation_of(session: Session, actor: Actor, item: InboundMessage, lookup: _Lookup) -> _Conversation | Refused:
    """Find or open the conversation ``item`` belongs to (see ``ThreadRef``)."""
    thread = item.thread
    if thread.conversation_id is not None:
        named = lookup.conversations.get(thread.conversation_id)
        if named is not None:
            if named.customer_id != item.sender.customer_id:
                return _NOT_FOUND  # another customer's conversation does not exist, as far as this sender knows
            return named
        if not thread.new_conversation:
            return _NOT_FOUND
    customer_id = _customer_of(session, actor, item, lookup)
    if customer_id is None:
        return Refused(404, "no customer with this id")
    replied = lookup.replies.get((item.channel, thread.reply_to)) if thread.reply_to else None
    if replied is not None:
        conversation = lookup.conversations.get(replied)
        if conversation is not None and conversation.customer_id == customer_id:
            return conversation
    key = (customer_id, item.channel)
    if not thread.new_conversation:
        current = lookup.latest.get(key) or _latest_open(session, customer_id, item.channel)
        if current is not None:
            lookup.conversations[current.id] = lookup.latest[key] = current
            return current
    opened = create_conversation(
        session,
        _audited_as(actor, customer_id, item.ip),
        customer_id,
        channel=item.channel,
        subject=thread.subject,
        conversation_id=thread.conversation_id,
    )
    conversation = _Conversation(
        opened.id, customer_id, None, None, 0, Status.OPEN.value, None, item.channel, opened=True
    )
    lookup.conversations[conversation.id] = lookup.latest[key] = conversation
    return conversation


def _customer_of(session: Session, actor: Actor, item: InboundMessage, lookup: _Lookup) -> uuid.UUID | None:
    sender = item.sender
    if sender.customer_id is not None:
        exists = session.scalar(select(Customer.id).where(Customer.id == sender.customer_id))
        return exists
    key = (sender.kind, sender.value)
    if key not in lookup.customers:
        identity = customer_actions.ChannelIdentity(sender.kind, sender.value, sender.verified)
        customer = customer_actions.do_resolve_sender(
            session, actor, identity, name=sender.display_name, language=sender.language, source=item.channel
        )
        lookup.customers[key] = customer.id
    return lookup.customers[key]


def _latest_open(session: Session, customer_id: uuid.UUID, channel: str) -> _Conversation | None:
    """The customer's most recent conversation on ``channel`` that is not resolved (a channel without threads
    carries one conversation at a time)."""
    query = _lock(
        session,
        select(*_COLUMNS)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.channel == channel,
            Conversation.status != Status.RESOLVED.value,
        )
        .order_by(Conversation.created_at.desc())
        .limit(1),
    )
    row = session.execute(query).first()
    return _Conversation(*row) if row is not None else None


def _update_conversations(
    session: Session, tenant_id: uuid.UUID, written: Iterable[_Conversation], now: datetime
) -> None:
    table = _table(Conversation)
    written = list(written)
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
                "b_id": c.id,
                "b_seq": c.last_seq,
                "b_at": now,
                "b_status": Status.OPEN.value if c.reopen else c.status,
                "b_snoozed": None if c.reopen else c.snoozed_until,
            }
            for c in written
        ],
    )
    ids = {c.id for c in written}
    # Conversations this session holds as objects (one just opened, one a handler loaded) must not keep the
    # counters they had before this UPDATE.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Conversation) and obj.id in ids:
            session.expire(obj, ["last_seq", "last_message_at", "status", "snoozed_until"])


def _audit_row(actor: Actor, conversation_id: uuid.UUID, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    changes = {"message_id": str(row["id"]), "seq": row["seq"], "sender_type": SenderType.CUSTOMER.value}
    entry = audit.values(actor, "conversation.message_add", "conversation", conversation_id, changes)
    return {**entry, "id": uuid.uuid4(), "created_at": now}
