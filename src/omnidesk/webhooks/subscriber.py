"""Queue webhook deliveries in the transaction that made the change (the transactional outbox).

Actions already queue their typed events on the session (``events.outbox.publish_on_commit``). Just before the
commit this listener reads them, and for every enabled subscription of the tenant that wants one, writes a
``webhook_deliveries`` row and its first job (``jobs.outbox.enqueue``) into the same transaction: the delivery
exists if and only if the change committed, and a process dying after the commit loses nothing (the job relay
sends it later).

Which subscriptions a tenant has is cached per process for :data:`CACHE_SECONDS` (reading them on every stored
message cost ~0.5 ms per commit): a change made in this process is seen at once (its commit drops the entry), one
made in another process within that time. A delivery re-checks its subscription when it is sent.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from omnidesk.core.db import utcnow
from omnidesk.events.outbox import queued_events
from omnidesk.jobs.outbox import enqueue_many
from omnidesk.webhooks.catalogue import data_of, names_of
from omnidesk.webhooks.models import WebhookDelivery, WebhookSubscription

JOB_KIND = "webhooks.deliver"
MAX_JOB_ATTEMPTS = 3  # the job's own retries only cover a crashing worker; the delivery schedule is our own
_SEEN = "omnidesk_webhooks_seen"
_FORGET = "omnidesk_webhooks_forget"
CACHE_SECONDS = 2.0

Subscriptions = list[tuple[uuid.UUID, frozenset[str]]]
_cache: dict[uuid.UUID, tuple[float, Subscriptions]] = {}
_cache_lock = threading.Lock()


def forget(session: Session, tenant_id: uuid.UUID) -> None:
    """A tenant's subscriptions change in this transaction: drop the cached list now and again at the commit (so
    a concurrent reader cannot keep the old list past it)."""
    with _cache_lock:
        _cache.pop(tenant_id, None)
    session.info.setdefault(_FORGET, set()).add(tenant_id)


def _subscriptions(session: Session, tenant_id: uuid.UUID) -> Subscriptions:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(tenant_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.event_types).where(WebhookSubscription.enabled.is_(True))
    ).all()
    found = [(sub_id, frozenset(types or ())) for sub_id, types in rows]
    with _cache_lock:
        _cache[tenant_id] = (now + CACHE_SECONDS, found)
    return found


def _queue_deliveries(session: Session) -> None:
    events = queued_events(session)
    if not events:  # most commits (every read-only one) stop here
        return
    tenant_id = session.info.get("tenant_id")
    start = session.info.get(_SEEN, 0)
    session.info[_SEEN] = len(events)
    if tenant_id is None or len(events) <= start:
        return
    wanted: list[tuple[str, dict[str, Any]]] = []
    for item in events[start:]:
        if item.tenant_id != tenant_id:
            continue
        names = names_of(item)
        if names:
            data = data_of(item)
            wanted.extend((name, data) for name in names)
    if not wanted:
        return
    subscriptions = _subscriptions(session, tenant_id)
    if not subscriptions:
        return
    now = utcnow()
    jobs: list[tuple[str, dict[str, Any]]] = []
    for sub_id, subscribed in subscriptions:
        for name, data in wanted:
            if name in subscribed:
                delivery_id = uuid.uuid4()
                session.add(
                    WebhookDelivery(
                        id=delivery_id, tenant_id=tenant_id, subscription_id=sub_id, event_type=name,
                        payload=data, created_at=now, next_attempt_at=now,
                    )
                )  # fmt: skip
                jobs.append((f"{delivery_id}:1", {"delivery_id": str(delivery_id)}))
    if jobs:
        session.flush()  # the delivery rows before their jobs: a job that runs at once finds its row
        enqueue_many(session, JOB_KIND, jobs, max_attempts=MAX_JOB_ATTEMPTS)


def _reset(session: Session) -> None:
    session.info.pop(_SEEN, None)
    tenants = session.info.pop(_FORGET, None)
    if tenants:
        with _cache_lock:
            for tenant_id in tenants:
                _cache.pop(tenant_id, None)


def install() -> None:
    """Register the listener once (every entry point calls ``wiring.install``)."""
    if not event.contains(Session, "before_commit", _queue_deliveries):
        event.listen(Session, "before_commit", _queue_deliveries)
        event.listen(Session, "after_commit", _reset)
        event.listen(Session, "after_rollback", _reset)
