"""Send one webhook delivery attempt, record it, and schedule the next (the ``webhooks.deliver`` job).

The delivery row is the truth; each attempt is its own job (key ``<delivery>:<attempt>``) queued with
``run_after`` at the next step of :data:`SCHEDULE`, so back-off spans hours without holding a worker. The job is
at least once: a worker that dies after sending and before recording sends again, with the same delivery id and
body, and the receiver de-duplicates on ``OmniDesk-Delivery``.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import update

from omnidesk.accounts.tenant_secrets import unseal
from omnidesk.core.db import Database, utcnow
from omnidesk.jobs.outbox import enqueue
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundClient, OutboundError
from omnidesk.webhooks import signing
from omnidesk.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from omnidesk.webhooks.subscriber import JOB_KIND, MAX_JOB_ATTEMPTS, forget

SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
)
"""Wait after the n-th failed attempt; after the last one the delivery is failed (8 attempts over ~45 h)."""
TIMEOUT_SECONDS = 10.0
USER_AGENT = "OmniDesk-Webhooks/1"


def secret_name(subscription_id: uuid.UUID) -> str:
    """The associated data the secret is sealed under: a ciphertext copied to another row does not open."""
    return f"webhook:{subscription_id}"


def attempt(
    db: Database, keys: PurposeKeys, client: OutboundClient, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> str:
    """One attempt of a pending delivery; returns the delivery's state after it."""
    with db.tenant_read(tenant_id) as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state != DeliveryState.PENDING:
            return delivery.state if delivery else "gone"
        sub = s.get(WebhookSubscription, delivery.subscription_id)
        if sub is None or not sub.enabled:
            url, secret = None, ""
        else:
            url, secret = sub.url, unseal(keys, tenant_id, secret_name(sub.id), sub.sealed_secret)
        payload = signing.body(delivery.id, delivery.event_type, delivery.created_at, tenant_id, delivery.payload)
        event_type = delivery.event_type
    if url is None:
        return _record(db, tenant_id, delivery_id, None, "the subscription is disabled", 0, final=True)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "OmniDesk-Delivery": str(delivery_id),
        "OmniDesk-Event": event_type,
        "OmniDesk-Signature": signing.signature(secret, timestamp, payload),
    }
    started = time.monotonic()
    status: int | None = None
    error = ""
    try:
        answer = client.request("POST", url, headers=headers, content=payload, timeout=TIMEOUT_SECONDS)
        status = answer.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except OutboundError as exc:
        error = exc.reason
    duration = int((time.monotonic() - started) * 1000)
    return _record(db, tenant_id, delivery_id, status, error, duration, final=False)


def _record(
    db: Database, tenant_id: uuid.UUID, delivery_id: uuid.UUID, status: int | None, error: str, duration: int,
    *, final: bool,
) -> str:  # fmt: skip
    now = utcnow()
    with db.tenant_transaction(tenant_id) as s:
        delivery = s.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.state != DeliveryState.PENDING:
            return delivery.state if delivery else "gone"
        delivery.attempts += 1
        delivery.last_status = status
        delivery.last_error = error[:500]
        delivery.last_duration_ms = duration
        delivery.last_attempt_at = now
        if status is not None and 200 <= status < 300:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif status == 410 or final:
            # 410 Gone: the receiver says this endpoint is no more; stop sending to it at all.
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            if status == 410:
                forget(s, tenant_id)
                s.execute(
                    update(WebhookSubscription)
                    .where(WebhookSubscription.id == delivery.subscription_id)
                    .values(enabled=False, disabled_reason="the receiver answered 410 Gone", updated_at=now)
                )
        elif delivery.attempts > len(SCHEDULE):
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + SCHEDULE[delivery.attempts - 1]
            enqueue(
                s, JOB_KIND, {"delivery_id": str(delivery_id)},
                key=f"{delivery_id}:{delivery.attempts + 1}:{uuid.uuid4().hex[:8]}",
                run_after=delivery.next_attempt_at, max_attempts=MAX_JOB_ATTEMPTS,
            )  # fmt: skip
        return delivery.state
