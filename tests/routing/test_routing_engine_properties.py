"""Properties of the pure routing engine (hypothesis): capacity, skills per step, aging bound, determinism."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from omnidesk.routing.engine import (
    Agent,
    Contact,
    Costs,
    Queue,
    Selection,
    Step,
    classify,
    current_step,
    has_skills,
    route,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SKILLS = ("vip", "lang:en", "退款", "calm")
CHANNELS = ("chat", "email", "voice", "wechat")
Q1 = uuid.UUID(int=1)
Q2 = uuid.UUID(int=2)


def _uuid(n: int) -> uuid.UUID:
    return uuid.UUID(int=1000 + n)


agents_st = st.lists(
    st.builds(
        lambda n, queues, skills, available, load, cap, active, idle: Agent(
            id=_uuid(n),
            queue_ids=frozenset(queues),
            skills=skills,
            available=available,
            load_units=load,
            capacity_units=cap,
            active=active,
            max_concurrent=3,
            idle_since=None if idle is None else NOW - timedelta(seconds=idle),
        ),
        st.integers(0, 10_000),
        st.sets(st.sampled_from((Q1, Q2)), min_size=1),
        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5)),
        st.booleans(),
        st.integers(0, 30),
        st.sampled_from((10, 30)),
        st.integers(0, 3),
        st.none() | st.integers(0, 600),
    ),
    max_size=12,
    unique_by=lambda a: a.id,
)

contacts_st = st.lists(
    st.builds(
        lambda n, q, ch, pr, waited, skills, declined: Contact(
            id=uuid.UUID(int=50_000 + n),
            queue_id=q,
            channel=ch,
            priority=pr,
            waiting_since=NOW - timedelta(seconds=waited),
            queued_at=NOW - timedelta(seconds=waited // 2),
            required_skills=frozenset(skills),
            declined=frozenset(_uuid(d) for d in declined),
        ),
        st.integers(0, 10_000),
        st.sampled_from((Q1, Q2)),
        st.sampled_from(CHANNELS),
        st.sampled_from(("urgent", "high", "normal", "low")),
        st.integers(0, 400),
        st.sets(st.sampled_from(SKILLS), max_size=2),
        st.sets(st.integers(0, 10_000), max_size=2),
    ),
    max_size=25,
    unique_by=lambda c: c.id,
)

queues_st = st.builds(
    lambda sel, t1, t2, paused: {
        Q1: Queue(
            id=Q1,
            steps=(Step(4, t1), Step(2, t2), Step(0, 30), Step(0, None, overflow=True)),
            selection=sel,
            overflow_queue_id=Q2,
        ),
        Q2: Queue(id=Q2, steps=(Step(3, t1), Step(0, None)), selection=sel, paused=paused),
    },
    st.sampled_from(list(Selection)),
    st.integers(1, 60),
    st.integers(1, 60),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(agents=agents_st, contacts=contacts_st, queues=queues_st)
def test_never_beyond_capacity_never_without_the_skill_and_deterministic(
    agents: list[Agent], contacts: list[Contact], queues: dict[uuid.UUID, Queue]
) -> None:
    costs = Costs()
    decisions = route(contacts, agents, queues, NOW, costs)
    assert decisions == route(list(reversed(contacts)), list(reversed(agents)), queues, NOW, costs)
    by_id = {a.id: a for a in agents}
    contacts_by_id = {c.id: c for c in contacts}
    units = {a.id: a.load_units for a in agents}
    count = {a.id: a.active for a in agents}
    assert len(decisions) == len(contacts)
    for d in decisions:
        if d.agent_id is None:
            continue
        agent, contact = by_id[d.agent_id], contacts_by_id[d.contact_id]
        queue = queues[contact.queue_id]
        assert agent.available and not queue.paused
        units[agent.id] += costs.of(contact.channel)
        count[agent.id] += 1
        assert units[agent.id] <= agent.capacity_units and count[agent.id] <= agent.max_concurrent
        if d.step >= 0:
            step = queue.steps[d.step]
            assert d.step == current_step(queue, contact, NOW)
            if step.min_proficiency:
                assert has_skills(agent, contact.required_skills, step.min_proficiency)
                assert contact.queue_id in agent.queue_ids
            elif not step.overflow:
                assert contact.queue_id in agent.queue_ids
        assert d.trace["outcome"] == "offered" and d.trace["chosen"] == str(agent.id) and d.trace["why"]
    for d in decisions:
        if d.agent_id is None:
            assert d.trace["outcome"] == "waiting" and d.trace["why"]


@settings(max_examples=20, deadline=None)
@given(
    aging=st.integers(5, 40),
    arrivals_per_tick=st.integers(1, 3),
    tick=st.integers(1, 30),
)
def test_a_low_priority_contact_cannot_starve_behind_a_stream_of_urgent_ones(
    aging: int, arrivals_per_tick: int, tick: int
) -> None:
    """One agent frees up each tick while more urgent contacts arrive than can be served (the queue grows without
    end): the low-priority contact is still offered. Aging makes it rank like an urgent contact that arrived 3 aging
    periods later, so only those arriving in that window go first: bound = time to serve them (+ rounding)."""
    queue = Queue(id=Q1, aging_seconds=aging)
    queues = {Q1: queue}
    agent = Agent(id=_uuid(1), queue_ids=frozenset({Q1}), skills={}, available=True, max_concurrent=1)
    low = Contact(uuid.UUID(int=1), Q1, "chat", "low", NOW, NOW)
    waiting = [low]
    now = NOW
    serial = 2
    bound = timedelta(seconds=3 * aging * arrivals_per_tick + (arrivals_per_tick + 1) * tick + aging)
    for _ in range(10_000):
        for _ in range(arrivals_per_tick):
            waiting.append(Contact(uuid.UUID(int=serial), Q1, "chat", "urgent", now, now))
            serial += 1
        decision = next(d for d in route(waiting, [agent], queues, now) if d.agent_id is not None)
        if decision.contact_id == low.id:
            break
        waiting = [c for c in waiting if c.id != decision.contact_id]
        now += timedelta(seconds=tick)
        assert now - NOW <= bound, "the low-priority contact starved"
    assert now - NOW <= bound


def test_steps_widen_over_time_and_overflow_reaches_the_other_queue() -> None:
    queue = Queue(
        id=Q1,
        steps=(Step(4, 20), Step(2, 20), Step(0, 20), Step(0, None, overflow=True)),
        overflow_queue_id=Q2,
        selection=Selection.BEST_SCORE,
    )
    queues = {Q1: queue, Q2: Queue(id=Q2)}
    expert = Agent(_uuid(1), frozenset({Q1}), {"vip": 5}, available=False)
    junior = Agent(_uuid(2), frozenset({Q1}), {"vip": 2}, available=True)
    generalist = Agent(_uuid(3), frozenset({Q1}), {}, available=True)
    other = Agent(_uuid(4), frozenset({Q2}), {}, available=True)
    contact = Contact(uuid.UUID(int=9), Q1, "chat", "normal", NOW, NOW, frozenset({"vip"}))
    first = route([contact], [expert, junior, generalist, other], queues, NOW)[0]
    assert first.agent_id is None and first.trace["step"] == 0
    assert first.trace["rejected"]["counts"] == {"missing_skill": 2, "unavailable": 1}
    assert route([contact], [expert, junior], queues, NOW + timedelta(seconds=21))[0].agent_id == junior.id
    assert route([contact], [expert, generalist, other], queues, NOW + timedelta(seconds=41))[0].agent_id == (
        generalist.id
    )
    assert route([contact], [other], queues, NOW + timedelta(seconds=41))[0].agent_id is None
    assert route([contact], [other], queues, NOW + timedelta(seconds=61))[0].agent_id == other.id
    # The expert back: best score picks them at step 0.
    back = Agent(_uuid(1), frozenset({Q1}), {"vip": 5}, available=True)
    chosen = route([contact], [back, junior], queues, NOW)[0]
    assert chosen.agent_id == back.id and "best score" in chosen.trace["why"]


def test_sticky_previous_agent_and_capacity_costs() -> None:
    queue = Queue(id=Q1, sticky_seconds=30)
    queues = {Q1: queue}
    prev = Agent(_uuid(1), frozenset({Q1}), {}, available=True, load_units=30)
    idle = Agent(_uuid(2), frozenset({Q1}), {}, available=True)
    c = Contact(uuid.UUID(int=9), Q1, "chat", "normal", NOW, NOW, previous_agent=prev.id)
    held = route([c], [prev, idle], queues, NOW)[0]
    assert held.agent_id is None and "previous agent" in held.trace["why"]
    assert route([c], [prev, idle], queues, NOW + timedelta(seconds=31))[0].agent_id == idle.id
    free_prev = Agent(_uuid(1), frozenset({Q1}), {}, available=True)
    assert route([c], [free_prev, idle], queues, NOW)[0].agent_id == free_prev.id
    absent = Agent(_uuid(1), frozenset({Q1}), {}, available=False)
    assert route([c], [absent, idle], queues, NOW)[0].agent_id == idle.id  # never wait for an absent agent
    # One call, or three chats, or ten e-mails.
    solo = Agent(_uuid(3), frozenset({Q1}), {}, available=True, max_concurrent=20)
    for channel, fits in (("voice", 1), ("chat", 3), ("email", 10)):
        many = [Contact(uuid.UUID(int=100 + i), Q1, channel, "normal", NOW, NOW) for i in range(12)]
        assert sum(d.agent_id is not None for d in route(many, [solo], queues, NOW)) == fits


def test_requirements_from_the_contact() -> None:
    r = classify(
        channel="chat",
        priority="normal",
        language="en-US",
        default_language="zh-CN",
        intent="refund",
        intent_skills={"refund": "退款"},
        vip_tier="gold",
        sentiment="negative",
        text="hello",
    )
    assert r.skills == {"lang:en", "退款", "vip", "calm"} and r.priority == "urgent"
    plain = classify(
        channel="chat",
        priority="low",
        language="zh-CN",
        default_language="zh-CN",
        intent=None,
        intent_skills={},
        vip_tier=None,
        sentiment=None,
        text="我要投诉",
    )
    assert plain.skills == frozenset() and plain.priority == "urgent" and "urgency word 投诉" in plain.reasons
