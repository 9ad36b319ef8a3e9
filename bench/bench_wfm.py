"""Workforce management: the simulator's speed on a day of 100,000 contacts, its agreement with Erlang C / A, and
staffing solve times — each beside a baseline measured in the same run.

* simulator: contacts/s of ``wfm.simulator`` (SimPy, skills-capable) replaying a shaped day of ~100,000 contacts
  under Erlang-A staffing per 30 minutes; baseline: a bare ``heapq`` M/M/N+M loop (one queue, no skills) over
  the same contacts and staffing, so the ratio is the price of the general simulator;
* agreement: the issue's case (100 contacts / 30 min, AHT 180 s, patience 300 s, 14 agents) simulated for
  ~100,000 contacts against Erlang A, and without abandonment against Erlang C;
* staffing: Erlang A required agents for 48 intervals (baseline: Erlang C for the same) and a CP-SAT roster of
  60 agents for that day.

    .venv/bin/python bench/bench_wfm.py
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque

import numpy as np

from omnidesk.wfm import erlang, schedule
from omnidesk.wfm import simulator as sim

INTERVAL = 1800.0


def _day_rates(total: int) -> list[float]:
    hours = np.arange(48) / 2
    shape = np.exp(-((hours - 11) ** 2) / 8) + 0.8 * np.exp(-((hours - 20) ** 2) / 6) + 0.03
    return list(shape / shape.sum() * total)


def _baseline(contacts: list[sim.Contact], staffed: list[int], within: float) -> tuple[float, float]:
    """The same day in a bare heap loop: one FCFS queue, exponential patience, staffing per interval."""
    events: list[tuple[float, int, int, int]] = []  # time, order, kind (0 shift, 1 arrival, 2 end), index
    for i in range(len(staffed)):
        heapq.heappush(events, (i * INTERVAL, 0, 0, i))
    for i, c in enumerate(contacts):
        heapq.heappush(events, (c.arrival, 1, 1, i))
    free = on = leaving = 0
    line: deque[int] = deque()
    answered_within = abandoned = 0
    while events:
        t, _, kind, i = heapq.heappop(events)
        if kind == 0:
            delta = staffed[i] - (on - leaving)
            if delta > 0:
                cancel = min(delta, leaving)
                leaving -= cancel
                on += delta - cancel
                free += delta - cancel
            else:
                home = min(-delta, free)
                free -= home
                on -= home
                leaving += -delta - home
        elif kind == 2:
            free += 1
            if leaving:
                leaving -= 1
                free -= 1
                on -= 1
        else:
            line.append(i)
        while free and line:
            j = line.popleft()
            c = contacts[j]
            if t - c.arrival > c.patience:
                abandoned += 1
                continue
            free -= 1
            answered_within += t - c.arrival <= within
            heapq.heappush(events, (t + c.handle, 2, 2, j))
    abandoned += sum(1 for j in line)
    return answered_within / len(contacts), abandoned / len(contacts)


def main() -> None:
    t_all = time.perf_counter()
    rates = _day_rates(100_000)
    aht, patience, within = 180.0, 300.0, 20.0

    t = time.perf_counter()
    need_a = [erlang.required_agents(r / INTERVAL, aht, 0.8, within, patience) for r in rates]
    erlang_a_s = time.perf_counter() - t
    t = time.perf_counter()
    need_c = [erlang.required_agents(r / INTERVAL, aht, 0.8, within) for r in rates]
    assert all(c.agents >= a.agents for c, a in zip(need_c, need_a, strict=True))  # Erlang C bounds Erlang A
    erlang_c_s = time.perf_counter() - t
    staffed = [s.agents for s in need_a]

    contacts = sim.poisson_day(rates, INTERVAL, aht, patience, seed=1)
    plan = sim.Plan(INTERVAL, (sim.AgentGroup("all", frozenset({"default"}), tuple(staffed)),))
    t = time.perf_counter()
    day = sim.simulate(contacts, plan, within)
    sim_s = time.perf_counter() - t
    t = time.perf_counter()
    base_sl, base_ab = _baseline(contacts, staffed, within)
    base_s = time.perf_counter() - t
    expected_sl = sum(s.service_level * r for s, r in zip(need_a, rates, strict=True)) / sum(rates)
    print(f"day of {len(contacts):,} contacts, peak {max(staffed)} agents (Erlang A per interval)")
    print(
        f"  simulator (SimPy): {sim_s:.2f} s = {len(contacts) / sim_s:,.0f} contacts/s; "
        f"SL {day.service_level:.3f}, abandoned {day.abandon_rate:.3f}"
    )
    print(
        f"  baseline (heapq):  {base_s:.2f} s = {len(contacts) / base_s:,.0f} contacts/s; "
        f"SL {base_sl:.3f}, abandoned {base_ab:.3f}; ratio simulator/baseline {sim_s / base_s:.2f}x time"
    )
    print(f"  Erlang A expectation for the day (volume-weighted): SL {expected_sl:.3f}")

    n = 1000  # intervals of 30 min at 100 contacts: ~100,000 contacts
    steady = sim.Plan(INTERVAL, (sim.AgentGroup("all", frozenset({"default"}), (14,) * n),))
    ra = sim.simulate(sim.poisson_day([100] * n, INTERVAL, 180, 300, seed=7), steady, 20, warmup=3600)
    ea = erlang.erlang_a_figures(14, 100 / INTERVAL, 180, 300, 20)
    rc = sim.simulate(sim.poisson_day([100] * n, INTERVAL, 180, None, seed=8), steady, 20, warmup=3600)
    ec = erlang.erlang_c_figures(14, 100 / INTERVAL, 180, 20)
    print(f"agreement, M/M/14+M (100 / 30 min, AHT 180 s, patience 300 s), {ra.offered:,} contacts:")
    print(
        f"  SL(20 s)  simulated {ra.service_level:.4f}  Erlang A {ea.service_level:.4f}  diff {ra.service_level - ea.service_level:+.4f}"
    )
    print(
        f"  P(abandon) simulated {ra.abandon_rate:.4f}  Erlang A {ea.p_abandon:.4f}  diff {ra.abandon_rate - ea.p_abandon:+.4f}"
    )
    print(f"  ASA        simulated {ra.asa:.2f} s  Erlang A {ea.asa:.2f} s")
    print(f"agreement, M/M/14 (no abandonment), {rc.offered:,} contacts:")
    print(
        f"  SL(20 s)  simulated {rc.service_level:.4f}  Erlang C {ec.service_level:.4f}  diff {rc.service_level - ec.service_level:+.4f}"
    )
    print(f"  ASA        simulated {rc.asa:.2f} s  Erlang C {ec.asa:.2f} s")

    print(
        f"staffing: Erlang A for 48 intervals {erlang_a_s * 1000:.0f} ms; baseline Erlang C {erlang_c_s * 1000:.1f} ms "
        f"(ratio {erlang_a_s / max(erlang_c_s, 1e-9):.0f}x); Erlang A at 4,000 erlangs: ",
        end="",
    )
    t = time.perf_counter()
    big = erlang.required_agents(40_000 / INTERVAL, 180, 0.8, 20, 300)
    print(f"{big.agents} agents in {(time.perf_counter() - t) * 1000:.0f} ms")
    small = [math.ceil(s.agents / 12) for s in need_a]  # a twelfth of the day: a 60-person team
    agents = [schedule.Availability(f"a{i}", 0 if i < 40 else 20, 48) for i in range(60)]
    roster = schedule.solve(small, agents, time_limit=20)
    print(
        f"roster (CP-SAT, 60 agents, 48 intervals, 8 h / 4 h shifts with breaks): {roster.seconds:.2f} s, "
        f"{roster.status}, {len(roster.shifts)} shifts, uncovered {sum(roster.under)}"
    )
    print(f"total {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
