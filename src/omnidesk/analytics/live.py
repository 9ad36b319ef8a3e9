"""The live wallboard and the agent's own dashboard.

The wallboard is built from three small indexed queries (the queue now and today, agents by presence, the tenant's
settings) and cached per tenant for a few seconds in the process, so a room of TVs and supervisors refreshing every
few seconds costs one query set per tenant per ``TTL``, whatever the number of viewers. The dashboard reads the
facts the rollup wrote (today as of its last run, at most a minute behind)."""

from __future__ import annotations

import calendar
import threading
import time as _time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from omnidesk.analytics.metrics import COUNTER_NAMES, Counters, summarize
from omnidesk.analytics.models import AnalyticsSettings, ConversationFact, Goal
from omnidesk.analytics.rollup import day_bounds, settings_of
from omnidesk.routing.models import AgentPresence, QueueEntry

TTL = 5.0
_WAITING = ("waiting", "offered")


@dataclass(frozen=True, slots=True)
class Wallboard:
    waiting: int
    longest_wait_seconds: int | None
    answered_today: int
    answered_in_target: int
    abandoned_today: int
    service_level: float | None
    agents: dict[str, int]
    alerts: tuple[str, ...]
    settings: dict[str, int]
    computed_at: datetime


def wallboard(session: Session, tenant_id: uuid.UUID, now: datetime, zone: ZoneInfo) -> Wallboard:
    """The figures of one refresh; service level today = accepted within T seconds ÷ (accepted + abandoned), for
    queue entries that started waiting today (local)."""
    row: AnalyticsSettings = settings_of(session, tenant_id)
    start, _ = day_bounds(now.astimezone(zone).date(), zone)
    in_target = case(
        (
            QueueEntry.assigned_at.is_not(None)
            & _within(session, QueueEntry.assigned_at, QueueEntry.waiting_since, row.service_level_seconds),
            1,
        ),
        else_=0,
    )
    today = QueueEntry.waiting_since >= start
    q = session.execute(
        select(
            func.coalesce(func.sum(case((QueueEntry.state.in_(_WAITING), 1), else_=0)), 0),
            func.min(case((QueueEntry.state.in_(_WAITING), QueueEntry.waiting_since))),
            func.coalesce(func.sum(case((today & QueueEntry.assigned_at.is_not(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((today, in_target), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case((today & (QueueEntry.state == "cancelled") & QueueEntry.assigned_at.is_(None), 1), else_=0)
                ),
                0,
            ),
        ).where(QueueEntry.tenant_id == tenant_id, (QueueEntry.state.in_(_WAITING)) | today)
    ).one()
    waiting, oldest, answered, in_time, abandoned = int(q[0]), q[1], int(q[2]), int(q[3]), int(q[4])
    agents = {"online": 0, "away": 0, "offline": 0}
    for status, count in session.execute(
        select(AgentPresence.status, func.count()).where(AgentPresence.tenant_id == tenant_id)
        .group_by(AgentPresence.status)
    ):  # fmt: skip
        agents[str(status)] = int(count)
    longest = int((now - oldest).total_seconds()) if oldest is not None else None
    base = answered + abandoned
    level = round(100 * in_time / base, 1) if base else None
    alerts = []
    if waiting >= row.alert_waiting:
        alerts.append("waiting")
    if longest is not None and longest >= row.alert_wait_seconds:
        alerts.append("longest_wait")
    if level is not None and level < row.service_level_target:
        alerts.append("service_level")
    if waiting and not agents["online"]:
        alerts.append("no_agents")
    settings = {"alert_waiting": row.alert_waiting, "alert_wait_seconds": row.alert_wait_seconds,
                "service_level_seconds": row.service_level_seconds, "service_level_target": row.service_level_target}  # fmt: skip
    return Wallboard(waiting, longest, answered, in_time, abandoned, level, agents, tuple(alerts), settings, now)


def _within(session: Session, later: Any, earlier: Any, seconds: int) -> ColumnElement[bool]:
    """``later - earlier <= seconds`` in the database's own arithmetic (a millisecond of slack for SQLite's
    julian-day floats, so exactly T seconds counts as within T)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) <= seconds
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0 <= seconds + 0.001


T = TypeVar("T")


class TtlCache:
    """Per-key values recomputed at most once per ``ttl`` seconds; concurrent viewers of one key wait for the one
    computation instead of each running the queries."""

    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self._values: dict[object, tuple[float, object]] = {}
        self._locks: dict[object, threading.Lock] = {}
        self._guard = threading.Lock()
        self.computed = 0

    def get(self, key: object, compute: Callable[[], T]) -> T:
        hit = self._values.get(key)
        if hit is not None and _time.monotonic() - hit[0] < self.ttl:
            return hit[1]  # type: ignore[return-value]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._values.get(key)
            if hit is not None and _time.monotonic() - hit[0] < self.ttl:
                return hit[1]  # type: ignore[return-value]
            value = compute()
            self.computed += 1
            self._values[key] = (_time.monotonic(), value)
            return value


WALLBOARDS = TtlCache()


def working_days(month: str) -> list[date]:
    """Monday to Friday of ``YYYY-MM``: the days a monthly goal is spread over."""
    year, mon = (int(x) for x in month.split("-"))
    return [date(year, mon, d) for d in range(1, calendar.monthrange(year, mon)[1] + 1)
            if date(year, mon, d).weekday() < 5]  # fmt: skip


@dataclass(slots=True)
class Dashboard:
    today: dict[str, float | None]
    counters: Counters
    goals: list[dict[str, object]] = field(default_factory=list)
    ranking: list[tuple[str, int]] | None = None
    my_rank: int | None = None


def _goal_value(c: Counters, metric: str) -> float:
    return float(getattr(c, metric))


def dashboard(session: Session, tenant_id: uuid.UUID, staff_id: uuid.UUID, now: datetime,
              zone: ZoneInfo) -> Dashboard:  # fmt: skip
    """The agent's figures today (local), their goals for the month broken into today's target, and the ranking
    by resolved conversations today when the tenant enabled it."""
    today = now.astimezone(zone).date()
    start, end = day_bounds(today, zone)
    sums = [func.coalesce(func.sum(getattr(ConversationFact, n)), 0) for n in COUNTER_NAMES]
    row = session.execute(
        select(*sums).where(ConversationFact.tenant_id == tenant_id, ConversationFact.day_start == start,
                            ConversationFact.agent == str(staff_id))
    ).one()  # fmt: skip
    c = Counters()
    for i, n in enumerate(COUNTER_NAMES):
        setattr(c, n, row[i])
    board = Dashboard(today=summarize(c), counters=c)
    month = today.strftime("%Y-%m")
    days = working_days(month)
    for goal in session.scalars(
        select(Goal).where(Goal.tenant_id == tenant_id, Goal.staff_id == staff_id, Goal.month == month)
        .order_by(Goal.metric)
    ):  # fmt: skip
        daily = round(goal.target / len(days), 1) if days else goal.target
        done = _goal_value(c, goal.metric)
        board.goals.append({"metric": goal.metric, "month_target": goal.target, "daily_target": daily,
                            "today": done, "met": done >= daily})  # fmt: skip
    if settings_of(session, tenant_id).ranking_enabled:
        ranked = session.execute(
            select(ConversationFact.agent, func.sum(ConversationFact.resolved))
            .where(ConversationFact.tenant_id == tenant_id, ConversationFact.day_start == start,
                   ConversationFact.agent != "")
            .group_by(ConversationFact.agent)
            .order_by(func.sum(ConversationFact.resolved).desc(), ConversationFact.agent)
        ).all()  # fmt: skip
        board.ranking = [(str(a), int(n or 0)) for a, n in ranked]
        for i, (agent, _) in enumerate(board.ranking, 1):
            if agent == str(staff_id):
                board.my_rank = i
    del end
    return board
