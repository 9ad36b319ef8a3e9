"""The simulator agrees with Erlang C / Erlang A where their assumptions hold (Poisson arrivals, exponential handle
times and patience, one FCFS queue, constant staffing), and follows a skills configuration and a staffing plan."""

from __future__ import annotations

import pytest

from omnidesk.wfm import erlang
from omnidesk.wfm import simulator as sim

INTERVALS = 400  # 400 × 30 min, ~40,000 contacts: a long run at a fixed seed


def _plan(agents: int, n: int = INTERVALS) -> sim.Plan:
    return sim.Plan(1800, (sim.AgentGroup("all", frozenset({"default"}), (agents,) * n),))


def test_simulation_agrees_with_erlang_a() -> None:
    contacts = sim.poisson_day([100] * INTERVALS, 1800, 180, 300, seed=11)
    r = sim.simulate(contacts, _plan(14), within=20, warmup=3600)
    e = erlang.erlang_a_figures(14, 100 / 1800, 180, 300, 20)
    assert r.offered > 39_000
    assert r.service_level == pytest.approx(e.service_level, abs=0.01)  # within 1 point
    assert r.abandon_rate == pytest.approx(e.p_abandon, abs=0.004)
    assert r.asa == pytest.approx(e.asa, rel=0.15)


def test_simulation_agrees_with_erlang_c() -> None:
    contacts = sim.poisson_day([100] * INTERVALS, 1800, 180, None, seed=12)
    r = sim.simulate(contacts, _plan(14), within=20, warmup=3600)
    e = erlang.erlang_c_figures(14, 100 / 1800, 180, 20)
    assert r.abandoned == 0
    assert r.service_level == pytest.approx(e.service_level, abs=0.01)
    # Without abandonment the wait has a long tail, so the mean converges slowly (bench: 100,000 contacts).
    assert r.asa == pytest.approx(e.asa, rel=0.3)


def test_staffing_plan_and_skills() -> None:
    # Two queues; VIP specialists, a generalist group that serves both. Understaffing the morning shows up in the
    # morning's figures only.
    day = sim.poisson_day([60, 60, 60, 60], 1800, 180, 120, seed=3, queue="general")
    vip = sim.poisson_day([10, 10, 10, 10], 1800, 180, 120, seed=4, queue="vip")
    contacts = sorted(day + vip, key=lambda c: c.arrival)
    plan = sim.Plan(
        1800,
        (
            sim.AgentGroup("vip", frozenset({"vip"}), (2, 2, 2, 2)),
            sim.AgentGroup("general", frozenset({"general", "vip"}), (3, 3, 10, 10)),
        ),
    )
    r = sim.simulate(contacts, plan, within=20)
    assert r.offered == len(contacts) and r.answered + r.abandoned <= r.offered
    morning, afternoon = r.per_interval[0], r.per_interval[3]
    assert morning["abandon_rate"] > 0.2 and afternoon["abandon_rate"] < 0.05
    assert afternoon["service_level"] > morning["service_level"] + 0.3
