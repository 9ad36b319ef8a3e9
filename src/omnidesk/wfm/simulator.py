"""A discrete-event simulator (SimPy) that replays a day of contacts under a staffing plan and a simple routing
configuration (queues, agent groups with skills), reporting ASA, service level and abandonment.

The routing here is the simple ACD the Erlang models assume, extended to skills: an arriving contact goes to a
free agent of the first group (fewest skills first: specialists before generalists) that serves its queue, else
it waits in its queue (FIFO) until an agent frees or its patience runs out; a freed agent takes the oldest waiting
contact among the queues it serves. Agents of a group are interchangeable, so a group is a count of free agents,
not objects: the run is a few SimPy events per contact (arrival, answer or abandonment, end of handling).

Staffing changes at interval boundaries: added agents start at once; removed agents leave when free (a contact in
hand is finished, never cut off). Denominators as in ``erlang``: service level and abandonment over offered
contacts, ASA over answered contacts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy


@dataclass(frozen=True, slots=True)
class Contact:
    arrival: float  # seconds from the start of the day
    queue: str
    handle: float  # seconds of handling once answered
    patience: float  # seconds the customer waits before abandoning (inf: never)


@dataclass(frozen=True, slots=True)
class AgentGroup:
    name: str
    skills: frozenset[str]  # the queues this group serves
    agents: tuple[int, ...]  # agents on duty per interval of the plan


@dataclass(frozen=True, slots=True)
class Plan:
    interval: float  # seconds per interval
    groups: tuple[AgentGroup, ...]


@dataclass(slots=True)
class Result:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within: int = 0
    wait_answered: float = 0.0
    busy_seconds: float = 0.0
    per_interval: list[dict[str, float]] = field(default_factory=list)

    @property
    def service_level(self) -> float:
        return self.answered_within / self.offered if self.offered else 1.0

    @property
    def asa(self) -> float:
        return self.wait_answered / self.answered if self.answered else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0


class _Group:
    __slots__ = ("free", "leaving", "name", "on_duty", "queues")

    def __init__(self, name: str, queues: list[str]) -> None:
        self.name = name
        self.queues = queues
        self.free = 0
        self.on_duty = 0
        self.leaving = 0  # busy agents to send home when they finish


class _Waiting:
    __slots__ = ("contact", "done")

    def __init__(self, contact: Contact) -> None:
        self.contact = contact
        self.done = False  # answered or abandoned: a lazy-deleted entry in its queue


def simulate(contacts: Sequence[Contact], plan: Plan, within: float = 20.0, warmup: float = 0.0) -> Result:
    """Replay ``contacts`` (sorted by arrival) under ``plan``; contacts arriving before ``warmup`` seconds are
    simulated but not counted (steady-state comparisons)."""
    env = simpy.Environment()
    result = Result()
    n_intervals = max((len(g.agents) for g in plan.groups), default=0)
    buckets = [[0, 0, 0, 0.0] for _ in range(n_intervals or 1)]  # offered, answered within, abandoned, answered
    groups = sorted((_Group(g.name, sorted(g.skills)) for g in plan.groups), key=lambda g: len(g.queues))
    by_name = {g.name: g for g in groups}
    serving: dict[str, list[_Group]] = {}
    for g in groups:
        for q in g.queues:
            serving.setdefault(q, []).append(g)
    queues: dict[str, deque[_Waiting]] = {q: deque() for q in serving}

    def bucket(t: float) -> list[float]:
        return buckets[min(int(t // plan.interval), len(buckets) - 1)]

    def answer(group: _Group, c: Contact, now: float) -> None:
        group.free -= 1
        if c.arrival >= warmup:
            wait = now - c.arrival
            result.answered += 1
            result.wait_answered += wait
            result.busy_seconds += c.handle
            b = bucket(c.arrival)
            b[3] += 1
            if wait <= within:
                result.answered_within += 1
                b[1] += 1
        env.timeout(c.handle).callbacks.append(lambda _e: finish(group))

    def next_waiting(group: _Group) -> _Waiting | None:
        best: _Waiting | None = None
        for q in group.queues:
            line = queues[q]
            while line and line[0].done:
                line.popleft()
            if line and (best is None or line[0].contact.arrival < best.contact.arrival):
                best = line[0]
        return best

    def finish(group: _Group) -> None:
        group.free += 1
        if group.leaving:
            group.leaving -= 1
            group.free -= 1
            group.on_duty -= 1
            return
        pull(group)

    def pull(group: _Group) -> None:
        while group.free > 0:
            w = next_waiting(group)
            if w is None:
                return
            w.done = True
            queues[w.contact.queue].popleft()
            answer(group, w.contact, env.now)

    def abandon(w: _Waiting) -> None:
        if not w.done:
            w.done = True
            if w.contact.arrival >= warmup:
                result.abandoned += 1
                bucket(w.contact.arrival)[2] += 1

    def arrive(c: Contact) -> None:
        if c.arrival >= warmup:
            result.offered += 1
            bucket(c.arrival)[0] += 1
        for g in serving.get(c.queue, ()):
            if g.free > 0:
                answer(g, c, env.now)
                return
        if c.queue not in queues:  # nobody serves this queue: the customer waits until they give up
            queues[c.queue] = deque()
        w = _Waiting(c)
        queues[c.queue].append(w)
        if c.patience != float("inf"):
            env.timeout(c.patience).callbacks.append(lambda _e: abandon(w))

    def restaff(index: int) -> None:
        for spec in plan.groups:
            g = by_name[spec.name]
            target = spec.agents[index] if index < len(spec.agents) else spec.agents[-1]
            # Cancel pending departures first, then add or send home free agents, then mark busy ones to leave.
            delta = target - (g.on_duty - g.leaving)
            if delta > 0:
                cancel = min(delta, g.leaving)
                g.leaving -= cancel
                delta -= cancel
                g.on_duty += delta
                g.free += delta
                pull(g)
            elif delta < 0:
                home = min(-delta, g.free)
                g.free -= home
                g.on_duty -= home
                g.leaving += -delta - home

    def arrivals() -> simpy.events.ProcessGenerator:
        last = 0.0
        for c in contacts:
            if c.arrival > last:
                yield env.timeout(c.arrival - last)
                last = c.arrival
            arrive(c)

    def shifts() -> simpy.events.ProcessGenerator:
        for i in range(n_intervals):
            restaff(i)
            yield env.timeout(plan.interval)

    env.process(shifts())
    env.process(arrivals())
    env.run()
    result.per_interval = [
        {
            "offered": b[0],
            "service_level": (b[1] / b[0]) if b[0] else 1.0,
            "abandon_rate": (b[2] / b[0]) if b[0] else 0.0,
            "answered": b[3],
        }
        for b in buckets
    ]
    return result


def poisson_day(
    rates: Sequence[float],
    interval: float,
    aht: float,
    patience: float | None,
    seed: int,
    queue: str = "default",
) -> list[Contact]:
    """Contacts of a Poisson day: ``rates[i]`` contacts expected in interval i, exponential handle times (mean
    ``aht``) and patience (mean ``patience``; None: nobody abandons) — Erlang's own assumptions."""
    rng = np.random.default_rng(seed)
    out: list[Contact] = []
    for i, expected in enumerate(rates):
        n = int(rng.poisson(expected))
        arrivals = np.sort(rng.uniform(i * interval, (i + 1) * interval, n))
        handles = rng.exponential(aht, n)
        waits = rng.exponential(patience, n) if patience else np.full(n, np.inf)
        out.extend(
            Contact(float(a), queue, float(h), float(p)) for a, h, p in zip(arrivals, handles, waits, strict=True)
        )
    return out
