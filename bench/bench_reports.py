"""The day-one reports (``analytics.reports.build``) over a month of conversations, on SQLite and PostgreSQL.

Seeds one tenant with ``--conversations`` conversations spread over 30 days (each with a customer message, most
with an agent reply, half resolved, a fifth rated, a third taken by the assistant) plus the same again in a second
tenant, then times the whole report for a 7-day and a 30-day range. Baseline, in the same run: one
``count(*)`` over the same range (the cheapest query that touches the same rows).

Then the interval tables (``analytics.rollup``, timed once as a load step) and the catalogue report read from
them over the whole range (every metric for the tenant, per channel and per day), against the same figures from
the raw rows (the day-one SQL report, and the catalogue's own per-conversation rules over raw rows); and the
wallboard's refresh (one query set, uncached and cached) with 500 agents online.

    .venv/bin/python bench/bench_reports.py [--conversations 50000] [--days 30] [--repeat 5] [--no-postgres]
    .venv/bin/python bench/bench_reports.py --conversations 1000000 --days 365 --repeat 3   # the 1M figure
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
PG_BASE = os.environ.get("OMNIDESK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def seed(db: object, tenant_id: uuid.UUID, n: int, end: datetime, days: int = 30) -> None:
    from omnidesk.bot.models import BotConversation
    from omnidesk.conversations.models import Conversation, ConversationRating, Message
    from omnidesk.customers.models import Customer
    from omnidesk.routing.models import QueueEntry

    rng = random.Random(7)
    customers = [uuid.uuid4() for _ in range(max(1, n // 3))]
    conversations, messages, ratings, bots, queue = [], [], [], [], []
    for i in range(n):
        cid = uuid.uuid4()
        start = end - timedelta(seconds=rng.randrange(days * 86400))
        resolved = i % 2 == 0
        conversations.append({
            "id": cid, "tenant_id": tenant_id, "customer_id": rng.choice(customers), "channel": rng.choice(["web", "email", "wechat"]),
            "subject": "", "status": "resolved" if resolved else "open", "priority": "normal", "tags": [],
            "attributes": {}, "last_seq": 2, "version": 1, "created_at": start, "updated_at": start,
            "resolved_at": start + timedelta(seconds=rng.randrange(60, 86400)) if resolved else None,
        })  # fmt: skip
        messages.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid, "seq": 1,
                         "sender_type": "customer", "body": "hi", "payload": {}, "created_at": start})  # fmt: skip
        if i % 4:
            at = start + timedelta(seconds=rng.randrange(5, 3600))
            messages.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid, "seq": 2,
                             "sender_type": "agent", "body": "hello", "payload": {}, "created_at": at})  # fmt: skip
        if resolved and i % 5 == 0:
            ratings.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid,
                            "score": rng.randint(1, 5), "comment": "", "created_at": start})  # fmt: skip
        if i % 3 == 1:
            answered = i % 4 != 0
            queue.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid, "priority": "normal",
                          "state": "assigned" if answered else "cancelled", "waiting_since": start,
                          "assigned_at": start + timedelta(seconds=rng.randrange(1, 120)) if answered else None,
                          "declined_by": [], "version": 1})  # fmt: skip
        if i % 3 == 0:
            bots.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid,
                         "handled_by": rng.choice(["bot", "human"]), "state": {}, "attempts": [],
                         "updated_at": start})  # fmt: skip
    with db.tenant_transaction(tenant_id) as s:  # type: ignore[attr-defined]
        people = [{"id": c, "tenant_id": tenant_id, "name": "bench", "tags": [], "attributes": {}, "notes": "",
                   "created_at": end, "updated_at": end} for c in customers]  # fmt: skip
        for model, rows in ((Customer, people), (Conversation, conversations), (Message, messages),
                            (ConversationRating, ratings), (BotConversation, bots), (QueueEntry, queue)):  # fmt: skip
            for k in range(0, len(rows), 5000):
                s.execute(insert(model), rows[k : k + 5000])


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms"


def seed_agents(db: object, tenant_id: uuid.UUID, agents: int, waiting: int, now: datetime) -> None:
    """``agents`` staff online (presence rows) and ``waiting`` customers in the queue now, plus today's queue."""
    from omnidesk.accounts.models import StaffUser
    from omnidesk.conversations.models import Conversation
    from omnidesk.customers.models import Customer
    from omnidesk.routing.models import AgentPresence, QueueEntry

    rng = random.Random(11)
    staff = [{"id": uuid.uuid4(), "tenant_id": tenant_id, "email": f"a{i}@bench.example", "display_name": f"A{i}",
              "role": "agent", "skills": []} for i in range(agents)]  # fmt: skip
    presence = [{"id": uuid.uuid4(), "tenant_id": tenant_id, "staff_id": p["id"],
                 "status": rng.choice(["online"] * 8 + ["away"]), "changed_at": now} for p in staff]  # fmt: skip
    customer = uuid.uuid4()
    conversations, queue = [], []
    for i in range(waiting + 2000):
        cid = uuid.uuid4()
        start = now - timedelta(seconds=rng.randrange(1, 8 * 3600))
        conversations.append({"id": cid, "tenant_id": tenant_id, "customer_id": customer, "channel": "web",
                              "subject": "", "status": "open", "priority": "normal", "tags": [], "attributes": {},
                              "last_seq": 0, "version": 1, "created_at": start, "updated_at": start})  # fmt: skip
        state = "waiting" if i < waiting else rng.choice(["assigned"] * 9 + ["cancelled"])
        queue.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid, "priority": "normal",
                      "state": state, "waiting_since": start, "declined_by": [], "version": 1,
                      "assigned_at": start + timedelta(seconds=rng.randrange(1, 90)) if state == "assigned" else None})  # fmt: skip
    with db.tenant_transaction(tenant_id) as s:  # type: ignore[attr-defined]
        s.execute(insert(Customer), [{"id": customer, "tenant_id": tenant_id, "name": "wall", "tags": [],
                                      "attributes": {}, "notes": "", "created_at": now, "updated_at": now}])  # fmt: skip
        for model, rows in ((StaffUser, staff), (AgentPresence, presence), (Conversation, conversations),
                            (QueueEntry, queue)):  # fmt: skip
            for k in range(0, len(rows), 5000):
                s.execute(insert(model), rows[k : k + 5000])


def run(url: str, n: int, repeat: int, days: int) -> None:
    from zoneinfo import ZoneInfo

    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import TenantCreate
    from omnidesk.analytics import intervals, live, reports, rollup
    from omnidesk.analytics.metrics import Policy, summarize
    from omnidesk.core import migrate
    from omnidesk.core.actor import Actor, ActorKind
    from omnidesk.core.db import Database
    from omnidesk.security.permissions import Role

    migrate.upgrade(url)
    db = Database(url)
    tenants = []
    for _ in range(3):
        with db.platform_transaction() as s:
            tenant, _admin, _ = accounts.create_tenant(
                s, TenantCreate(slug=f"b-{uuid.uuid4().hex[:10]}", name="bench", admin_email="a@bench.example")
            )
            tenants.append(tenant.id)
    end = datetime(2026, 3, 31, 16, tzinfo=UTC)
    t0 = time.perf_counter()
    seed(db, tenants[0], n, end, days)
    seed(db, tenants[1], min(n, 20_000), end, days)  # a neighbour whose rows every query must skip
    if db.engine.dialect.name == "postgresql":
        # Bulk-loaded rows have no planner statistics until autovacuum's analyze runs; a live database has them.
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    print(f"  load: {n} + {min(n, 20_000)} conversations (bulk INSERT) in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    recomputed = rollup.run_tenant(db, tenants[0], now=end)
    print(f"  load: first rollup into the interval tables, {recomputed} days, in {time.perf_counter() - t0:.1f} s")
    actor = Actor(tenant_id=tenants[0], kind=ActorKind.STAFF, id=uuid.uuid4(), role=Role.SUPERVISOR)
    zone = ZoneInfo("Asia/Shanghai")
    span = reports.period("Asia/Shanghai", date(2026, 4, 1) - timedelta(days=min(days, 366)), date(2026, 3, 31))
    fast, raw_sql = [], []
    for _ in range(repeat):
        with db.tenant_read(tenants[0]) as s:
            t = time.perf_counter()
            total = intervals.totals(s, tenants[0], span.start, span.end)[""]
            figures = summarize(total)
            intervals.totals(s, tenants[0], span.start, span.end, "channel")
            intervals.totals(s, tenants[0], span.start, span.end, "agent")
            intervals.series(s, tenants[0], span.start, span.end, "1d")
            fast.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = reports.build(s, actor, span)
            raw_sql.append(time.perf_counter() - t)
    print(f"  {total.conversations} conversations over {days} days: catalogue report from interval tables"
          f" {_ms(fast)}; day-one SQL report on raw rows {_ms(raw_sql)} (ratio {statistics.median(raw_sql) / statistics.median(fast):.0f}x);"
          f" {r.total} counted both ways")  # fmt: skip
    assert r.total == total.conversations
    if n <= 200_000:
        with db.tenant_read(tenants[0]) as s:
            t = time.perf_counter()
            raw = intervals.raw_totals(s, tenants[0], span.start, span.end, Policy())
            took = time.perf_counter() - t
        differ = {k: (v, figures[k]) for k, v in summarize(raw).items() if v != figures[k]}
        assert not differ, f"interval tables and raw rows disagree: {differ}"
        print(f"  the same catalogue figures from raw rows (per-conversation rules): {took * 1000:8.1f} ms"
              f" (ratio {took / statistics.median(fast):.0f}x), equal to the interval tables")  # fmt: skip
    now = datetime.now(UTC)
    seed_agents(db, tenants[2], 500, 150, now)
    cold = []
    for _ in range(repeat):
        with db.tenant_read(tenants[2]) as s:
            t = time.perf_counter()
            board = live.wallboard(s, tenants[2], now, zone)
            cold.append(time.perf_counter() - t)
    cache = live.TtlCache(ttl=5.0)
    t = time.perf_counter()
    for _ in range(1000):
        cache.get(tenants[2], lambda: board)
    cached = (time.perf_counter() - t) / 1000
    print(f"  wallboard, {sum(board.agents.values())} agents ({board.agents['online']} online), {board.waiting} waiting:"
          f" one refresh (3 queries) {_ms(cold)}; a cached view {cached * 1e6:.1f} µs: any number of viewers cost"
          f" one refresh per tenant per {live.TTL:g} s and process")  # fmt: skip
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    import omnidesk.models  # noqa: F401  (every model registered)

    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        run(f"sqlite:///{tmp}/bench.db", args.conversations, args.repeat, args.days)
    if args.no_postgres:
        return
    name = f"omnidesk_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no PostgreSQL here: say so and stop
        print(f"PostgreSQL skipped: {exc.__class__.__name__}")
        return
    try:
        print("PostgreSQL")
        run(
            make_url(PG_BASE).set(database=name).render_as_string(hide_password=False),
            args.conversations,
            args.repeat,
            args.days,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
