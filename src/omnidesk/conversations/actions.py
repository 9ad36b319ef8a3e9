"""Actions of the conversations slice: open a conversation, send messages and notes, change its state.

A message is persisted (and its sequence number taken) in the caller's transaction before anyone is told; the
``message.created`` event leaves after commit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, case, insert, literal, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from omnidesk.accounts import queries as accounts_queries
from omnidesk.accounts.models import StaffUser
from omnidesk.channels.base import InboundMessage, SenderIdentity, TextPart, ThreadRef
from omnidesk.compliance import audit
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations import queries
from omnidesk.conversations.intake import Refused, Stored, create_conversation
from omnidesk.conversations.intake import receive_messages as receive_messages  # the one way in, re-exported
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import (
    ConversationCreate,
    ConversationUpdate,
    MessageCreate,
    MessageOut,
    SenderType,
)
from omnidesk.conversations.states import Status, check_transition
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.customers import queries as customer_queries
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import ConversationUpdated, MessageAdded, Scope
from omnidesk.security.permissions import Perm, Role, has


def open_conversation(session: Session, actor: Actor, data: ConversationCreate) -> Conversation:
    actor.require(Perm.CONVERSATIONS_WRITE)
    customer = customer_queries.get_customer(session, data.customer_id)
    if data.team_id is not None:
        accounts_queries.get_team(session, data.team_id)
    return do_open_conversation(session, actor, data, customer.id)


def do_open_conversation(
    session: Session,
    actor: Actor,
    data: ConversationCreate,
    customer_id: uuid.UUID,
) -> Conversation:
    """Open a conversation for a customer the caller has already checked; its first message, if any, is the
    customer's and goes in through ``receive_messages`` like every other."""
    conversation = create_conversation(
        session,
        actor,
        customer_id,
        channel=data.channel.value,
        subject=data.subject,
        priority=data.priority.value,
        team_id=data.team_id,
        tags=data.tags,
    )
    if data.message:
        relay_customer_message(session, actor, conversation, data.message)
    return conversation


def relay_customer_message(
    session: Session, actor: Actor, conversation: Conversation, body: str, client_id: str | None = None
) -> Stored:
    """What the customer wrote, stored for them by staff, an integration or the system (a batch of one)."""
    item = InboundMessage(
        channel=conversation.channel,
        channel_message_id=conversation_message_id(conversation.id, client_id),
        sender=SenderIdentity.of_customer(conversation.customer_id),
        parts=(TextPart(body),),
        thread=ThreadRef(conversation_id=conversation.id),
        client_id=client_id,
        ip=actor.ip,
    )
    (outcome,) = receive_messages(session, actor, [item], relayed=True)
    if isinstance(outcome, Refused):
        raise NotFound(outcome.detail)
    return outcome


def conversation_message_id(conversation_id: uuid.UUID, client_id: str | None) -> str:
    """The channel message id of a message whose sender names it per conversation (the widget's and the API's
    ``client_id``); without one, a fresh id (nothing to recognise a resend by)."""
    return f"{conversation_id}:{client_id or uuid.uuid4().hex}"


def send_message(session: Session, actor: Actor, conversation_id: uuid.UUID, data: MessageCreate) -> Message:
    actor.require(Perm.CONVERSATIONS_WRITE)
    conversation = queries.get_conversation(session, actor, conversation_id)
    if data.sender_type not in (SenderType.AGENT, SenderType.CUSTOMER):
        raise InvalidInput("through this API a message is sent by an 'agent' or relayed for a 'customer'")
    if data.client_id:
        existing = queries.find_message_by_client_id(session, conversation.id, data.client_id)
        if existing is not None:
            return existing
    if data.sender_type == SenderType.CUSTOMER:
        stored = relay_customer_message(session, actor, conversation, data.body, data.client_id)
        return queries.get_message(session, uuid.UUID(stored.message["id"]))
    return do_post_message(
        session,
        actor,
        conversation,
        body=data.body,
        sender_type=data.sender_type,
        sender_id=actor.id,
        client_id=data.client_id,
    )


def add_note(session: Session, actor: Actor, conversation_id: uuid.UUID, body: str) -> Message:
    actor.require(Perm.NOTES_WRITE)
    conversation = queries.get_conversation(session, actor, conversation_id)
    return do_post_message(
        session,
        actor,
        conversation,
        body=body,
        sender_type=SenderType.AGENT,
        sender_id=actor.id,
        internal=True,
    )


def do_post_message(
    session: Session,
    actor: Actor,
    conversation: Conversation,
    *,
    body: str,
    sender_type: SenderType,
    sender_id: uuid.UUID | None,
    internal: bool = False,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
    client_id: str | None = None,
) -> Message:
    """One outbound message: the batch of one of :func:`do_post_messages` (the same code), returned as the stored
    ``Message`` (attached to the session as if just loaded; no query). Trusts its caller to have authorized
    (``send_message``, ``add_note``, the assistant, ticket replies)."""
    item = Outgoing(conversation, body, sender_type, sender_id, kind, payload, client_id, internal)
    ((row, _),) = _post(session, actor, [item])
    message = Message(**row)
    make_transient_to_detached(message)  # persistent as stored, nothing pending: no UPDATE, no SELECT
    session.add(message)
    return message


def can_handle_conversations(user: StaffUser) -> bool:
    """Whether this staff member's role can open and answer a conversation: only they are assignable."""
    try:
        role = Role(user.role)
    except ValueError:
        return False
    return has(role, Perm.CONVERSATIONS_WRITE) and has(role, Perm.CONVERSATIONS_READ)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbound message (what :func:`do_post_message` takes as keywords); ``internal``: an internal note."""

    conversation: Conversation
    body: str
    sender_type: SenderType
    sender_id: uuid.UUID | None = None
    kind: str = "text"
    payload: dict[str, Any] | None = None
    client_id: str | None = None
    internal: bool = False


OutboundHook = Callable[[Session, Actor, Sequence[tuple[Conversation, dict[str, Any]]]], None]
"""Called by the writer, inside its transaction, with each customer-visible message it stored (``MessageOut``
JSON) and its conversation: the channels' delivery queue (``channels.delivery``) registers itself here."""

_outbound_hook: list[OutboundHook] = []


def set_outbound_hook(hook: OutboundHook) -> None:
    """Registered once at start-up by the composition root (``omnidesk.wiring.install``): the channel adapters
    that deliver messages sit above this slice, so this slice cannot import them."""
    _outbound_hook[:] = [hook]


def do_post_messages(session: Session, actor: Actor, items: Sequence[Outgoing]) -> list[dict[str, Any]]:
    """The one outbound writer: agents', the assistant's and the system's messages (and internal notes), one or
    many at once (the assistant's replies to a batch of turns), each with the next sequence number of its
    conversation, its audit record and its ``message`` event after commit, written with a handful of statements
    however many there are (group commit). Customer messages come in through ``receive_messages`` only. Trusts
    its caller to have authorized. Returns the stored messages as ``MessageOut`` JSON, in order.
    """
    return [message for _, message in _post(session, actor, items)]


def _post(session: Session, actor: Actor, items: Sequence[Outgoing]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """:func:`do_post_messages`, also returning each message's row (for :func:`do_post_message`'s ``Message``).

    The counters are bumped by one UPDATE ... RETURNING (each conversation by its number of messages), so
    concurrent senders on PostgreSQL serialise on the conversation rows and never share a number; SQLite
    serialises writers anyway. An internal note takes a number but leaves ``last_message_at`` as it was.
    """
    if not items:
        return []
    if any(item.sender_type == SenderType.CUSTOMER for item in items):
        raise ValueError("customer messages are stored by receive_messages, the one way in")
    session.flush()  # what the caller changed through the ORM goes first, as before any statement of its own
    conversations = _table(Conversation)
    counts = Counter(item.conversation.id for item in items)
    spoken = {item.conversation.id for item in items if not item.internal}
    now = utcnow()
    values: dict[str, Any] = {"last_seq": conversations.c.last_seq + _by_id(conversations, counts)}
    if spoken:
        keep = conversations.c.last_message_at
        values["last_message_at"] = (
            now if spoken == counts.keys() else case((conversations.c.id.in_(spoken), now), else_=keep)
        )
    last: dict[uuid.UUID, int] = {
        cid: seq - counts[cid]
        for cid, seq in session.execute(
            update(conversations)
            .where(conversations.c.tenant_id == actor.tenant_id, conversations.c.id.in_(list(counts)))
            .values(**values)
            .returning(conversations.c.id, conversations.c.last_seq)
        )
    }
    if last.keys() != counts.keys():
        raise NotFound("conversation not found")
    rows: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for item in items:
        seq = last[item.conversation.id] = last[item.conversation.id] + 1
        row = {
            "id": uuid.uuid4(),
            "tenant_id": actor.tenant_id,
            "conversation_id": item.conversation.id,
            "seq": seq,
            "sender_type": item.sender_type.value,
            "sender_id": item.sender_id,
            "kind": "note" if item.internal else item.kind,
            "internal": item.internal,
            "body": item.body,
            "payload": item.payload or {},
            "client_id": item.client_id,
            "created_at": now,
        }
        rows.append(row)
        action = "conversation.note_add" if item.internal else "conversation.message_add"
        changes = {"message_id": str(row["id"]), "seq": seq, "sender_type": item.sender_type.value}
        entry = audit.values(actor, action, "conversation", item.conversation.id, changes)
        audits.append({**entry, "id": uuid.uuid4(), "created_at": now})
    session.execute(insert(_table(Message)), rows)
    session.execute(insert(_table(AuditRecord)), audits)
    for item in items:
        session.expire(item.conversation, ["last_seq", "last_message_at"])
    # A signed-in agent's display name is all a visitor learns of them (``sender_name``; see realtime/filters.py).
    agents = {item.sender_id for item in items if item.sender_type == SenderType.AGENT and item.sender_id}
    names: dict[uuid.UUID, str] = {}
    if agents:
        query = select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(agents))
        names = {staff_id: name for staff_id, name in session.execute(query)}
    out = []
    for item, row in zip(items, rows, strict=True):
        shown = MessageOut.model_validate(row)
        if item.sender_id in names:
            shown.sender_name = names[item.sender_id]
        message = shown.model_dump(mode="json")
        publish_on_commit(
            session, MessageAdded(tenant_id=actor.tenant_id, scope=Scope.of(item.conversation), message=message)
        )
        out.append((row, message))
    if _outbound_hook:
        # Customer-visible messages only: an internal note never leaves the product.
        visible = [
            (item.conversation, message) for item, (_, message) in zip(items, out, strict=True) if not item.internal
        ]
        if visible:
            _outbound_hook[0](session, actor, visible)
    return out


def _by_id(table: Table, counts: Counter[uuid.UUID]) -> Any:
    """How many messages each conversation of ``counts`` takes, as a column expression (a plain number for one)."""
    if len(counts) == 1:
        return next(iter(counts.values()))
    return case({cid: literal(n) for cid, n in counts.items()}, value=table.c.id)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


_UPDATABLE = ("status", "priority", "assignee_id", "team_id", "tags", "subject", "snoozed_until")


def update_conversation(
    session: Session, actor: Actor, conversation_id: uuid.UUID, data: ConversationUpdate
) -> Conversation:
    actor.require(Perm.CONVERSATIONS_WRITE)
    conversation = queries.get_conversation(session, actor, conversation_id)
    changes = data.model_dump(exclude_unset=True)
    if data.version is not None and data.version != conversation.version:
        raise Conflict(
            f"the conversation changed since you loaded it (version {conversation.version}, yours {data.version});"
            " reload and try again"
        )
    before = {k: getattr(conversation, k) for k in _UPDATABLE}
    # No autoflush while fields change: the version column must move once per update, not once per lookup.
    with session.no_autoflush:
        if "assignee_id" in changes or "team_id" in changes:
            actor.require(Perm.CONVERSATIONS_ASSIGN)
        if "assignee_id" in changes and data.assignee_id is not None:
            assignee: StaffUser = accounts_queries.get_staff(session, data.assignee_id)
            if not assignee.is_active:
                raise InvalidInput("that staff user is deactivated and cannot be assigned")
            if not can_handle_conversations(assignee):
                raise InvalidInput(
                    f"{assignee.display_name} ({assignee.role}) cannot open or answer conversations;"
                    " assign an agent, a supervisor or an admin",
                    errors=[
                        {
                            "field": "assignee_id",
                            "message": "role cannot handle conversations",
                            "type": "assignee_cannot_handle",
                        }
                    ],
                )
            conversation.assignee_id = assignee.id
        elif "assignee_id" in changes:
            conversation.assignee_id = None
        if "team_id" in changes:
            conversation.team_id = accounts_queries.get_team(session, data.team_id).id if data.team_id else None
        if data.status is not None:
            check_transition(Status(conversation.status), data.status)
            if data.status == Status.SNOOZED and data.snoozed_until is None:
                raise InvalidInput("snoozing needs snoozed_until, the time to wake the conversation up")
            if data.status == Status.RESOLVED and conversation.status != Status.RESOLVED.value:
                conversation.resolved_at = utcnow()
            conversation.status = data.status.value
            if data.status != Status.SNOOZED:
                conversation.snoozed_until = None
        if data.snoozed_until is not None:
            if data.snoozed_until.tzinfo is None:
                raise InvalidInput("snoozed_until needs a time zone, e.g. 2027-01-01T09:00:00+08:00")
            if data.snoozed_until <= utcnow():
                raise InvalidInput("snoozed_until must be in the future")
            if conversation.status != Status.SNOOZED.value:
                raise InvalidInput("snoozed_until applies only with status 'snoozed'")
            conversation.snoozed_until = data.snoozed_until
        if data.priority is not None:
            conversation.priority = data.priority.value
        if data.tags is not None:
            conversation.tags = list(dict.fromkeys(data.tags))
        if data.subject is not None:
            conversation.subject = data.subject
    after = {k: getattr(conversation, k) for k in _UPDATABLE}
    return _record_update(session, actor, conversation, audit.diff(before, after))


def _record_update(session: Session, actor: Actor, conversation: Conversation, changed: dict[str, Any]) -> Conversation:
    """Stamp, audit and announce a conversation's changed fields; nothing at all when nothing changed."""
    if not changed:
        return conversation
    conversation.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "conversation.update", "conversation", conversation.id, changed)
    publish_on_commit(
        session,
        ConversationUpdated(
            tenant_id=actor.tenant_id, scope=Scope.of(conversation), changes=changed, status=conversation.status
        ),
    )
    return conversation


_PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def do_escalate(
    session: Session, actor: Actor, conversation: Conversation, *, priority: str | None, add_tags: Sequence[str] = ()
) -> Conversation:
    """Raise the priority (never lower it) and add tags, as the assistant does when it hands a conversation over:
    audited and announced like any update. Trusts its caller (the assistant's turn, a system job)."""
    before = {"priority": conversation.priority, "tags": list(conversation.tags or [])}
    with session.no_autoflush:
        if priority is not None and _PRIORITY_RANK.get(priority, 1) > _PRIORITY_RANK.get(conversation.priority, 1):
            conversation.priority = priority
        if add_tags:
            conversation.tags = list(dict.fromkeys([*(conversation.tags or []), *add_tags]))
    changed = audit.diff(before, {"priority": conversation.priority, "tags": list(conversation.tags or [])})
    return _record_update(session, actor, conversation, changed)


def do_move_customer(session: Session, actor: Actor, from_id: uuid.UUID, to_id: uuid.UUID) -> int:
    """Re-point every conversation of customer ``from_id`` to ``to_id`` (a merge of duplicate profiles, registered
    with ``customers.merge``; the merge audits and announces it). Each moved conversation's version moves, so an
    edit made from a page loaded before the merge is detected. Returns how many moved."""
    result = session.execute(
        update(Conversation)
        .where(Conversation.customer_id == from_id)
        .values(customer_id=to_id, version=Conversation.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
