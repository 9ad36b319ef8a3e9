"""Keeping a ticket's stored SLA clocks in step with its lifecycle (the pure math lives in :mod:`sla`).

Every change recomputes and stores ``deadline_at``, ``warn_at`` and ``due_at``, so the reconciler only ever reads
stored deadlines: a restarted worker loses nothing, and a paused clock simply has no ``due_at``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from omnidesk.tickets import queries, sla
from omnidesk.tickets.models import SlaClock, Ticket
from omnidesk.tickets.states import DONE, PAUSED, Status

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
METRICS = (FIRST_RESPONSE, RESOLUTION)
_CAL_KEY = "omnidesk_ticket_calendar"


def calendar(session: Session, ticket: Ticket) -> sla.Calendar:
    """The tenant's business calendar, cached for the session; 24 × 7 in the tenant's zone if none is set."""
    cached = session.info.get(_CAL_KEY)
    if cached is not None and cached[0] == ticket.tenant_id:
        cal: sla.Calendar = cached[1]
        return cal
    spec = queries.ticket_settings(session, ticket.tenant_id).calendar
    cal = sla.parse_calendar(spec) if spec else sla.always(queries.tenant_time_zone(session, ticket.tenant_id))
    session.info[_CAL_KEY] = (ticket.tenant_id, cal)
    return cal


def calendar_of(session: Session, ticket: Ticket, business_hours: bool) -> sla.Calendar:
    """The calendar a clock counts in: the business calendar, or 24 × 7 (in its zone) for a clock that counts
    calendar time (a policy with ``business_hours`` off)."""
    cal = calendar(session, ticket)
    return cal if business_hours else sla.always(cal.time_zone)


def forget_calendar(session: Session) -> None:
    session.info.pop(_CAL_KEY, None)


def pure(row: SlaClock) -> sla.Clock:
    return sla.Clock(
        target=row.target_seconds,
        elapsed=row.elapsed_seconds,
        running_since=row.running_since,
        stopped_at=row.stopped_at,
    )


def store(cal: sla.Calendar, row: SlaClock, clock: sla.Clock) -> None:
    """Write the pure clock back with its recomputed deadlines and next due instant."""
    row.target_seconds = clock.target
    row.elapsed_seconds = clock.elapsed
    row.running_since = clock.running_since
    row.stopped_at = clock.stopped_at
    row.deadline_at = sla.deadline(cal, clock)
    row.warn_at = sla.warning_at(cal, clock, row.warn_percent / 100)
    if row.deadline_at is None or row.breached_at is not None:
        row.due_at = None
    elif row.warned_at is None and row.warn_at is not None and row.warn_at < row.deadline_at:
        row.due_at = row.warn_at
    else:
        row.due_at = row.deadline_at


def start(session: Session, ticket: Ticket, now: datetime, metrics: tuple[str, ...] = METRICS) -> None:
    """Start clocks for the ticket's current policy (no policy: no clocks). A new cycle for a metric restarts it."""
    policy = queries.policy_for(session, ticket.type_key, ticket.priority)
    if policy is None:
        return
    cal = calendar_of(session, ticket, policy.business_hours)
    current = queries.current_clocks(session, ticket.id)
    targets = {FIRST_RESPONSE: policy.first_response_minutes * 60, RESOLUTION: policy.resolution_minutes * 60}
    for metric in metrics:
        previous = current.get(metric)
        row = SlaClock(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            metric=metric,
            cycle=previous.cycle + 1 if previous else 1,
            target_seconds=float(targets[metric]),
            warn_percent=policy.warn_percent,
            business_hours=policy.business_hours,
        )
        clock = sla.start(targets[metric], now)
        if Status(ticket.status) in PAUSED:
            clock = sla.pause(cal, clock, now)
        store(cal, row, clock)
        session.add(row)


def _active(session: Session, ticket: Ticket) -> list[SlaClock]:
    return [c for c in queries.current_clocks(session, ticket.id).values() if c.stopped_at is None]


def _finish(cal: sla.Calendar, row: SlaClock, now: datetime) -> None:
    clock = sla.stop(cal, pure(row), now)
    row.met = row.breached_at is None and clock.elapsed <= clock.target
    store(cal, row, clock)


def on_status(session: Session, ticket: Ticket, old: Status, new: Status, now: datetime) -> None:
    if new == Status.REOPENED:
        start(session, ticket, now, (RESOLUTION,))
        return
    for row in _active(session, ticket):
        cal = calendar_of(session, ticket, row.business_hours)
        if new in DONE:
            _finish(cal, row, now)
        elif new in PAUSED:
            store(cal, row, sla.pause(cal, pure(row), now))
        elif old in PAUSED:
            store(cal, row, sla.resume(pure(row), now))


def on_first_response(session: Session, ticket: Ticket, now: datetime) -> None:
    for row in _active(session, ticket):
        if row.metric == FIRST_RESPONSE:
            _finish(calendar_of(session, ticket, row.business_hours), row, now)


def on_retarget(session: Session, ticket: Ticket) -> None:
    """Priority or type changed: running clocks keep their counted time and take the new policy's targets."""
    _retarget(session, ticket, _active(session, ticket))


def retarget_many(session: Session, tickets: list[Ticket]) -> None:
    """``on_retarget`` for many tickets, reading all their clocks in one query."""
    if not tickets:
        return
    by_ticket = queries.current_clocks_of_many(session, [t.id for t in tickets])
    for ticket in tickets:
        current = by_ticket.get(ticket.id, {})
        _retarget(session, ticket, [c for c in current.values() if c.stopped_at is None])


def _retarget(session: Session, ticket: Ticket, active: list[SlaClock]) -> None:
    policy = queries.policy_for(session, ticket.type_key, ticket.priority)
    if policy is None:
        return
    targets = {FIRST_RESPONSE: policy.first_response_minutes * 60, RESOLUTION: policy.resolution_minutes * 60}
    for row in active:
        row.warn_percent = policy.warn_percent
        # A running clock keeps the way it counts (its counted time is in that currency); new cycles take the
        # policy's current choice.
        cal = calendar_of(session, ticket, row.business_hours)
        store(cal, row, sla.retarget(pure(row), float(targets[row.metric])))


def badge(cal: sla.Calendar, row: SlaClock, now: datetime) -> str:
    """``met``, ``breached``, ``paused``, ``warning`` or ``ok``: what the ticket page shows."""
    if row.stopped_at is not None:
        return "met" if row.met else "breached"
    if row.breached_at is not None:
        return "breached"
    if row.running_since is None:
        return "paused"
    used = sla.elapsed(cal, pure(row), now)
    if used >= row.target_seconds:
        return "breached"
    return "warning" if used >= row.target_seconds * row.warn_percent / 100 else "ok"
