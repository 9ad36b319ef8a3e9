"""The SLA reconciler and the other periodic ticket jobs (elapsed-time automations, e-mail delivery).

``tick(db, now)`` reads stored deadlines only (``sla_clocks.due_at`` through its index), so it is correct after
any restart. Acting is idempotent: a warning or breach first inserts its ``sla_events`` row (unique per clock and
kind) with ON CONFLICT DO NOTHING; only the worker whose insert succeeded escalates, so two workers running at
once never escalate the same breach twice. Alerts are batched: one notice per recipient per tick.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database, utcnow
from omnidesk.core.settings import Settings
from omnidesk.tickets import automation, clocks, history, notify, ops, sla
from omnidesk.tickets.models import (
    AutomationRule,
    AutomationRun,
    MailOutbox,
    PermissionGrant,
    SlaClock,
    SlaEvent,
    Ticket,
)
from omnidesk.tickets.rules import Trigger, matches
from omnidesk.tickets.states import OPEN_STATES

log = logging.getLogger("omnidesk.jobs.tickets")
BATCH = 2000


def _insert_ignore(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert SLA event markers, skipping existing ones; returns the clock ids whose marker was new."""
    if not rows:
        return set()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(SlaEvent).values(rows).on_conflict_do_nothing().returning(SlaEvent.clock_id)
    return set(session.scalars(stmt))


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
            counts = _act(s, tenant_id, ids, now)
        for k, v in counts.items():
            totals[k] += v
    for tenant_id in tenants_with_rules:
        with db.tenant_transaction(tenant_id) as s:
            totals["rules"] += run_elapsed_rules(s, tenant_id, now)
    return totals


def _act(s: Session, tenant_id: uuid.UUID, ids: list[uuid.UUID], now: datetime) -> dict[str, int]:
    rows = list(s.scalars(select(SlaClock).where(SlaClock.id.in_(ids)).with_for_update(skip_locked=True)))
    tickets = {t.id: t for t in s.scalars(select(Ticket).where(Ticket.id.in_({r.ticket_id for r in rows})))}
    warn, breach = [], []
    for row in rows:
        ticket = tickets[row.ticket_id]
        if row.running_since is None or row.stopped_at is not None or ticket.deleted_at is not None:
            row.due_at = None
            continue
        cal = clocks.calendar(s, ticket)
        used = sla.elapsed(cal, clocks.pure(row), now)
        if used >= row.target_seconds and row.breached_at is None:
            breach.append(row)
        elif used >= row.target_seconds * row.warn_percent / 100 and row.warned_at is None:
            warn.append(row)
        else:
            clocks.store(cal, row, clocks.pure(row))
    new_warn = _insert_ignore(
        s,
        [
            {"id": uuid.uuid4(), "tenant_id": tenant_id, "clock_id": r.id, "kind": "warning", "created_at": now}
            for r in warn
        ],
    )
    new_breach = _insert_ignore(
        s,
        [
            {"id": uuid.uuid4(), "tenant_id": tenant_id, "clock_id": r.id, "kind": "breach", "created_at": now}
            for r in breach
        ],
    )
    system = system_actor(tenant_id)
    warned: dict[uuid.UUID | None, list[Ticket]] = defaultdict(list)
    breached: list[Ticket] = []
    fired = 0
    for row in warn:
        row.warned_at = now
        clocks.store(clocks.calendar(s, tickets[row.ticket_id]), row, clocks.pure(row))
        if row.id in new_warn:
            warned[tickets[row.ticket_id].assignee_id].append(tickets[row.ticket_id])
    with ops.retarget_in_one_go(s):
        for row in breach:
            row.warned_at = row.warned_at or now
            row.breached_at = now
            row.due_at = None
            ticket = tickets[row.ticket_id]
            if row.id not in new_breach:
                continue
            note = f"SLA breach: {row.metric}"
            history.record(s, system, ticket, f"sla.{row.metric}", None, "breached", note=note)
            changed = ops.escalate(s, system, ticket, rule_id=None, note=note)
            breached.append(ticket)
            fired += automation.run(s, ticket, Trigger.SLA_BREACHED, changed)
        for ticket_list in warned.values():
            for ticket in ticket_list:
                fired += automation.run(s, ticket, Trigger.SLA_WARNING)
    notices = 0
    for assignee, items in warned.items():
        if assignee is not None:
            notices += notify.notify(
                s,
                tenant_id,
                [assignee],
                "sla_warning",
                ("tickets.notice.sla_warning", {"count": len(items)}),
                ", ".join(f"#{t.number}" for t in items[:20]),
                [t.id for t in items],
            )
    if breached:
        unique = list({t.id: t for t in breached}.values())
        notices += notify.notify(
            s,
            tenant_id,
            notify.supervisors(s),
            "sla_breach",
            ("tickets.notice.sla_breach", {"count": len(unique)}),
            ", ".join(f"#{t.number}" for t in unique[:20]),
            [t.id for t in unique],
            email=True,
        )
    return {"warnings": len(new_warn), "breaches": len(new_breach), "notices": notices, "rules": fired}


def run_elapsed_rules(s: Session, tenant_id: uuid.UUID, now: datetime, limit: int = 500) -> int:
    """Fire "elapsed time" rules once per ticket and anchor time (an ``automation_runs`` row marks it)."""
    fired = 0
    for rule in s.scalars(select(AutomationRule).where(AutomationRule.enabled.is_(True))):
        if rule.trigger.get("event") != Trigger.ELAPSED:
            continue
        anchor = getattr(Ticket, rule.trigger["since"])
        cutoff = now - timedelta(minutes=int(rule.trigger["minutes"]))
        done = exists().where(AutomationRun.rule_id == rule.id, AutomationRun.ticket_id == Ticket.id)
        candidates = s.scalars(
            select(Ticket)
            .where(
                anchor <= cutoff, Ticket.status.in_([x.value for x in OPEN_STATES]), Ticket.deleted_at.is_(None), ~done
            )
            .order_by(anchor)
            .limit(limit)
        )
        for ticket in candidates:
            marker = getattr(ticket, rule.trigger["since"]).isoformat()[:64]
            s.add(AutomationRun(tenant_id=tenant_id, rule_id=rule.id, ticket_id=ticket.id, marker=marker))
            if matches(rule.conditions, automation.facts(ticket)):
                fired += automation.run(s, ticket, Trigger.ELAPSED, only=rule)
        s.flush()
    return fired


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
