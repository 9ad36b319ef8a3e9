"""Pure SLA clock math: a business-hours calendar (weekly hours, holidays, a time zone) and pausable clocks.

Nothing here touches the database. Times going in and out are aware UTC datetimes; the calendar converts to the
tenant's local wall time (via :mod:`zoneinfo`, so daylight-saving shifts are honoured) only to find working
intervals. A clock counts *business seconds*: time inside working intervals while it runs. Its deadline is the
instant at which the counted time reaches the target if it keeps running; a paused or stopped clock has none.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnidesk.core.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MAX_DAYS_SCANNED = 3 * 366
"""A deadline further away than this many calendar days is refused: a calendar that rarely works is an error."""

Interval = tuple[int, int]
"""Minutes since local midnight, ``[start, end)``; end may be 1440."""


@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday (Monday first) in a time zone, minus holidays (local dates)."""

    time_zone: str
    hours: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def always(time_zone: str = "UTC") -> Calendar:
    """24 × 7 without holidays: the calendar of a tenant that configured none."""
    return Calendar(time_zone, tuple(((0, 1440),) for _ in DAYS))


def parse_calendar(spec: dict[str, Any]) -> Calendar:
    """Validate ``{"time_zone", "hours": {"mon": [["09:00", "18:00"]], ...}, "holidays": ["2026-10-01"]}``.

    Raises :class:`InvalidInput` naming the bad part; a calendar without any working time is refused because no
    deadline could ever be computed on it.
    """
    unknown = set(spec) - {"time_zone", "hours", "holidays"}
    if unknown:
        raise InvalidInput(f"unknown calendar fields: {', '.join(sorted(unknown))}")
    tz = spec.get("time_zone", "UTC")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone '{tz}'; use an IANA name such as Asia/Shanghai") from exc
    raw_hours = spec.get("hours", {})
    if not isinstance(raw_hours, dict):
        raise InvalidInput("hours must map weekday names (mon … sun) to lists of [start, end] times")
    bad_days = set(raw_hours) - set(DAYS)
    if bad_days:
        raise InvalidInput(f"unknown weekdays in hours: {', '.join(sorted(bad_days))}; use {', '.join(DAYS)}")
    week: list[tuple[Interval, ...]] = []
    for day in DAYS:
        intervals = sorted(_parse_interval(day, pair) for pair in raw_hours.get(day, []))
        for (_, end), (start, _) in itertools.pairwise(intervals):
            if start < end:
                raise InvalidInput(f"working hours on {day} overlap")
        week.append(tuple(intervals))
    if not any(week):
        raise InvalidInput("the calendar has no working hours at all")
    holidays: set[date] = set()
    for item in spec.get("holidays", []):
        try:
            day_ = date.fromisoformat(str(item))
        except ValueError as exc:
            raise InvalidInput(f"holiday '{item}' is not a date like 2026-10-01") from exc
        if not date(2000, 1, 1) <= day_ <= date(2200, 1, 1):
            raise InvalidInput(f"holiday {day_} is out of range (2000 … 2200)")
        holidays.add(day_)
    return Calendar(str(tz), tuple(week), frozenset(holidays))


def calendar_spec(cal: Calendar) -> dict[str, Any]:
    """The JSON form :func:`parse_calendar` reads."""
    return {
        "time_zone": cal.time_zone,
        "hours": {d: [[_fmt(s), _fmt(e)] for s, e in cal.hours[i]] for i, d in enumerate(DAYS) if cal.hours[i]},
        "holidays": sorted(d.isoformat() for d in cal.holidays),
    }


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_interval(day: str, pair: Any) -> Interval:
    if not (isinstance(pair, list | tuple) and len(pair) == 2):
        raise InvalidInput(f"hours on {day} must be [start, end] pairs like ['09:00', '18:00']")
    mins = []
    for value in pair:
        m = _HHMM.match(str(value))
        if not m or (m.group(1) == "24" and m.group(2) != "00"):
            raise InvalidInput(f"'{value}' on {day} is not a time like 09:00 (00:00 … 24:00)")
        mins.append(int(m.group(1)) * 60 + int(m.group(2)))
    if mins[0] >= mins[1]:
        raise InvalidInput(f"on {day} the start {pair[0]} is not before the end {pair[1]}")
    return mins[0], mins[1]


def _working_intervals(cal: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    """The day's working intervals in UTC (local wall times resolved through the zone, DST included)."""
    if day in cal.holidays:
        return []
    zone = cal.zone
    out = []
    for start, end in cal.hours[day.weekday()]:
        s = _local(day, start, zone)
        e = _local(day, end, zone)
        if s < e:
            out.append((s, e))
    return out


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes == 1440:
        day, minutes = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return local.astimezone(UTC)


def _days_from(cal: Calendar, instant: datetime) -> Iterator[date]:
    first = instant.astimezone(cal.zone).date() - timedelta(days=1)
    for i in range(_MAX_DAYS_SCANNED):
        yield first + timedelta(days=i)


def add_business_seconds(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant at which ``seconds`` of working time have passed since ``start``.

    ``seconds <= 0`` returns ``start`` (already due). Raises :class:`InvalidInput` when the calendar cannot supply
    that much working time within three years.
    """
    _aware(start)
    if seconds <= 0:
        return start
    remaining = timedelta(seconds=seconds)
    for day in _days_from(cal, start):
        for s, e in _working_intervals(cal, day):
            if e <= start:
                continue
            begin = max(s, start)
            available = e - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
    raise InvalidInput("the deadline is more than three years of calendar time away; check the business hours")


def business_seconds_between(cal: Calendar, a: datetime, b: datetime) -> float:
    """Working seconds inside ``[a, b)``; 0 when ``b <= a``."""
    _aware(a)
    _aware(b)
    if b <= a:
        return 0.0
    total = 0.0
    end_day = b.astimezone(cal.zone).date() + timedelta(days=1)
    day = a.astimezone(cal.zone).date() - timedelta(days=1)
    while day <= end_day:
        for s, e in _working_intervals(cal, day):
            lo, hi = max(s, a), min(e, b)
            if lo < hi:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def is_working(cal: Calendar, instant: datetime) -> bool:
    day = instant.astimezone(cal.zone).date()
    return any(s <= instant < e for d in (day - timedelta(days=1), day) for s, e in _working_intervals(cal, d))


def _aware(value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError("SLA math needs timezone-aware datetimes")


@dataclass(frozen=True)
class Clock:
    """One SLA metric of one ticket.

    Invariants: ``elapsed`` counts business seconds up to ``running_since`` (or up to the pause / stop);
    ``running_since`` is set only while the clock runs; a stopped clock never runs again (a new cycle starts a new
    clock).
    """

    target: float
    elapsed: float = 0.0
    running_since: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.running_since is not None


def start(target_seconds: float, now: datetime) -> Clock:
    return Clock(target=target_seconds, running_since=now)


def elapsed(cal: Calendar, clock: Clock, now: datetime) -> float:
    if clock.running_since is None:
        return clock.elapsed
    return clock.elapsed + business_seconds_between(cal, clock.running_since, now)


def pause(cal: Calendar, clock: Clock, now: datetime) -> Clock:
    if clock.running_since is None:
        return clock
    return replace(clock, elapsed=elapsed(cal, clock, now), running_since=None)


def resume(clock: Clock, now: datetime) -> Clock:
    if clock.running_since is not None or clock.stopped_at is not None:
        return clock
    return replace(clock, running_since=now)


def stop(cal: Calendar, clock: Clock, now: datetime) -> Clock:
    if clock.stopped_at is not None:
        return clock
    return replace(clock, elapsed=elapsed(cal, clock, now), running_since=None, stopped_at=now)


def retarget(clock: Clock, target_seconds: float) -> Clock:
    """A new target (the priority or type changed); time already counted stays counted."""
    return replace(clock, target=target_seconds)


def deadline(cal: Calendar, clock: Clock) -> datetime | None:
    """When the clock reaches its target if it keeps running; ``None`` while paused or stopped."""
    if clock.running_since is None:
        return None
    return add_business_seconds(cal, clock.running_since, clock.target - clock.elapsed)


def warning_at(cal: Calendar, clock: Clock, ratio: float) -> datetime | None:
    """When ``ratio`` (e.g. 0.8) of the target is used up; ``None`` while paused or stopped."""
    if clock.running_since is None:
        return None
    return add_business_seconds(cal, clock.running_since, clock.target * ratio - clock.elapsed)


def met(cal: Calendar, clock: Clock, now: datetime) -> bool:
    """Whether the clock is (or was, when it stopped) within its target."""
    return elapsed(cal, clock, now) <= clock.target
