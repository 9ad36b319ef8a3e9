"""Shifts cover the requirement (CP-SAT) within availability and labour rules; intraday alert colours."""

from __future__ import annotations

from omnidesk.wfm import intraday, schedule


def _required() -> list[int]:
    # 48 half hours: nobody at night, a morning and an evening peak.
    return [0] * 16 + [3, 4, 6, 8, 8, 8, 7, 6, 6, 6, 7, 8, 8, 7, 6, 5, 5, 6, 7, 7, 6, 4, 3, 2, 1, 1, 0, 0, 0, 0, 0, 0]


def test_roster_covers_the_requirement() -> None:
    required = _required()
    agents = [schedule.Availability(f"a{i}", 14, 48) for i in range(12)]
    agents += [schedule.Availability(f"late{i}", 24, 48) for i in range(6)]  # available from 12:00 only
    roster = schedule.solve(required, agents, time_limit=20)
    assert roster.status in ("optimal", "feasible")
    assert roster.covered
    assert all(s >= r for s, r in zip(roster.staffed, required, strict=True))
    seen = set()
    for shift in roster.shifts:
        assert shift.agent not in seen  # one shift per agent
        seen.add(shift.agent)
        assert shift.end - shift.start in (16, 8)
        if shift.agent.startswith("late"):
            assert shift.start >= 24
        if shift.end - shift.start == 16:  # an 8-hour shift has one break in its middle
            assert shift.break_at is not None and shift.start + 4 <= shift.break_at < shift.end - 4
    # Recount coverage from the shifts themselves.
    for t, req in enumerate(required):
        on = sum(1 for s in roster.shifts if s.start <= t < s.end and s.break_at != t)
        assert on == roster.staffed[t] >= req


def test_too_few_agents_reports_the_gap() -> None:
    required = _required()
    roster = schedule.solve(required, [schedule.Availability(f"a{i}", 0, 48) for i in range(3)], time_limit=5)
    assert not roster.covered and sum(roster.under) > 0 and len(roster.shifts) == 3


def test_intraday_colours() -> None:
    assert intraday.alert(100, 104, 0.85, 0.01, 0.8).colour == "blue"
    assert intraday.alert(100, 118, 0.85, 0.01, 0.8).colour == "yellow"
    assert intraday.alert(100, 100, 0.70, 0.02, 0.8).colour == "orange"
    assert intraday.alert(100, 160, 0.85, 0.01, 0.8).colour == "red"
    assert intraday.alert(100, 95, 0.9, 0.25, 0.8).colour == "red"
    assert intraday.alert(0, 0, None, None, 0.8).colour == "blue"
