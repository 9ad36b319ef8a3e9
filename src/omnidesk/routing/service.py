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

from omnidesk.core.db import Database, utcnow
from omnidesk.events.presence import PresenceStore
from omnidesk.i18n import translate
from omnidesk.routing import actions, queries
from omnidesk.routing.models import QueueEntry
from omnidesk.routing.schemas import QueueStatusOut
from omnidesk.routing.strategy import Presence, QueueState, remaining_wait

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


def queue_status(session: Session, conversation_id: uuid.UUID, language: str = "zh-CN") -> QueueStatusOut:
    """Where a waiting conversation stands: position among the open entries (waiting or on offer, in service
    order), an honest estimate, and the sentence the customer reads. The widget and the assistant's hand-over both
    use this, so the two never disagree."""
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state not in (QueueState.WAITING.value, QueueState.OFFERED.value):
        return QueueStatusOut(waiting=False)
    line = queries.open_entries(session)
    position = next((i + 1 for i, e in enumerate(line) if e.id == entry.id), len(line) + 1)
    online = sum(1 for c in queries.candidates(session, None) if c.presence == Presence.ONLINE)
    wait = remaining_wait(
        position,
        waited=utcnow() - entry.waiting_since,
        recent_waits=queries.recent_waits(session),
        agents_online=online,
        default=DEFAULT_WAIT,
    )
    seconds = int(wait.total_seconds()) if wait is not None else None
    return QueueStatusOut(
        waiting=True,
        position=position,
        ahead=position - 1,
        expected_wait_seconds=seconds,
        agents_online=online,
        message=queue_sentence(position, seconds, online, language),
    )


def queue_sentence(position: int, wait_seconds: int | None, agents_online: int, language: str) -> str:
    """One sentence, plural and units right in each language: the place in line, then the wait or why none."""
    ahead = position - 1
    if ahead <= 0:
        place = translate("routing.queue.next", language)
    elif ahead == 1:
        place = translate("routing.queue.ahead_one", language)
    else:
        place = translate("routing.queue.ahead_many", language, ahead=ahead)
    if agents_online <= 0:
        wait = translate("routing.queue.no_agents", language)
    elif wait_seconds is None:
        wait = translate("routing.queue.overdue", language)
    else:
        minutes = round(wait_seconds / 60)
        if minutes < 1:
            wait = translate("routing.queue.wait_under_minute", language)
        elif minutes == 1:
            wait = translate("routing.queue.wait_one", language)
        else:
            wait = translate("routing.queue.wait_many", language, minutes=minutes)
    joiner = "" if language.startswith("zh") else " "
    return f"{place}{joiner}{wait}"
