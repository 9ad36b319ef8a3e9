"""Pure SLA math: business hours, holidays, time zones (DST included), pauses. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from omnidesk.core.errors import InvalidInput
from omnidesk.tickets import sla

SHANGHAI = sla.parse_calendar(
    {
        "time_zone": "Asia/Shanghai",
        "hours": {d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-10-01", "2026-10-02"],
    }
)
NEW_YORK = sla.parse_calendar(
    {"time_zone": "America/New_York", "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_inside_hours_adds_straight_time() -> None:
    # Wednesday 2026-11-25 10:00 Shanghai = 02:00 UTC; one business hour later is 11:00 local.
    assert sla.add_business_seconds(SHANGHAI, utc(2026, 11, 25, 2), 3600) == utc(2026, 11, 25, 3)


def test_lunch_break_and_evening_are_skipped() -> None:
    # 11:30 local + 1 h = 30 min before lunch, 30 min after: 13:30 local = 05:30 UTC.
    assert sla.add_business_seconds(SHANGHAI, utc(2026, 11, 25, 3, 30), 3600) == utc(2026, 11, 25, 5, 30)
    # 17:30 local Wednesday + 1 h → Thursday 09:30 local = 01:30 UTC.
    assert sla.add_business_seconds(SHANGHAI, utc(2026, 11, 25, 9, 30), 3600) == utc(2026, 11, 26, 1, 30)


def test_weekend_and_holidays_do_not_count() -> None:
    # Friday 2026-11-27 17:00 local + 2 h → Monday 10:00 local.
    assert sla.add_business_seconds(SHANGHAI, utc(2026, 11, 27, 9), 7200) == utc(2026, 11, 30, 2)
    # Wednesday 2026-09-30 17:00 local + 2 h: Oct 1-2 are holidays, 3-4 weekend → Monday Oct 5 10:00 local.
    assert sla.add_business_seconds(SHANGHAI, utc(2026, 9, 30, 9), 7200) == utc(2026, 10, 5, 2)


def test_daylight_saving_shift_is_honoured() -> None:
    # New York springs forward on 2026-03-08 (Sunday). Friday 16:00 EST (21:00 UTC) + 2 h → Monday 10:00 EDT = 14:00 UTC.
    assert sla.add_business_seconds(NEW_YORK, utc(2026, 3, 6, 21), 7200) == utc(2026, 3, 9, 14)


def test_starting_outside_hours_waits_for_the_next_opening() -> None:
    # Saturday → Monday 09:00 local + 30 min.
    assert sla.add_business_seconds(SHANGHAI, utc(2026, 11, 28, 4), 1800) == utc(2026, 11, 30, 1, 30)


def test_business_seconds_between_counts_only_working_time() -> None:
    assert sla.business_seconds_between(SHANGHAI, utc(2026, 11, 27, 9), utc(2026, 11, 30, 2)) == 7200
    assert sla.business_seconds_between(SHANGHAI, utc(2026, 11, 30, 2), utc(2026, 11, 27, 9)) == 0


def test_pause_stops_the_clock_and_resume_moves_the_deadline() -> None:
    cal = sla.always()
    clock = sla.start(3600, utc(2026, 1, 1, 0))
    assert sla.deadline(cal, clock) == utc(2026, 1, 1, 1)
    paused = sla.pause(cal, clock, utc(2026, 1, 1, 0, 20))
    assert paused.elapsed == 1200 and sla.deadline(cal, paused) is None
    assert sla.elapsed(cal, paused, utc(2026, 1, 5)) == 1200
    resumed = sla.resume(paused, utc(2026, 1, 1, 5))
    assert sla.deadline(cal, resumed) == utc(2026, 1, 1, 5, 40)
    stopped = sla.stop(cal, resumed, utc(2026, 1, 1, 5, 10))
    assert sla.met(cal, stopped, utc(2030, 1, 1)) and sla.resume(stopped, utc(2026, 2, 1)) == stopped


def test_retarget_keeps_time_already_counted() -> None:
    cal = sla.always()
    clock = sla.pause(cal, sla.start(3600, utc(2026, 1, 1)), utc(2026, 1, 1, 0, 30))
    shorter = sla.resume(sla.retarget(clock, 2400), utc(2026, 1, 2))
    assert sla.deadline(cal, shorter) == utc(2026, 1, 2, 0, 10)


def test_warning_comes_before_the_deadline() -> None:
    cal = sla.always()
    clock = sla.start(1000, utc(2026, 1, 1))
    assert sla.warning_at(cal, clock, 0.8) == utc(2026, 1, 1) + timedelta(seconds=800)


@pytest.mark.parametrize(
    "spec",
    [
        {"time_zone": "Mars/Olympus"},
        {"hours": {"mon": [["18:00", "09:00"]]}},
        {"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
        {"hours": {"funday": [["09:00", "12:00"]]}},
        {"hours": {"mon": [["9am", "5pm"]]}},
        {"hours": {}},
        {"hours": {"mon": [["09:00", "12:00"]]}, "holidays": ["2026-13-01"]},
        {"hours": {"mon": [["09:00", "12:00"]]}, "holidays": ["1800-01-01"]},
        {"hours": {"mon": [["09:00", "12:00"]]}, "colour": "blue"},
    ],
)
def test_bad_calendars_are_refused_clearly(spec: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        sla.parse_calendar(spec)


def test_calendar_round_trips_through_its_json_form() -> None:
    assert sla.parse_calendar(sla.calendar_spec(SHANGHAI)) == SHANGHAI


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))
amounts = st.integers(min_value=0, max_value=200 * 3600)


@settings(max_examples=150, deadline=None)
@given(start=instants, seconds=amounts, cal=st.sampled_from([SHANGHAI, NEW_YORK, sla.always("Europe/Berlin")]))
def test_adding_then_measuring_gives_back_the_same_amount(start: datetime, seconds: int, cal: sla.Calendar) -> None:
    end = sla.add_business_seconds(cal, start, seconds)
    assert end >= start
    assert sla.business_seconds_between(cal, start, end) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(
    start=instants,
    pauses=st.lists(st.tuples(st.integers(1, 50_000), st.integers(1, 50_000)), max_size=5),
)
def test_pausing_never_counts_paused_time(start: datetime, pauses: list[tuple[int, int]]) -> None:
    cal = SHANGHAI
    clock = sla.start(10**9, start)
    now = start
    running_total = 0.0
    for run, wait in pauses:
        later = now + timedelta(seconds=run)
        running_total += sla.business_seconds_between(cal, now, later)
        clock = sla.pause(cal, clock, later)
        now = later + timedelta(seconds=wait)
        clock = sla.resume(clock, now)
    assert sla.elapsed(cal, clock, now) == pytest.approx(running_total, abs=1e-3)


class ClockMachine(RuleBasedStateMachine):
    """Random pause / resume / retarget / wait sequences against a simple model: the clock's counted time equals
    the business time inside the intervals it ran, and its deadline is exactly where the rest of the target ends."""

    def __init__(self) -> None:
        super().__init__()
        self.cal = SHANGHAI
        self.now = utc(2026, 11, 20, 1)
        self.clock = sla.start(8 * 3600, self.now)
        self.model_elapsed = 0.0
        self.running_since: datetime | None = self.now

    @rule(seconds=st.integers(1, 3 * 86400))
    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def pause(self) -> None:
        if self.running_since is not None:
            self.model_elapsed += sla.business_seconds_between(self.cal, self.running_since, self.now)
            self.running_since = None
        self.clock = sla.pause(self.cal, self.clock, self.now)

    @rule()
    def resume(self) -> None:
        if self.running_since is None:
            self.running_since = self.now
        self.clock = sla.resume(self.clock, self.now)

    @rule(hours=st.integers(1, 40))
    def retarget(self, hours: int) -> None:
        self.clock = sla.retarget(self.clock, hours * 3600)

    @invariant()
    def counted_time_matches_the_model(self) -> None:
        expected = self.model_elapsed
        if self.running_since is not None:
            expected += sla.business_seconds_between(self.cal, self.running_since, self.now)
        assert sla.elapsed(self.cal, self.clock, self.now) == pytest.approx(expected, abs=1e-3)

    @invariant()
    def deadline_is_where_the_target_runs_out(self) -> None:
        due = sla.deadline(self.cal, self.clock)
        if self.running_since is None:
            assert due is None
            return
        assert due is not None
        remaining = self.clock.target - self.clock.elapsed
        if remaining > 0:
            assert sla.business_seconds_between(self.cal, self.running_since, due) == pytest.approx(remaining, abs=1e-3)


ClockMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_clock_state_machine = ClockMachine.TestCase
