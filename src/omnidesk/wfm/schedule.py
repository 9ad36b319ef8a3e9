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
    status: str  # "optimal", "feasible", "infeasible" or "unknown" (no solution within the time limit)
    seconds: float

    @property
    def covered(self) -> bool:
        return not any(self.under)


def solve(
    required: Sequence[int], agents: Sequence[Availability], rules: Rules = Rules(), time_limit: float = 10.0
) -> Roster:
    """Agents with the same availability are interchangeable, so the model counts shifts per availability class
    (an integer per class × start × length × break) instead of one boolean per agent: no symmetric copies for the
    search to wade through. The counts are then handed to the class's agents in order."""
    started = time.perf_counter()
    n = len(required)
    classes: dict[tuple[int, int], list[str]] = {}
    for a in agents:
        classes.setdefault((max(0, a.first), min(n, a.last)), []).append(a.agent)
    model = cp_model.CpModel()
    on_duty: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    breaks_at: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    chosen: list[tuple[tuple[int, int], int, int, int | None, cp_model.IntVar]] = []
    for key, members in classes.items():
        first, last = key
        size = len(members)
        mine: list[cp_model.IntVar] = []
        for length in rules.lengths:
            for start in range(first, last - length + 1):
                if not any(required[start : start + length]):
                    continue  # a shift over intervals that need nobody is never worth paying for
                if length >= rules.break_after:
                    spots: list[int | None] = list(
                        range(start + rules.break_margin, start + length - rules.break_margin)
                    )
                else:
                    spots = [None]
                for b in spots:
                    x = model.new_int_var(0, size, f"{first}-{last}@{start}+{length}/b{b}")
                    mine.append(x)
                    for t in range(start, start + length):
                        on_duty[t].append(x)
                    if b is not None:
                        breaks_at[b].append(x)
                    chosen.append((key, start, length, b, x))
        if mine:
            model.add(sum(mine) <= size)  # at most one shift per agent
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
        status = "infeasible" if code == cp_model.INFEASIBLE else "unknown"
        return Roster([], [0] * n, [int(r) for r in required], status, seconds)
    queue = {key: list(members) for key, members in classes.items()}
    shifts = []
    for key, start, length, b, x in chosen:
        for _ in range(int(solver.value(x))):
            shifts.append(Shift(queue[key].pop(0), start, start + length, b))
    shifts.sort(key=lambda s: (s.start, s.agent))
    return Roster(
        shifts,
        [int(solver.value(v)) for v in staffed],
        [int(solver.value(v)) for v in under],
        "optimal" if code == cp_model.OPTIMAL else "feasible",
        seconds,
    )
