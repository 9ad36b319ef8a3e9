"""Glue between routing and the running server: route now, the background reconciler, a visitor's queue status.

Offers are made in the same transaction that queued the conversation (so a customer gets an agent at once when
one is free), and by the reconciler every two seconds for everything time-driven: offers that lapsed, agents who
came online or freed capacity. The reconciler is a periodic task of the job queue (``jobs.handlers``); it is also
safe to run in several processes at once (see ``routing.actions``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from omnidesk.core.db import Database
from omnidesk.events.presence import PresenceStore
from omnidesk.routing import actions, queries
from omnidesk.routing.models import QueueEntry
from omnidesk.routing.schemas import QueueStatusOut
from omnidesk.routing.strategy import Presence, QueueState, expected_wait

log = logging.getLogger("omnidesk.routing")

DEFAULT_WAIT = timedelta(minutes=2)


def route_now(presence: PresenceStore, session: Session, tenant_id: uuid.UUID) -> None:
    actions.route_waiting(session, connected=presence.connected(tenant_id))


def reconcile_once(db: Database, presence: PresenceStore) -> int:
    """Expire lapsed offers and route waiting conversations in every tenant that has a queue. Returns offers made."""
    with db.platform_transaction() as s:
        tenants = set(
            s.scalars(
                select(QueueEntry.tenant_id).where(
                    QueueEntry.state.in_((QueueState.WAITING.value, QueueState.OFFERED.value))
                )
            )
        )
    offered = 0
    for tenant_id in tenants:
        try:
            with db.tenant_transaction(tenant_id) as s:
                actions.expire_offers(s)
                offered += len(actions.route_waiting(s, connected=presence.connected(tenant_id)))
        except (StaleDataError, OperationalError):
            # Another process routed the same entries at the same moment; it won, we retry next tick.
            log.info("routing pass lost a race; retrying next tick", extra={"tenant_id": str(tenant_id)})
    return offered


def queue_status(session: Session, conversation_id: uuid.UUID) -> QueueStatusOut:
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state not in (QueueState.WAITING.value, QueueState.OFFERED.value):
        return QueueStatusOut(waiting=False, position=None, expected_wait_seconds=None)
    line = queries.open_entries(session)
    position = next((i + 1 for i, e in enumerate(line) if e.id == entry.id), len(line))
    online = sum(1 for c in queries.candidates(session, None) if c.presence == Presence.ONLINE)
    wait = expected_wait(
        position, recent_waits=queries.recent_waits(session), agents_available=online, default=DEFAULT_WAIT
    )
    return QueueStatusOut(waiting=True, position=position, expected_wait_seconds=int(wait.total_seconds()))
