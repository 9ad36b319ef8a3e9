"""The day-one reports (``analytics.reports.build``) over a month of conversations, on SQLite and PostgreSQL.

Seeds one tenant with ``--conversations`` conversations spread over 30 days (each with a customer message, most
with an agent reply, half resolved, a fifth rated, a third taken by the assistant) plus the same again in a second
tenant, then times the whole report for a 7-day and a 30-day range. Baseline, in the same run: one
``count(*)`` over the same range (the cheapest query that touches the same rows).

    .venv/bin/python bench/bench_reports.py [--conversations 50000] [--repeat 5] [--no-postgres]
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

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
PG_BASE = os.environ.get("OMNIDESK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def seed(db: object, tenant_id: uuid.UUID, n: int, end: datetime) -> None:
    from omnidesk.bot.models import BotConversation
    from omnidesk.conversations.models import Conversation, ConversationRating, Message
    from omnidesk.customers.models import Customer

    rng = random.Random(7)
    customer = uuid.uuid4()
    conversations, messages, ratings, bots = [], [], [], []
    for i in range(n):
        cid = uuid.uuid4()
        start = end - timedelta(seconds=rng.randrange(30 * 86400))
        resolved = i % 2 == 0
        conversations.append({
            "id": cid, "tenant_id": tenant_id, "customer_id": customer, "channel": rng.choice(["web", "email", "wechat"]),
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
        if i % 3 == 0:
            bots.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid,
                         "handled_by": rng.choice(["bot", "human"]), "state": {}, "attempts": [],
                         "updated_at": start})  # fmt: skip
    with db.tenant_transaction(tenant_id) as s:  # type: ignore[attr-defined]
        s.execute(insert(Customer), [{"id": customer, "tenant_id": tenant_id, "name": "bench", "tags": [],
                                      "attributes": {}, "notes": "", "created_at": end, "updated_at": end}])  # fmt: skip
        for model, rows in ((Conversation, conversations), (Message, messages), (ConversationRating, ratings),
                            (BotConversation, bots)):  # fmt: skip
            for k in range(0, len(rows), 5000):
                s.execute(insert(model), rows[k : k + 5000])


def run(url: str, n: int, repeat: int) -> None:
    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import TenantCreate
    from omnidesk.analytics import reports
    from omnidesk.core import migrate
    from omnidesk.core.actor import Actor, ActorKind
    from omnidesk.core.db import Database
    from omnidesk.security.permissions import Role

    migrate.upgrade(url)
    db = Database(url)
    tenants = []
    for _ in range(2):
        with db.platform_transaction() as s:
            tenant, _admin, _ = accounts.create_tenant(
                s, TenantCreate(slug=f"b-{uuid.uuid4().hex[:10]}", name="bench", admin_email="a@bench.example")
            )
            tenants.append(tenant.id)
    end = datetime(2026, 3, 31, 16, tzinfo=UTC)
    t0 = time.perf_counter()
    for tenant_id in tenants:
        seed(db, tenant_id, n, end)
    if db.engine.dialect.name == "postgresql":
        # Bulk-loaded rows have no planner statistics until autovacuum's analyze runs; a live database has them.
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    print(f"  seeded 2 × {n} conversations in {time.perf_counter() - t0:.1f} s")
    actor = Actor(tenant_id=tenants[0], kind=ActorKind.STAFF, id=uuid.uuid4(), role=Role.SUPERVISOR)
    for days in (7, 30):
        span = reports.period("Asia/Shanghai", date(2026, 4, 1) - timedelta(days=days), date(2026, 3, 31))
        timings, baseline = [], []
        for _ in range(repeat):
            with db.tenant_read(tenants[0]) as s:
                t = time.perf_counter()
                s.scalar(select(func.count()).where(reports._in_span(tenants[0], span)))
                baseline.append(time.perf_counter() - t)
                t = time.perf_counter()
                r = reports.build(s, actor, span)
                timings.append(time.perf_counter() - t)
        print(f"  {days:>2} days: {r.total:>6} conversations  report median {statistics.median(timings) * 1000:7.1f} ms"
              f"  (baseline count(*) {statistics.median(baseline) * 1000:6.1f} ms)")  # fmt: skip
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    import omnidesk.models  # noqa: F401  (every model registered)

    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        run(f"sqlite:///{tmp}/bench.db", args.conversations, args.repeat)
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
        run(make_url(PG_BASE).set(database=name).render_as_string(hide_password=False), args.conversations, args.repeat)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
