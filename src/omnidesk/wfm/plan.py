"""The planning loop for one tenant: history → forecast (back-tested) → required agents per interval (Erlang A) →
a shift roster (CP-SAT) → intraday forecast against actual, and the simulator's replay of tomorrow under the
roster. Reads only; nothing here changes state, so it needs no action or audit record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.wfm import erlang, intraday, queries, schedule
from omnidesk.wfm import forecast as fc
from omnidesk.wfm import simulator as sim

ALL_QUEUES = "*"


@dataclass(frozen=True, slots=True)
class Params:
    queue: str = ALL_QUEUES
    interval: int = 30  # minutes
    history_days: int = 28
    aht: float | None = None  # seconds; None: measured from the history (180 s when there is none)
    patience: float = 300.0
    target: float = 0.8
    within: float = 20.0
    events: tuple[tuple[date, float], ...] = ()
    time_limit: float = 3.0  # seconds for the roster's solve


@dataclass(slots=True)
class Plan:
    today: date
    tomorrow: date
    per_day: int
    queues: list[str]
    aht: float
    forecast_today: list[float]
    forecast_tomorrow: list[float]
    actual_today: list[int]
    alerts: list[intraday.Alert | None]  # None: the interval has not ended yet
    accuracy: list[fc.Accuracy]
    method: str
    required: list[int]
    staffing: list[erlang.Staffing]
    roster: schedule.Roster
    names: dict[str, str] = field(default_factory=dict)  # staff id → display name

    def label(self, i: int) -> str:
        minutes = i * (24 * 60 // self.per_day)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


def schedulable_staff(session: Session, tenant_id: uuid.UUID) -> list[StaffUser]:
    """Active agents and supervisors: the people who take contacts."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.tenant_id == tenant_id, StaffUser.is_active.is_(True))
            .where(StaffUser.role.in_(("agent", "supervisor")))
            .order_by(StaffUser.display_name, StaffUser.id)
        )
    )


def build(session: Session, tenant_id: uuid.UUID, time_zone: str, params: Params, now: datetime) -> Plan:
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=params.history_days)
    per_day = 24 * 60 // params.interval
    by_queue = queries.history(session, tenant_id, time_zone, first, today, params.interval, params.within)
    series = queries.totals(by_queue) if params.queue == ALL_QUEUES else by_queue.get(params.queue, [])
    counts = [s.offered for s in series]
    past = counts[: params.history_days * per_day] or [0] * (params.history_days * per_day)
    actual_today = counts[params.history_days * per_day :] or [0] * per_day
    handled = sum(s.handled for s in series)
    aht = params.aht or (sum(s.handle_total for s in series) / handled if handled else 180.0)
    aht = max(aht, 1.0)
    f = fc.forecast(past, first, per_day, 2, dict(params.events))
    today_f, tomorrow_f = f.values[:per_day], f.values[per_day:]
    seconds = params.interval * 60
    staffing = [
        erlang.required_agents(v / seconds, aht, params.target, params.within, params.patience) for v in tomorrow_f
    ]
    required = [s.agents for s in staffing]
    staff = schedulable_staff(session, tenant_id)
    roster = schedule.solve(
        required,
        [schedule.Availability(str(p.id), 0, per_day) for p in staff],
        schedule.Rules(
            lengths=(8 * 60 // params.interval, 4 * 60 // params.interval),
            break_after=6 * 60 // params.interval,
            break_margin=2 * 60 // params.interval,
        ),
        time_limit=params.time_limit,
    )
    local = now.astimezone(zone)
    elapsed = (local.hour * 60 + local.minute) // params.interval  # intervals of today that have ended
    alerts: list[intraday.Alert | None] = []
    for i in range(per_day):
        if i >= elapsed:
            alerts.append(None)
            continue
        stats = series[params.history_days * per_day + i] if params.history_days * per_day + i < len(series) else None
        alerts.append(
            intraday.alert(
                today_f[i],
                actual_today[i],
                stats.service_level if stats else None,
                stats.abandon_rate if stats else None,
                params.target,
            )
        )
    return Plan(
        today=today,
        tomorrow=today + timedelta(days=1),
        per_day=per_day,
        queues=[ALL_QUEUES, *by_queue],
        aht=aht,
        forecast_today=today_f,
        forecast_tomorrow=tomorrow_f,
        actual_today=actual_today,
        alerts=alerts,
        accuracy=f.accuracy,
        method=f.method,
        required=required,
        staffing=staffing,
        roster=roster,
        names={str(p.id): p.display_name for p in staff},
    )


@dataclass(frozen=True, slots=True)
class Replay:
    result: sim.Result
    erlang_service_level: float
    erlang_abandon: float


def replay(plan: Plan, extra_agents: int, patience: float, within: float, seed: int) -> Replay:
    """Tomorrow's forecast as Poisson contacts under the roster's staffing (plus ``extra_agents`` in every interval
    that has anyone), beside Erlang A's expectation for the same staffing."""
    seconds = 24 * 3600 / plan.per_day
    staffed = tuple(max(0, s + (extra_agents if s else 0)) for s in plan.roster.staffed)
    contacts = sim.poisson_day(plan.forecast_tomorrow, seconds, plan.aht, patience, seed)
    result = sim.simulate(
        contacts, sim.Plan(seconds, (sim.AgentGroup("all", frozenset({"default"}), staffed),)), within
    )
    offered = sum(plan.forecast_tomorrow) or 1.0
    sl = ab = 0.0
    for volume, agents in zip(plan.forecast_tomorrow, staffed, strict=True):
        if volume <= 0:
            continue
        if agents == 0:
            ab += volume  # nobody on duty: everyone offered gives up
            continue
        e = erlang.erlang_a_figures(agents, volume / seconds, plan.aht, patience, within)
        sl += e.service_level * volume
        ab += e.p_abandon * volume
    return Replay(result, sl / offered, ab / offered)
