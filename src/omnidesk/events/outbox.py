"""Publish after commit: actions queue events on the session; they leave only if the transaction commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from omnidesk.events.bus import Event, EventBus

_OUTBOX = "omnidesk_outbox"
_BUS = "omnidesk_bus"


def tenant_channel(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}"


def attach_bus(session: Session, bus: EventBus | None) -> None:
    session.info[_BUS] = bus


def publish_on_commit(session: Session, tenant_id: uuid.UUID, event_type: str, op: str, **data: Any) -> None:
    ev: Event = {"type": event_type, "op": op, "tenant_id": str(tenant_id), **data}
    session.info.setdefault(_OUTBOX, []).append((tenant_channel(tenant_id), ev))


def pending_events(session: Session) -> list[Event]:
    return [ev for _, ev in session.info.get(_OUTBOX, [])]


@event.listens_for(Session, "after_commit")
def _flush_outbox(session: Session) -> None:
    queued = session.info.pop(_OUTBOX, [])
    bus = session.info.get(_BUS)
    if bus is None:
        return
    by_channel: dict[str, list[Event]] = {}
    for channel, ev in queued:
        by_channel.setdefault(channel, []).append(ev)
    for channel, events in by_channel.items():
        if len(events) == 1:
            bus.publish(channel, events[0])
        else:
            bus.publish_many(channel, events)


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session: Session) -> None:
    session.info.pop(_OUTBOX, None)
