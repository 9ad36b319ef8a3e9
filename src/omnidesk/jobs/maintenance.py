"""Periodic maintenance: purge what has expired. Idempotent, safe to run from many processes at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from omnidesk.accounts.models import StaffSession
from omnidesk.compliance.models import IdempotentResponse
from omnidesk.core.db import Database, utcnow
from omnidesk.jobs.models import Job, JobState
from omnidesk.webhooks.models import DELIVERY_LOG_RETENTION, DeliveryState, WebhookDelivery

IDEMPOTENCY_RETENTION = timedelta(hours=24)
FINISHED_JOB_RETENTION = timedelta(days=1)  # their keys keep a repeated enqueue from running twice meanwhile


def purge_expired(db: Database) -> dict[str, int]:
    now = utcnow()
    with db.platform_transaction() as s:
        keys = s.execute(  # type: ignore[attr-defined]
            delete(IdempotentResponse).where(IdempotentResponse.created_at < now - IDEMPOTENCY_RETENTION)
        ).rowcount
        sessions = s.execute(  # type: ignore[attr-defined]
            delete(StaffSession).where(
                or_(StaffSession.expires_at < now, StaffSession.revoked_at < now - timedelta(days=1))
            )
        ).rowcount
        jobs = s.execute(  # type: ignore[attr-defined]
            delete(Job).where(
                Job.state.in_((JobState.DONE, JobState.DISCARDED)), Job.finished_at < now - FINISHED_JOB_RETENTION
            )
        ).rowcount
        deliveries = s.execute(  # type: ignore[attr-defined]
            delete(WebhookDelivery).where(
                WebhookDelivery.state.in_((DeliveryState.DELIVERED, DeliveryState.FAILED)),
                WebhookDelivery.created_at < now - DELIVERY_LOG_RETENTION,
            )
        ).rowcount
    return {
        "idempotent_responses": keys or 0,
        "staff_sessions": sessions or 0,
        "finished_jobs": jobs or 0,
        "webhook_deliveries": deliveries or 0,
    }
