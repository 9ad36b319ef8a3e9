"""Publish after commit: actions queue typed events (``events.types``) on the session; they leave, in their wire
form, only if the transaction commits."""

from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from omnidesk.events.bus import Event, EventBus
from omnidesk.events.types import Event as TypedEvent

_OUTBOX = "omnidesk_outbox"
_BUS = "omnidesk_bus"
_MARKS = "omnidesk_outbox_savepoints"


def tenant_channel(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}"


def attach_bus(session: Session, bus: EventBus | None) -> None:
    session.info[_BUS] = bus


def publish_on_commit(session: Session, event: TypedEvent) -> None:
    session.info.setdefault(_OUTBOX, []).append((tenant_channel(event.tenant_id), event))


def queued_events(session: Session) -> list[TypedEvent]:
    """The typed events this transaction will publish (read by subscribers that must write in the same
    transaction, e.g. outgoing webhooks queueing their deliveries before the commit)."""
    return [ev for _, ev in session.info.get(_OUTBOX, [])]


def pending_events(session: Session) -> list[Event]:
    """The events this transaction will publish, in their wire form (tests, and callers that answer with them)."""
    return [ev.to_dict() for _, ev in session.info.get(_OUTBOX, [])]


@event.listens_for(Session, "after_commit")
def _flush_outbox(session: Session) -> None:
    queued = session.info.pop(_OUTBOX, [])
    bus = session.info.get(_BUS)
    if bus is None:
        return
    by_channel: dict[str, list[Event]] = {}
    for channel, ev in queued:
        by_channel.setdefault(channel, []).append(ev.to_dict())
    for channel, events in by_channel.items():
        if len(events) == 1:
            bus.publish(channel, events[0])
        else:
            bus.publish_many(channel, events)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_OUTBOX, ()))


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session: Session) -> None:
    """A rolled-back transaction publishes nothing; a rolled-back savepoint (an automation action skipped inside a
    larger write, such as a reconciler tick over many tickets) drops only the events queued inside it."""
    nested = session.get_nested_transaction()
    mark = session.info.get(_MARKS, {}).get(nested) if nested is not None else None
    if mark is None:
        session.info.pop(_OUTBOX, None)
    else:
        del session.info.get(_OUTBOX, [])[mark:]


@event.listens_for(Session, "after_transaction_end")
def _forget_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(_MARKS, {}).pop(transaction, None)
