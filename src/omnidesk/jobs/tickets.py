"""The SLA reconciler and the other periodic ticket jobs (elapsed-time automations, e-mail delivery).

``tick(db, now)`` reads stored deadlines only (``sla_clocks.due_at`` through its index), so it is correct after
any restart. Acting on what is due is the tickets action :func:`omnidesk.tickets.sla_actions.act_on_due` (one
call per tenant, all its due clocks at once; idempotent, alerts batched).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from omnidesk.core.db import Database, utcnow
from omnidesk.core.settings import Settings
from omnidesk.tickets import automation, sla_actions
from omnidesk.tickets.models import (
    AutomationRule,
    MailOutbox,
    PermissionGrant,
    SlaClock,
)

log = logging.getLogger("omnidesk.jobs.tickets")
BATCH = 2000


def tick(db: Database, now: datetime | None = None, *, batch: int = BATCH) -> dict[str, int]:
    """Find what is due and act on it; returns counts (warnings, breaches, notices, rules fired)."""
    now = now or utcnow()
    totals = {"warnings": 0, "breaches": 0, "notices": 0, "rules": 0}
    with db.platform_transaction() as s:
        due = s.execute(
            select(SlaClock.id, SlaClock.tenant_id).where(SlaClock.due_at <= now).order_by(SlaClock.due_at).limit(batch)
        ).all()
        tenants_with_rules = set(
            s.scalars(select(AutomationRule.tenant_id).where(AutomationRule.enabled.is_(True)).distinct())
        )
        # Expired grants already grant nothing (every check compares expires_at); this only tidies the table.
        s.execute(delete(PermissionGrant).where(PermissionGrant.expires_at < now - timedelta(days=1)))
    by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for clock_id, tenant_id in due:
        by_tenant[tenant_id].append(clock_id)
    for tenant_id, ids in by_tenant.items():
        with db.tenant_transaction(tenant_id) as s:
            counts = sla_actions.act_on_due(s, tenant_id, ids, now)
        for k, v in counts.items():
            totals[k] += v
    for tenant_id in tenants_with_rules:
        with db.tenant_transaction(tenant_id) as s:
            totals["rules"] += automation.run_elapsed_rules(s, tenant_id, now)
    return totals


def deliver_mail(db: Database, settings: Settings, limit: int = 100) -> int:
    """Send queued e-mail (at most 5 attempts each); off when SMTP is not configured."""
    from omnidesk.core import mail

    if not mail.enabled(settings):
        return 0
    sent = 0
    with db.platform_transaction() as s:
        rows = list(
            s.scalars(
                select(MailOutbox)
                .where(MailOutbox.sent_at.is_(None), MailOutbox.attempts < 5)
                .order_by(MailOutbox.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.attempts += 1
            try:
                mail.send(settings, row.to_addr, row.subject, row.body)
            except mail.MailError as exc:
                row.last_error = str(exc)[:500]
                continue
            row.sent_at = utcnow()
            sent += 1
    return sent
