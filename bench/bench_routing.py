"""Routing (ACD) throughput and latency, with the old round robin as the baseline in the same run.

1. Engine only: one pass over 10,000 waiting contacts (10 queues, skill steps) and 1,000 agents → decisions/s;
   baseline: the old per-contact round robin (``strategy.pick_round_robin``) over the same agents.
2. Through the reconciler with the database (SQLite file): one ``route_waiting`` pass with the same 10,000 entries
   and 1,000 agents online (rolled back after each pass, so both variants see the same state).
3. p99 time from a contact becoming routable to the offer: contacts arriving one at a time (conversation row +
   ``enqueue`` + the routing pass + commit, as the widget does), 1,000 agents online, for the engine and the baseline.

    .venv/bin/python bench/bench_routing.py [--contacts 10000] [--agents 1000] [--arrivals 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from omnidesk.accounts import actions as accounts  # noqa: E402
from omnidesk.accounts.models import StaffUser  # noqa: E402
from omnidesk.accounts.schemas import TenantCreate  # noqa: E402
from omnidesk.conversations.models import Conversation  # noqa: E402
from omnidesk.core import migrate  # noqa: E402
from omnidesk.core.actor import system_actor  # noqa: E402
from omnidesk.core.db import Database, utcnow  # noqa: E402
from omnidesk.customers.models import Customer  # noqa: E402
from omnidesk.routing import actions, engine, queries  # noqa: E402
from omnidesk.routing.models import AgentPresence, QueueEntry, RoutingQueue  # noqa: E402
from omnidesk.routing.strategy import Candidate, Presence, QueueState, pick_round_robin  # noqa: E402

SKILLS = ["vip", "lang:en", "退款", "物流", "calm", "发票"]
QUEUES = 10


class Rollback(Exception):
    pass


def synthetic(contacts: int, agents: int) -> tuple[list[engine.Contact], list[engine.Agent], dict[uuid.UUID, Any]]:
    rng = random.Random(7)
    now = utcnow()
    qids = [uuid.UUID(int=i + 1) for i in range(QUEUES)]
    steps = (engine.Step(4, 20), engine.Step(2, 20), engine.Step(0, 30), engine.Step(0, None, overflow=True))
    queues = {
        q: engine.Queue(q, f"q{i}", steps=steps, selection=list(engine.Selection)[i % 3], overflow_queue_id=qids[i - 1])
        for i, q in enumerate(qids)
    }
    pool = [
        engine.Agent(
            id=uuid.UUID(int=10_000 + i),
            queue_ids=frozenset(rng.sample(qids, 2)),
            skills={s: rng.randint(1, 5) for s in rng.sample(SKILLS, 3)},
            available=rng.random() < 0.9,
            load_units=rng.choice((0, 10, 20)),
            max_concurrent=3,
            idle_since=now - timedelta(seconds=rng.randint(0, 900)),
        )
        for i in range(agents)
    ]
    waiting = []
    for i in range(contacts):
        since = now - timedelta(seconds=rng.randint(0, 300))
        waiting.append(
            engine.Contact(
                id=uuid.UUID(int=100_000 + i),
                queue_id=rng.choice(qids),
                channel=rng.choice(("web", "web", "email", "voice")),
                priority=rng.choice(("low", "normal", "normal", "high", "urgent")),
                waiting_since=since,
                queued_at=since,
                required_skills=frozenset(rng.sample(SKILLS, rng.randint(0, 2))),
            )
        )
    return waiting, pool, queues


def engine_only(contacts: int, agents: int) -> dict[str, float]:
    waiting, pool, queues = synthetic(contacts, agents)
    t = time.perf_counter()
    decisions = engine.route(waiting, pool, queues, utcnow())
    new = time.perf_counter() - t
    offered = sum(d.agent_id is not None for d in decisions)
    candidates = [
        Candidate(a.id, frozenset(a.queue_ids), Presence.ONLINE if a.available else Presence.OFFLINE, True,
                  a.load_units // 10, 3, a.idle_since)
        for a in pool
    ]  # fmt: skip
    t = time.perf_counter()
    old_offers = 0
    for c in sorted(waiting, key=lambda c: (engine.PRIORITY_RANK[c.priority], c.waiting_since)):
        choice = pick_round_robin(candidates, team_id=c.queue_id)
        if choice is not None:
            old_offers += 1
            candidates = [x if x.staff_id != choice.staff_id else
                          Candidate(x.staff_id, x.team_ids, x.presence, x.connected, x.load + 1, x.capacity, utcnow())
                          for x in candidates]  # fmt: skip
    old = time.perf_counter() - t
    return {"engine_s": new, "engine_offers": offered, "baseline_s": old, "baseline_offers": old_offers}


def old_route_waiting(session: Session) -> int:
    """The round robin pass before the ACD (kept here only as the baseline)."""
    waiting = queries.waiting_entries(session)
    pool = queries.candidates(session, None)
    policy = queries.policy(session)
    now = utcnow()
    offered = 0
    for entry in waiting:
        conversation = session.get(Conversation, entry.conversation_id)
        if conversation is None or conversation.assignee_id:
            continue
        choice = pick_round_robin(pool, team_id=entry.team_id)
        if choice is None:
            continue
        entry.state = QueueState.OFFERED.value
        entry.offered_to = choice.staff_id
        entry.offer_expires_at = now + timedelta(seconds=policy.accept_timeout_seconds)
        pool = [
            c if c.staff_id != choice.staff_id else Candidate(c.staff_id, c.team_ids, c.presence, c.connected,
                                                              c.load + 1, c.capacity, now)
            for c in pool
        ]  # fmt: skip
        offered += 1
    session.flush()
    return offered


def seed(db: Database, contacts: int, agents: int) -> uuid.UUID:
    rng = random.Random(11)
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(s, TenantCreate(slug="bench", name="Bench", admin_email="a@b.example"))
    with db.tenant_transaction(tenant.id) as s:
        s.query(StaffUser).update({StaffUser.is_active: False})  # only the bench's agents take work
        steps = [{"min_proficiency": 4, "timeout_seconds": 20}, {"min_proficiency": 2, "timeout_seconds": 20},
                 {"min_proficiency": 0, "timeout_seconds": None}]  # fmt: skip
        rows = [RoutingQueue(tenant_id=tenant.id, name=f"q{i}", skills=[SKILLS[i % len(SKILLS)]], steps=steps,
                             selection=list(engine.Selection)[i % 3].value) for i in range(QUEUES)]  # fmt: skip
        s.add_all(rows)
        staff = [
            StaffUser(tenant_id=tenant.id, email=f"a{i}@b.example", display_name=f"a{i}", role="agent",
                      max_concurrent=3, skills=[], skill_levels={k: rng.randint(1, 5) for k in rng.sample(SKILLS, 3)})
            for i in range(agents)
        ]  # fmt: skip
        s.add_all(staff)
        s.flush()
        s.add_all(AgentPresence(tenant_id=tenant.id, staff_id=u.id, status="online") for u in staff)
        customer = Customer(tenant_id=tenant.id, name="压测")
        s.add(customer)
        s.flush()
        now = utcnow()
        convs = [Conversation(tenant_id=tenant.id, customer_id=customer.id, channel="web") for _ in range(contacts)]
        s.add_all(convs)
        s.flush()
        s.add_all(
            QueueEntry(tenant_id=tenant.id, conversation_id=c.id, queue_id=rng.choice(rows).id,
                       priority=rng.choice(("low", "normal", "high")), channel="web",
                       waiting_since=now - timedelta(seconds=rng.randint(0, 300)), queued_at=now,
                       requirements={"skills": [rng.choice(SKILLS)]})
            for c in convs
        )  # fmt: skip
    return tenant.id


def through_db(db: Database, tenant_id: uuid.UUID) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, run in (("reconciler", lambda s: len(actions.route_waiting(s, connected=None))),
                      ("baseline", old_route_waiting)):  # fmt: skip
        t = time.perf_counter()
        try:
            with db.tenant_transaction(tenant_id) as s:
                out[f"{name}_offers"] = run(s)
                out[f"{name}_s"] = time.perf_counter() - t
                raise Rollback
        except Rollback:
            pass
    return out


def arrivals(db: Database, tenant_id: uuid.UUID, n: int) -> dict[str, float]:
    """Empty the backlog, then let ``n`` contacts arrive one by one; time each from routable to committed offer."""
    with db.tenant_transaction(tenant_id) as s:
        s.query(QueueEntry).update({QueueEntry.state: "cancelled"})
        s.query(AgentPresence).update({AgentPresence.last_offered_at: None})
    out: dict[str, float] = {}
    with db.tenant_transaction(tenant_id) as s:
        customer_id = s.scalar(select(Customer.id))
    system = system_actor(tenant_id)
    for name, run in (("engine", lambda s: actions.route_waiting(s, connected=None)), ("baseline", old_route_waiting)):
        times = []
        for _ in range(n):
            with db.tenant_transaction(tenant_id) as s:
                conv = Conversation(tenant_id=tenant_id, customer_id=customer_id, channel="web")
                s.add(conv)
                s.flush()
            t = time.perf_counter()
            with db.tenant_transaction(tenant_id) as s:
                actions.enqueue(s, system, s.get(Conversation, conv.id))  # type: ignore[arg-type]
                run(s)
            times.append(time.perf_counter() - t)
        with db.tenant_transaction(tenant_id) as s:  # free the agents for the other variant
            s.query(QueueEntry).update({QueueEntry.state: "cancelled"})
        times.sort()
        out[f"{name}_p50_ms"] = statistics.median(times) * 1000
        out[f"{name}_p99_ms"] = times[max(0, int(len(times) * 0.99) - 1)] * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--arrivals", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    e = engine_only(args.contacts, args.agents)
    print(f"engine only, {args.contacts} waiting / {args.agents} agents: "
          f"{args.contacts / e['engine_s']:,.0f} decisions/s ({e['engine_s'] * 1000:.0f} ms per pass, "
          f"{e['engine_offers']:.0f} offers); old round robin {args.contacts / e['baseline_s']:,.0f} decisions/s "
          f"({e['baseline_s'] * 1000:.0f} ms, {e['baseline_offers']:.0f} offers); "
          f"ratio {e['baseline_s'] / e['engine_s']:.2f}x")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        db = Database(url)
        t = time.perf_counter()
        tenant_id = seed(db, args.contacts, args.agents)
        print(f"seeded in {time.perf_counter() - t:.1f} s")
        d = through_db(db, tenant_id)
        print(f"reconciler pass with the DB (SQLite): {args.contacts / d['reconciler_s']:,.0f} decisions/s "
              f"({d['reconciler_s']:.2f} s, {d['reconciler_offers']:.0f} offers); old round robin "
              f"{args.contacts / d['baseline_s']:,.0f} decisions/s ({d['baseline_s']:.2f} s, "
              f"{d['baseline_offers']:.0f} offers); ratio {d['baseline_s'] / d['reconciler_s']:.2f}x")  # fmt: skip
        a = arrivals(db, tenant_id, args.arrivals)
        print(f"routable → offer committed, {args.arrivals} arrivals, {args.agents} agents online: "
              f"ACD p50 {a['engine_p50_ms']:.1f} ms p99 {a['engine_p99_ms']:.1f} ms; old round robin "
              f"p50 {a['baseline_p50_ms']:.1f} ms p99 {a['baseline_p99_ms']:.1f} ms; "
              f"p99 ratio {a['engine_p99_ms'] / a['baseline_p99_ms']:.2f}x")  # fmt: skip
        db.dispose()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
