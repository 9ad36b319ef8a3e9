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
from omnidesk.routing import actions, engine, queries
from omnidesk.routing.models import QueueEntry
from omnidesk.routing.schemas import QueueStatusOut
from omnidesk.routing.strategy import Presence, QueueState

log = logging.getLogger("omnidesk.routing")

DEFAULT_WAIT = timedelta(minutes=2)
# The window over which a queue's handling rate is measured for the expected wait.
RATE_WINDOW = timedelta(minutes=30)
# How far back the reconciler looks for accepted chats that may need a re-offer (the policy allows up to 60 min).
REOFFER_HORIZON = timedelta(minutes=75)


def route_now(presence: PresenceStore, session: Session, tenant_id: uuid.UUID) -> None:
    actions.route_waiting(session, connected=presence.connected(tenant_id))


def reconcile_once(db: Database, presence: PresenceStore) -> int:
    """Expire lapsed offers and route waiting conversations in every tenant that has a queue. Returns offers made."""
    with db.platform_transaction() as s:
        tenants = set(
            s.scalars(
                select(QueueEntry.tenant_id).where(
                    QueueEntry.state.in_((QueueState.WAITING.value, QueueState.OFFERED.value))
                    # Recently accepted chats are watched for an unanswered re-offer (actions.reoffer_unanswered).
                    | (
                        (QueueEntry.state == QueueState.ASSIGNED.value)
                        & (QueueEntry.assigned_at >= utcnow() - REOFFER_HORIZON)
                    )
                )
            )
        )
    offered = 0
    for tenant_id in tenants:
        try:
            with db.tenant_transaction(tenant_id) as s:
                actions.expire_offers(s)
                actions.reoffer_unanswered(s)
                offered += len(actions.route_waiting(s, connected=presence.connected(tenant_id)))
        except (StaleDataError, OperationalError):
            # Another process routed the same entries at the same moment; it won, we retry next tick.
            log.info("routing pass lost a race; retrying next tick", extra={"tenant_id": str(tenant_id)})
    return offered


def queue_status(session: Session, conversation_id: uuid.UUID, language: str = "zh-CN") -> QueueStatusOut:
    """Where a waiting conversation stands: its position among the open entries of its own queue in the engine's
    service order (aging included), an estimate from that queue's measured handling rate, and the sentence the
    customer reads. The widget and the assistant's hand-over both use this, so the two never disagree; a
    callback is offered when the estimate passes the queue's threshold."""
    entry = queries.entry_for(session, conversation_id)
    if entry is None or entry.state not in (QueueState.WAITING.value, QueueState.OFFERED.value):
        return QueueStatusOut(waiting=False)
    now = utcnow()
    qid = queries.entry_queue_id(entry)
    line = [e for e in queries.open_entries(session) if queries.entry_queue_id(e) == qid]
    rows = {r.id: r for r in queries.queue_rows(session)}
    queue = rows.get(qid)
    queues = {qid: queries.engine_queue(queue) if queue else engine.Queue(id=qid, aging_seconds=0)}
    order = engine.service_order([actions.contact_of(e) for e in line], queues, now)
    position = next((i + 1 for i, c in enumerate(order) if c.id == entry.id), len(order) + 1)
    online = sum(1 for c in queries.candidates(session, None) if c.presence == Presence.ONLINE)
    rate = queries.handled_per_minute(session, entry.queue_id, RATE_WINDOW)
    wait: timedelta | None = None
    if online > 0:
        left = engine.expected_wait(
            position, handled_per_minute=rate, agents_available=online, default=DEFAULT_WAIT
        ) - (now - entry.waiting_since)
        wait = left if left > timedelta(0) else None
    seconds = int(wait.total_seconds()) if wait is not None else None
    threshold = queue.callback_threshold_seconds if queue else 0
    callback = bool(threshold) and (seconds is None or seconds > threshold)
    return QueueStatusOut(
        waiting=True,
        position=position,
        ahead=position - 1,
        expected_wait_seconds=seconds,
        agents_online=online,
        handled_per_minute=round(rate, 2) if rate else None,
        callback_offered=callback,
        message=queue_sentence(position, seconds, online, language)
        + (
            (" " if not language.startswith("zh") else "") + translate("routing.queue.callback", language)
            if callback
            else ""
        ),
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
