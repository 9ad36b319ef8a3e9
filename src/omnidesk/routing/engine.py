"""The routing engine (ACD): which waiting contact goes to which agent now, and why. Pure: no database, no clock.

The actions gather the facts (queues, agents, waiting contacts, ``now``) into the frozen values below and store what
:func:`route` decides. Everything is deterministic for the same input: ties always end on the id.

Model, borrowed from the best routers and combined:

- **Queues** with ordered **steps** that widen as the contact waits (Amazon Connect proficiency steps with expiry,
  Genesys bullseye rings): e.g. every required skill at proficiency >= 4 for 20 s, then >= 2 for 40 s, then any
  agent of the queue, then the queue's **overflow** queue's agents as well. Each step's timeout is per queue.
- **Priority with aging**: every ``aging_seconds`` of waiting lifts a contact one priority level, so low-priority
  work cannot starve behind a stream of urgent work (TaskRouter's strict precedence can); within the same effective
  level the oldest goes first.
- **Agent selection** per queue: longest idle, least occupied (load ratio, then idle; Azure Job Router), or best
  score (sum of proficiency on the required skills, then least occupied).
- **Sticky agent**: for the first ``sticky_seconds`` a returning customer's previous agent is preferred when present
  (online and connected) and free; if they are present but full the contact waits for them until the window ends;
  an absent previous agent is skipped at once (the Chatwoot #4158 complaint: never wait on an offline agent).
- **Capacity with costs** per channel (Azure's capacity/cost): e.g. capacity 30, a call costs 30, a chat 10, an
  e-mail 3 (one call, or three chats, or ten e-mails), plus a plain cap on the number of contacts.
- Every decision carries a **trace**: the step, how many agents were considered, why each was rejected (counts and
  a few examples), and why the chosen one won.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
RANK_PRIORITY = {v: k for k, v in PRIORITY_RANK.items()}

#: Capacity units per agent and the cost of one contact per channel: one call, or three chats, or ten e-mails.
DEFAULT_CAPACITY_UNITS = 30
DEFAULT_CHANNEL_COSTS: Mapping[str, int] = {"voice": 30, "phone": 30, "email": 3}
DEFAULT_COST = 10  # chats and every messaging channel

TRACE_EXAMPLES = 8  # rejected agents named per reason in a trace; the rest are counted


class Selection(StrEnum):
    LONGEST_IDLE = "longest_idle"
    LEAST_OCCUPIED = "least_occupied"
    BEST_SCORE = "best_score"


class Reject(StrEnum):
    """Why an agent was not chosen for a contact (shown to supervisors in the trace)."""

    UNAVAILABLE = "unavailable"  # not online, or no live workspace connection
    NOT_IN_QUEUE = "not_in_queue"
    NO_CAPACITY = "no_capacity"
    MISSING_SKILL = "missing_skill"
    DECLINED = "declined"  # let this contact's offer lapse or declined it this round


UNAVAILABLE, NO_CAPACITY, MISSING_SKILL, DECLINED = (
    Reject.UNAVAILABLE.value,
    Reject.NO_CAPACITY.value,
    Reject.MISSING_SKILL.value,
    Reject.DECLINED.value,
)


@dataclass(frozen=True)
class Step:
    """One ring of the bullseye. ``min_proficiency`` 0 means any agent of the queue; ``overflow`` adds the overflow
    queue's agents. ``timeout_seconds`` None: the step never expires (it should be the last)."""

    min_proficiency: int = 0
    timeout_seconds: int | None = None
    overflow: bool = False

    def describe(self) -> str:
        if self.overflow:
            return "overflow"
        return f"proficiency>={self.min_proficiency}" if self.min_proficiency else "any agent of the queue"


DEFAULT_STEPS = (Step(min_proficiency=0, timeout_seconds=None),)


@dataclass(frozen=True)
class Queue:
    id: uuid.UUID
    name: str = ""
    skills: frozenset[str] = frozenset()
    steps: tuple[Step, ...] = DEFAULT_STEPS
    selection: Selection = Selection.LONGEST_IDLE
    overflow_queue_id: uuid.UUID | None = None
    paused: bool = False
    sticky_seconds: int = 0
    aging_seconds: int = 60


@dataclass(frozen=True)
class Agent:
    """An agent as routing sees them at one moment. ``available`` = chosen online and connected now."""

    id: uuid.UUID
    queue_ids: frozenset[uuid.UUID]
    skills: Mapping[str, int]
    available: bool
    load_units: int = 0
    capacity_units: int = DEFAULT_CAPACITY_UNITS
    active: int = 0
    max_concurrent: int = 5
    idle_since: datetime | None = None  # last offer or assignment; None = never (idlest of all)


@dataclass(frozen=True)
class Contact:
    """A waiting contact. ``queued_at`` restarts when it is moved to another queue (the steps start again);
    ``waiting_since`` does not (the customer's wait, used for aging and order)."""

    id: uuid.UUID
    queue_id: uuid.UUID
    channel: str
    priority: str
    waiting_since: datetime
    queued_at: datetime
    required_skills: frozenset[str] = frozenset()
    previous_agent: uuid.UUID | None = None
    declined: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class Costs:
    channel_costs: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CHANNEL_COSTS))
    default_cost: int = DEFAULT_COST

    def of(self, channel: str) -> int:
        return self.channel_costs.get(channel, self.default_cost)


@dataclass(frozen=True)
class Decision:
    contact_id: uuid.UUID
    agent_id: uuid.UUID | None
    step: int  # index into the queue's steps; -1 the sticky step
    trace: dict[str, Any]
    reset_declined: bool = False


# ---- requirements of a contact -------------------------------------------------------------------------------


URGENCY_WORDS = ("投诉", "报警", "律师", "起诉", "曝光", "紧急", "urgent", "emergency", "lawyer", "complaint", "asap")
NEGATIVE_SENTIMENTS = frozenset({"negative", "angry", "very_negative"})


@dataclass(frozen=True)
class Requirements:
    skills: frozenset[str]
    priority: str
    reasons: tuple[str, ...]


def classify(
    *,
    channel: str,
    priority: str,
    language: str | None,
    default_language: str,
    intent: str | None,
    intent_skills: Mapping[str, str],
    vip_tier: str | None,
    sentiment: str | None,
    text: str,
    queue_skills: Iterable[str] = (),
) -> Requirements:
    """What a contact needs: skills (the queue's own, a language other than the workspace's, the intent's skill,
    ``vip`` for a VIP tier, ``calm`` for negative sentiment) and its priority (raised one level for a VIP or a
    negative sentiment, urgent when the customer uses an urgency word). ``reasons`` explain each addition."""
    skills = set(queue_skills)
    reasons: list[str] = [f"queue skill {s}" for s in sorted(skills)]
    rank = PRIORITY_RANK.get(priority, 2)
    lang = (language or "").split("-")[0].lower()
    if lang and lang != default_language.split("-")[0].lower():
        skills.add(f"lang:{lang}")
        reasons.append(f"language {language}")
    if intent and intent in intent_skills:
        skills.add(intent_skills[intent])
        reasons.append(f"intent {intent}")
    if vip_tier:
        skills.add("vip")
        rank = max(0, rank - 1)
        reasons.append(f"VIP tier {vip_tier}")
    if sentiment in NEGATIVE_SENTIMENTS:
        skills.add("calm")
        rank = max(0, rank - 1)
        reasons.append(f"sentiment {sentiment}")
    lowered = text.lower()
    word = next((w for w in URGENCY_WORDS if w in lowered), None)
    if word is not None:
        rank = 0
        reasons.append(f"urgency word {word}")
    reasons.append(f"channel {channel}")
    return Requirements(skills=frozenset(skills), priority=RANK_PRIORITY[rank], reasons=tuple(reasons))


# ---- order and steps -----------------------------------------------------------------------------------------


def effective_rank(contact: Contact, queue: Queue | None, now: datetime) -> int:
    """The priority rank after aging: one level up per ``aging_seconds`` waited (may go below urgent's 0, so an
    old low-priority contact eventually goes before new urgent ones)."""
    base = PRIORITY_RANK.get(contact.priority, 2)
    aging = queue.aging_seconds if queue is not None else 60
    if aging <= 0:
        return base
    waited = max((now - contact.waiting_since).total_seconds(), 0.0)
    return base - math.floor(waited / aging)


def service_order(contacts: Iterable[Contact], queues: Mapping[uuid.UUID, Queue], now: datetime) -> list[Contact]:
    """Who is served first: lowest effective rank, then the longest wait, then the id (deterministic)."""
    return sorted(
        contacts,
        key=lambda c: (effective_rank(c, queues.get(c.queue_id), now), c.waiting_since, str(c.id)),
    )


def current_step(queue: Queue, contact: Contact, now: datetime) -> int:
    """The index of the step the contact is in: each step lasts its timeout from when it entered the queue."""
    elapsed = (now - contact.queued_at).total_seconds()
    spent = 0.0
    for i, step in enumerate(queue.steps):
        if step.timeout_seconds is None:
            return i
        spent += step.timeout_seconds
        if elapsed < spent:
            return i
    return len(queue.steps) - 1


def step_deadline(queue: Queue, contact: Contact, step: int) -> datetime | None:
    total = sum(s.timeout_seconds or 0 for s in queue.steps[: step + 1])
    if queue.steps[step].timeout_seconds is None:
        return None
    return contact.queued_at + timedelta(seconds=total)


# ---- the pass ------------------------------------------------------------------------------------------------


@dataclass
class _Live:
    """An agent's state as it changes during one pass (offers made earlier in the pass use capacity)."""

    agent: Agent
    load_units: int
    active: int
    idle_since: datetime | None
    sid: str = ""  # the id as text, computed once: the tie-break of every sort

    def __post_init__(self) -> None:
        self.sid = str(self.agent.id)

    def fits(self, cost: int) -> bool:
        return self.active < self.agent.max_concurrent and self.load_units + cost <= self.agent.capacity_units


def has_skills(agent: Agent, skills: Iterable[str], min_proficiency: int) -> bool:
    return all(agent.skills.get(s, 0) >= min_proficiency for s in skills)


def _score(agent: Agent, skills: frozenset[str]) -> int:
    return sum(agent.skills.get(s, 0) for s in skills)


def _pick(pool: list[_Live], selection: Selection, skills: frozenset[str]) -> tuple[_Live, str]:
    def idle_key(live: _Live) -> tuple[bool, datetime]:
        return (live.idle_since is not None, live.idle_since or datetime.min)

    def ratio(live: _Live) -> float:
        return live.load_units / max(live.agent.capacity_units, 1)

    if selection == Selection.LEAST_OCCUPIED:
        best = min(pool, key=lambda x: (ratio(x), *idle_key(x), x.sid))
        return best, f"least occupied (load {best.load_units}/{best.agent.capacity_units})"
    if selection == Selection.BEST_SCORE:
        best = min(pool, key=lambda x: (-_score(x.agent, skills), ratio(x), *idle_key(x), x.sid))
        return best, f"best score ({_score(best.agent, skills)} on {', '.join(sorted(skills)) or 'no skills'})"
    best = min(pool, key=lambda x: (*idle_key(x), x.sid))
    since = best.idle_since.isoformat() if best.idle_since else "never offered"
    return best, f"longest idle (since {since})"


class _Rejections:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}  # agent ids as text

    def add(self, reason: str, agent_id: str) -> None:
        n = self.counts.get(reason, 0)
        self.counts[reason] = n + 1
        if n < TRACE_EXAMPLES:
            self.examples.setdefault(reason, []).append(agent_id)

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "examples": dict(sorted(self.examples.items()))}


def route(
    contacts: Sequence[Contact],
    agents: Sequence[Agent],
    queues: Mapping[uuid.UUID, Queue],
    now: datetime,
    costs: Costs | None = None,
) -> list[Decision]:
    """Decide for every waiting contact, in service order: an offer to one agent, or why it waits.

    Invariants (property-tested): an agent is never offered beyond their capacity or count cap; at a step with a
    minimum proficiency nobody lacking a required skill at that level is offered; same input → same decisions.
    """
    costs = costs or Costs()
    live = {a.id: _Live(a, a.load_units, a.active, a.idle_since) for a in agents}
    # Per queue: the available members (scanned per contact) and how many are unavailable (only counted in the
    # trace), and how many members still have room for the cheapest contact (a queue at zero is skipped at once:
    # with 10,000 waiting and every agent full, the pass must not scan 1,000 agents per contact).
    min_cost = min([costs.default_cost, *costs.channel_costs.values()]) if live else 0
    members: dict[uuid.UUID, dict[uuid.UUID, _Live]] = {}  # available members with room, in id order
    full: dict[uuid.UUID, int] = {}  # available members without room for even the cheapest contact
    unavailable: dict[uuid.UUID, int] = {}
    for item in sorted(live.values(), key=lambda x: x.sid):
        for qid in item.agent.queue_ids:
            if not item.agent.available:
                unavailable[qid] = unavailable.get(qid, 0) + 1
            elif item.fits(min_cost):
                members.setdefault(qid, {})[item.agent.id] = item
            else:
                full[qid] = full.get(qid, 0) + 1
    decisions: list[Decision] = []
    free = {a for a, x in live.items() if x.agent.available and x.fits(min_cost)}
    for contact in service_order(contacts, queues, now):
        queue = queues.get(contact.queue_id)
        base: dict[str, Any] = {
            "at": now.isoformat(),
            "queue": str(contact.queue_id),
            "queue_name": queue.name if queue else "",
            "priority": contact.priority,
            "effective_rank": effective_rank(contact, queue, now),
            "required_skills": sorted(contact.required_skills),
        }
        if queue is None:
            decisions.append(Decision(contact.id, None, 0, {**base, "outcome": "waiting", "why": "queue unknown"}))
            continue
        if queue.paused:
            decisions.append(Decision(contact.id, None, 0, {**base, "outcome": "waiting", "why": "queue paused"}))
            continue
        reachable = len(members.get(queue.id, ())) + (
            len(members.get(queue.overflow_queue_id, ())) if queue.overflow_queue_id else 0
        )
        if not reachable and contact.previous_agent not in free:
            index = current_step(queue, contact, now)
            trace = {**base, "step": index, "step_rule": queue.steps[index].describe(), "outcome": "waiting",
                     "considered": full.get(queue.id, 0) + unavailable.get(queue.id, 0),
                     "why": "no agent of the queue has free capacity"}  # fmt: skip
            decisions.append(Decision(contact.id, None, index, trace))
            continue
        cost = costs.of(contact.channel)
        decision = _decide(contact, queue, members, (full, unavailable), live, cost, now, base)
        if decision.agent_id is not None:
            chosen = live[decision.agent_id]
            chosen.load_units += cost
            chosen.active += 1
            chosen.idle_since = now
            if chosen.agent.id in free and not chosen.fits(min_cost):
                free.discard(chosen.agent.id)
                for qid in chosen.agent.queue_ids:
                    members[qid].pop(chosen.agent.id, None)
                    full[qid] = full.get(qid, 0) + 1
        decisions.append(decision)
    return decisions


def _decide(
    contact: Contact,
    queue: Queue,
    members: Mapping[uuid.UUID, dict[uuid.UUID, _Live]],
    counted: tuple[Mapping[uuid.UUID, int], Mapping[uuid.UUID, int]],
    live: Mapping[uuid.UUID, _Live],
    cost: int,
    now: datetime,
    base: dict[str, Any],
) -> Decision:
    waited = (now - contact.queued_at).total_seconds()
    previous = live.get(contact.previous_agent) if contact.previous_agent else None
    if previous is not None and waited < queue.sticky_seconds and previous.agent.available:
        if previous.fits(cost) and previous.agent.id not in contact.declined:
            trace = {**base, "step": "sticky", "considered": 1, "outcome": "offered"}
            trace["chosen"] = str(previous.agent.id)
            trace["why"] = "previous agent of this customer, present and free"
            return Decision(contact.id, previous.agent.id, -1, trace)
        if previous.agent.id not in contact.declined:
            trace = {**base, "step": "sticky", "considered": 1, "outcome": "waiting"}
            trace["why"] = f"holding for the previous agent (full) until {queue.sticky_seconds}s"
            return Decision(contact.id, None, -1, trace)
    index = current_step(queue, contact, now)
    step = queue.steps[index]
    full, unavailable = counted
    pool_source = list(members.get(queue.id, {}).values())
    absent, busy = unavailable.get(queue.id, 0), full.get(queue.id, 0)
    if step.overflow and queue.overflow_queue_id is not None:
        mine = members.get(queue.id, {})
        pool_source += [x for k, x in members.get(queue.overflow_queue_id, {}).items() if k not in mine]
        # An agent in both queues is counted twice in these two figures (they are only shown in the trace).
        absent += unavailable.get(queue.overflow_queue_id, 0)
        busy += full.get(queue.overflow_queue_id, 0)
    skills, level, declined = contact.required_skills, step.min_proficiency, contact.declined
    for ignore_declined in (False, True):
        rejected = _Rejections()
        if absent:
            rejected.counts[UNAVAILABLE] = absent
        if busy:
            rejected.counts[NO_CAPACITY] = busy
        pool: list[_Live] = []
        for item in pool_source:
            agent = item.agent
            if not item.fits(cost):
                rejected.add(NO_CAPACITY, item.sid)
            elif level and not has_skills(agent, skills, level):
                rejected.add(MISSING_SKILL, item.sid)
            elif not ignore_declined and agent.id in declined:
                rejected.add(DECLINED, item.sid)
            else:
                pool.append(item)
        deadline = step_deadline(queue, contact, index)
        trace = {
            **base,
            "step": index,
            "step_rule": step.describe(),
            "step_ends": deadline.isoformat() if deadline else None,
            "considered": len(pool_source) + absent + busy,
            "rejected": rejected.as_dict(),
            "eligible": len(pool),
        }
        if pool:
            chosen, why = _pick(pool, queue.selection, contact.required_skills)
            trace.update(outcome="offered", chosen=str(chosen.agent.id), why=why, selection=queue.selection.value)
            if ignore_declined:
                trace["why"] += "; everyone eligible had let it lapse once, so a new round began"
            return Decision(contact.id, chosen.agent.id, index, trace, reset_declined=ignore_declined)
        if not rejected.counts.get(DECLINED):
            break
    trace.update(outcome="waiting", why="no eligible agent at this step")
    return Decision(contact.id, None, index, trace)


# ---- what the customer is told -------------------------------------------------------------------------------


def expected_wait(
    position: int, *, handled_per_minute: float | None, agents_available: int, default: timedelta
) -> timedelta:
    """Expected wait from the queue's measured handling rate: ``position`` customers must be served before this
    one is, at the rate the queue has been serving lately. Without a measurement (a new queue), the default time
    per contact shared among the agents available."""
    if handled_per_minute and handled_per_minute > 0:
        return timedelta(minutes=position / handled_per_minute)
    return default * position / max(agents_available, 1)
