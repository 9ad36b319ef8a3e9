"""Shifts that cover the required agents per interval, solved with OR-Tools CP-SAT (pure: no database).

Google's Workforce Scheduling split is followed: *shift generation* (every start × allowed length inside each
agent's availability, each long shift with a break somewhere in its middle) and *assignment* (at most one shift per
agent per day) are one small CP-SAT model:

    minimise  UNDER_WEIGHT · Σ_t under_t  +  Σ_t staffed_t          (cover first, then the fewest paid intervals)
    s.t.      staffed_t + under_t ≥ required_t                      for every interval t
              staffed_t = Σ shifts on duty at t − Σ breaks taken at t
              Σ options of agent a ≤ 1, Σ breaks of a chosen shift = 1

One search worker and a fixed seed make the answer reproducible; a time limit bounds the solve (the best shift plan
found so far is returned, its status says whether it is proven optimal).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

UNDER_WEIGHT = 1000


@dataclass(frozen=True, slots=True)
class Availability:
    """An agent's day: the intervals in which they may work (``first`` inclusive, ``last`` exclusive)."""

    agent: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Rules:
    lengths: tuple[int, ...] = (16, 8)  # allowed shift lengths in intervals (30 min: 8 h and 4 h)
    break_after: int = 12  # shifts at least this long get one break interval
    break_margin: int = 4  # the break is at least this many intervals from either end


@dataclass(frozen=True, slots=True)
class Shift:
    agent: str
    start: int
    end: int  # exclusive
    break_at: int | None


@dataclass(frozen=True, slots=True)
class Roster:
    shifts: list[Shift]
    staffed: list[int]
    under: list[int]
    status: str  # "optimal", "feasible" or "infeasible"
    seconds: float

    @property
    def covered(self) -> bool:
        return not any(self.under)


def solve(
    required: Sequence[int], agents: Sequence[Availability], rules: Rules = Rules(), time_limit: float = 10.0
) -> Roster:
    started = time.perf_counter()
    n = len(required)
    model = cp_model.CpModel()
    on_duty: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    breaks_at: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    options: list[tuple[str, int, int, cp_model.IntVar, list[tuple[int, cp_model.IntVar]]]] = []
    for a in agents:
        mine = []
        for length in rules.lengths:
            for start in range(max(0, a.first), min(n, a.last) - length + 1):
                if not any(required[start : start + length]):
                    continue  # a shift over intervals that need nobody is never worth paying for
                x = model.new_bool_var(f"{a.agent}@{start}+{length}")
                mine.append(x)
                for t in range(start, start + length):
                    on_duty[t].append(x)
                taken: list[tuple[int, cp_model.IntVar]] = []
                if length >= rules.break_after:
                    for b in range(start + rules.break_margin, start + length - rules.break_margin):
                        y = model.new_bool_var(f"{a.agent}@{start}+{length}/b{b}")
                        taken.append((b, y))
                        breaks_at[b].append(y)
                    model.add(sum(y for _, y in taken) == x)
                options.append((a.agent, start, length, x, taken))
        if mine:
            model.add_at_most_one(mine)
    staffed = [model.new_int_var(0, len(agents), f"staffed{t}") for t in range(n)]
    under = [model.new_int_var(0, max(0, int(required[t])), f"under{t}") for t in range(n)]
    for t in range(n):
        model.add(staffed[t] == sum(on_duty[t]) - sum(breaks_at[t]))
        model.add(staffed[t] + under[t] >= int(required[t]))
    model.minimize(UNDER_WEIGHT * sum(under) + sum(staffed))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_search_workers = 1  # reproducible, and frugal on a shared machine
    solver.parameters.random_seed = 1
    code = solver.solve(model)
    seconds = time.perf_counter() - started
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Roster([], [0] * n, [int(r) for r in required], "infeasible", seconds)
    shifts = []
    for agent, start, length, x, taken in options:
        if solver.boolean_value(x):
            rest = next((b for b, y in taken if solver.boolean_value(y)), None)
            shifts.append(Shift(agent, start, start + length, rest))
    shifts.sort(key=lambda s: (s.start, s.agent))
    return Roster(
        shifts,
        [int(solver.value(v)) for v in staffed],
        [int(solver.value(v)) for v in under],
        "optimal" if code == cp_model.OPTIMAL else "feasible",
        seconds,
    )
