"""Reads of the interval tables and the facts behind them: every report, export and drill-down goes through here,
so the screen, the CSV and the list of conversations behind a number agree by construction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from omnidesk.analytics.metrics import BY_ID, COUNTER_NAMES, Counters, Policy, facts
from omnidesk.analytics.models import ConversationFact, Interval
from omnidesk.analytics.rollup import DIMENSIONS, GRAINS, load_histories
from omnidesk.core.errors import InvalidInput

DRILL_LIMIT = 500


def _counters(row: Any, offset: int = 0) -> Counters:
    c = Counters()
    for i, name in enumerate(COUNTER_NAMES):
        setattr(c, name, row[offset + i] or 0)
    return c


def check(dimension: str, grain: str = "1d") -> None:
    if dimension not in DIMENSIONS:
        raise InvalidInput(f"dimension must be one of {', '.join(DIMENSIONS)}")
    if grain not in GRAINS:
        raise InvalidInput(f"grain must be one of {', '.join(GRAINS)}")


def totals(
    session: Session, tenant_id: uuid.UUID, start: datetime, end: datetime, dimension: str = "tenant", grain: str = "1d"
) -> dict[str, Counters]:
    """Counters summed over ``[start, end)`` per value of ``dimension`` (``{"": …}`` for the tenant)."""
    check(dimension, grain)
    sums = [func.sum(getattr(Interval, n)) for n in COUNTER_NAMES]
    rows = session.execute(
        select(Interval.value, *sums)
        .where(
            Interval.tenant_id == tenant_id,
            Interval.grain == grain,
            Interval.dimension == dimension,
            Interval.bucket_start >= start,
            Interval.bucket_start < end,
        )
        .group_by(Interval.value)
        .order_by(Interval.value)
    ).all()
    return {str(r[0]): _counters(r, 1) for r in rows}


def series(
    session: Session,
    tenant_id: uuid.UUID,
    start: datetime,
    end: datetime,
    grain: str,
    dimension: str = "tenant",
    value: str = "",
) -> list[tuple[datetime, Counters]]:
    """Counters per bucket of ``grain`` for one dimension value, in time order (empty buckets absent)."""
    check(dimension, grain)
    rows = session.execute(
        select(Interval.bucket_start, *[getattr(Interval, n) for n in COUNTER_NAMES])
        .where(
            Interval.tenant_id == tenant_id,
            Interval.grain == grain,
            Interval.dimension == dimension,
            Interval.value == value,
            Interval.bucket_start >= start,
            Interval.bucket_start < end,
        )
        .order_by(Interval.bucket_start)
    ).all()
    return [(r[0], _counters(r, 1)) for r in rows]


def _fact_filter(
    tenant_id: uuid.UUID, start: datetime, end: datetime, dimension: str, value: str
) -> list[ColumnElement[bool]]:
    where = [
        ConversationFact.tenant_id == tenant_id,
        ConversationFact.day_start >= start,
        ConversationFact.day_start < end,
    ]
    if dimension != "tenant":
        where.append(getattr(ConversationFact, dimension) == value)
    return where


def drill(
    session: Session,
    tenant_id: uuid.UUID,
    metric: str,
    part: str,
    start: datetime,
    end: datetime,
    dimension: str = "tenant",
    value: str = "",
    limit: int = DRILL_LIMIT,
) -> tuple[int, list[ConversationFact]]:
    """The conversations behind a figure: those whose facts carry the metric's numerator (``part="numerator"``) or
    denominator counter, for the same days and dimension value the figure was summed over. Returns the full count
    and the first ``limit`` facts (newest first)."""
    check(dimension)
    m = BY_ID.get(metric)
    if m is None:
        raise InvalidInput("unknown metric")
    if part not in ("numerator", "denominator"):
        raise InvalidInput("part must be numerator or denominator")
    counter = m.numerator if part == "numerator" or m.denominator is None else m.denominator
    if m.kind == "duration" and part == "numerator":
        counter = m.denominator or counter  # a sum of seconds: the conversations it was summed over
    where = [*_fact_filter(tenant_id, start, end, dimension, value), getattr(ConversationFact, counter) > 0]
    count = int(session.scalar(select(func.count()).select_from(ConversationFact).where(*where)) or 0)
    rows = list(
        session.scalars(
            select(ConversationFact)
            .where(*where)
            .order_by(ConversationFact.started_at.desc(), ConversationFact.conversation_id)
            .limit(limit)
        )
    )
    return count, rows


def raw_totals(session: Session, tenant_id: uuid.UUID, start: datetime, end: datetime, policy: Policy) -> Counters:
    """The same counters computed straight from the stored conversations (no interval tables): the reference the
    rollup is tested against, and the slow path the bench compares with."""
    total = Counters()
    for h in load_histories(session, tenant_id, start, end):
        total.add(facts(h, policy))
    return total
