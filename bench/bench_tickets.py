"""Benchmark of the tickets slice: the SLA/automation scheduler tick at 100,000 open tickets, and ticket-list
queries on SQLite and PostgreSQL, each against a baseline measured in the same run.

    python bench/bench_tickets.py            # 100,000 open tickets for the tick; 100,000 tickets for the lists
    python bench/bench_tickets.py --full     # lists at 1,000,000 tickets (bulk COPY / executemany; minutes)
    python bench/bench_tickets.py --no-postgres

Rows are generated with bulk inserts (executemany on SQLite, COPY on PostgreSQL) straight into the tables the
product uses — a benchmark fixture, not a code path. The tenant, staff, policies and rules go through the actions.
PostgreSQL is used when reachable at ``OMNIDESK_BENCH_PG`` (default postgresql://postgres@127.0.0.1:5432/postgres),
in a scratch database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import StaffCreate, TeamCreate, TenantCreate
from omnidesk.core import migrate
from omnidesk.core.actor import Actor, ActorKind, system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import load_settings
from omnidesk.jobs import tickets as jobs
from omnidesk.security import passwords
from omnidesk.security.permissions import Role
from omnidesk.tickets import admin, queries, sla
from omnidesk.tickets.models import SlaClock, Ticket
from omnidesk.tickets.schemas import PolicyIn, RuleIn
from omnidesk.tickets.states import Priority

passwords._hasher = passwords.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
STATUSES = ["new", "open", "in_progress", "pending_customer", "resolved", "closed"]
PRIORITIES = ["urgent", "high", "normal", "low"]


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    base = load_settings(
        database_url=os.environ.get("OMNIDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    url = base.effective_database_url
    name = f"omnidesk_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def postgres_available() -> bool:
    try:
        url = load_settings(
            database_url=os.environ.get("OMNIDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
        ).effective_database_url
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def setup_tenant(db: Database) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID], Actor, Actor]:
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(
            s, TenantCreate(slug=f"bench-{uuid.uuid4().hex[:8]}", name="Bench", admin_email="owner@bench.example")
        )
    system = system_actor(tenant.id)
    with db.tenant_transaction(tenant.id) as s:
        teams = [accounts.create_team(s, system, TeamCreate(name=f"team {i}")).id for i in range(4)]
        agents = []
        for i in range(20):
            user, _ = accounts.do_create_staff(
                s, system, StaffCreate(email=f"agent{i}@bench.example", display_name=f"agent {i}", role=Role.AGENT)
            )
            accounts.add_team_member(s, system, teams[i % 4], user.id)
            agents.append(user.id)
        sup, _ = accounts.do_create_staff(
            s, system, StaffCreate(email="lead@bench.example", display_name="lead", role=Role.SUPERVISOR)
        )
        for p in Priority:
            admin.put_policy(s, system, PolicyIn(priority=p, first_response_minutes=60, resolution_minutes=240))
        admin.save_rule(
            s,
            system,
            RuleIn(
                name="tag breaches", trigger={"event": "sla.breached"}, actions=[{"type": "add_tag", "tag": "breached"}]
            ),
        )
        queries.ticket_settings(s, tenant.id)
    agent = Actor(
        tenant_id=tenant.id, kind=ActorKind.STAFF, id=agents[0], role=Role.AGENT, team_ids=frozenset({teams[0]})
    )
    supervisor = Actor(tenant_id=tenant.id, kind=ActorKind.STAFF, id=sup.id, role=Role.SUPERVISOR)
    return tenant.id, teams, agents, agent, supervisor


def ticket_rows(
    tenant_id: uuid.UUID,
    teams: list[uuid.UUID],
    agents: list[uuid.UUID],
    n: int,
    start: int,
    now: datetime,
    open_only: bool,
) -> Iterator[dict[str, Any]]:
    rnd = random.Random(start)
    for i in range(n):
        created = now - timedelta(seconds=rnd.randint(60, 90 * 86400))
        status = rnd.choice(STATUSES[:4]) if open_only else rnd.choice(STATUSES)
        team = rnd.choice(teams)
        yield {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "number": start + i + 1,
            "type_key": "inquiry",
            "subject": f"工单 ticket {start + i}",
            "description": "",
            "status": status,
            "priority": rnd.choice(PRIORITIES),
            "category": None,
            "channel": "web",
            "customer_id": None,
            "conversation_id": None,
            "team_id": team,
            "assignee_id": rnd.choice(agents),
            "last_handler_id": None,
            "second_handling": False,
            "reopen_count": 0,
            "escalated": False,
            "green_channel": False,
            "custom_fields": {},
            "tags": [],
            "resolution": None,
            "root_cause": None,
            "prevention": None,
            "parent_id": None,
            "merged_into_id": None,
            "responsible_team_id": None,
            "concerned_staff_id": None,
            "appeal": {},
            "abusive": False,
            "status_changed_at": created,
            "first_responded_at": None,
            "resolved_at": None,
            "closed_at": None,
            "deleted_at": None,
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }


def bulk_insert(db: Database, table: Any, rows: Iterator[dict[str, Any]], chunk: int = 20_000) -> None:
    """executemany on SQLite; COPY on PostgreSQL."""
    buffer: list[dict[str, Any]] = []

    def flush() -> None:
        if not buffer:
            return
        if db.dialect == "postgresql":
            cols = list(buffer[0])
            with db.engine.raw_connection() as raw:  # type: ignore[attr-defined]
                with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in buffer:
                        copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()])
                raw.commit()
        else:
            with db.engine.begin() as conn:
                conn.execute(insert(table), buffer)
        buffer.clear()

    for row in rows:
        buffer.append(row)
        if len(buffer) >= chunk:
            flush()
    flush()


def clock_rows(tenant_id: uuid.UUID, ids: list[uuid.UUID], now: datetime, due: int) -> Iterator[dict[str, Any]]:
    """One running resolution clock per ticket; the first ``due`` are past their deadline, the rest in the future."""
    for i, ticket_id in enumerate(ids):
        started = now - timedelta(minutes=300 if i < due else random.randint(1, 150))
        deadline = started + timedelta(minutes=240)
        warn = started + timedelta(minutes=192)
        yield {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "ticket_id": ticket_id,
            "metric": "resolution",
            "cycle": 1,
            "target_seconds": 14400.0,
            "warn_percent": 80,
            "elapsed_seconds": 0.0,
            "running_since": started,
            "stopped_at": None,
            "deadline_at": deadline,
            "warn_at": warn,
            "due_at": deadline if i < due else (warn if warn > now else deadline),
            "warned_at": now if i < due else None,
            "breached_at": None,
            "met": None,
        }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def bench_tick(kind: str, n: int, due: int) -> None:
    with database(kind) as url:
        migrate.upgrade(url)
        db = Database(url)
        tenant_id, teams, agents, _, _ = setup_tenant(db)
        now = datetime.now(UTC)
        gen_s, _ = timed(
            lambda: bulk_insert(db, Ticket.__table__, ticket_rows(tenant_id, teams, agents, n, 0, now, True))
        )
        with db.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM tickets"))]
        ids = [uuid.UUID(str(i)) if not isinstance(i, uuid.UUID) else i for i in ids]
        # Twice ``due`` past their deadline: one tick is timed, the next (as many) runs under tracemalloc, which
        # slows Python-heavy code two- to threefold and so must not be on the timed one.
        bulk_insert(db, SlaClock.__table__, clock_rows(tenant_id, ids, now, 2 * due))
        if kind == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        print(
            f"[{kind}] generated {n:,} open tickets + clocks in {gen_s:.1f}s (tickets), {due:,} past their deadline (twice that for the memory tick)"
        )

        def naive() -> int:
            # Baseline: what a scheduler without stored deadlines does — load every running clock, compute in Python.
            cal = sla.always()
            with db.platform_transaction() as s:
                rows = s.execute(
                    text(
                        "SELECT running_since, elapsed_seconds, target_seconds FROM sla_clocks "
                        "WHERE stopped_at IS NULL AND running_since IS NOT NULL"
                    )
                ).all()
            count = 0
            for started, elapsed, target in rows:
                started = started if isinstance(started, datetime) else datetime.fromisoformat(started)
                started = started.replace(tzinfo=UTC) if started.tzinfo is None else started
                if sla.elapsed(cal, sla.Clock(target, elapsed, started), now) >= target:
                    count += 1
            return count

        naive_s, naive_found = timed(naive)
        tick_s, counts = timed(lambda: jobs.tick(db, now, batch=due))
        tracemalloc.start()
        jobs.tick(db, now, batch=due)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        idle_s, idle = timed(lambda: jobs.tick(db, now))
        print(f"[{kind}] baseline full scan (no stored deadlines): {naive_s * 1000:8.1f} ms, found {naive_found:,} due")
        print(
            f"[{kind}] tick acting on {counts['breaches']:,} breaches: {tick_s * 1000:8.1f} ms "
            f"({tick_s / max(counts['breaches'], 1) * 1000:.2f} ms per breach), notices {counts['notices']}, "
            f"rules fired {counts['rules']}; Python peak of such a tick {peak / 1e6:.1f} MB"
        )
        print(
            f"[{kind}] idle tick (nothing due, indexed query only): {idle_s * 1000:8.1f} ms, acted {idle['breaches']}"
        )
        db.dispose()


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"


def bench_lists(kind: str, n: int, reps: int) -> None:
    with database(kind) as url:
        migrate.upgrade(url)
        db = Database(url)
        tenant_id, teams, agents, agent, supervisor = setup_tenant(db)
        now = datetime.now(UTC)
        gen_s, _ = timed(
            lambda: bulk_insert(db, Ticket.__table__, ticket_rows(tenant_id, teams, agents, n, 0, now, False))
        )
        if kind == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        print(f"[{kind}] generated {n:,} tickets in {gen_s:.1f}s")
        with db.engine.connect() as conn:
            some_id = conn.execute(text("SELECT id FROM tickets LIMIT 1")).scalar_one()
        some_id = some_id if isinstance(some_id, uuid.UUID) else uuid.UUID(str(some_id))
        with db.tenant_transaction(tenant_id) as s:
            first, _ = queries.list_tickets(s, supervisor, filters={}, cursor=None, limit=50)
            from omnidesk.core.pagination import encode_cursor

            cursor = encode_cursor(first[-1].created_at, first[-1].id)

        cases: list[tuple[str, Callable[[Any], Any]]] = [
            ("baseline: one ticket by id", lambda s: queries.get_ticket(s, supervisor, some_id)),
            (
                "newest 50 (supervisor)",
                lambda s: queries.list_tickets(s, supervisor, filters={}, cursor=None, limit=50),
            ),
            ("page 2 by cursor", lambda s: queries.list_tickets(s, supervisor, filters={}, cursor=cursor, limit=50)),
            (
                "status=open",
                lambda s: queries.list_tickets(s, supervisor, filters={"status": "open"}, cursor=None, limit=50),
            ),
            (
                "team + status",
                lambda s: queries.list_tickets(
                    s, supervisor, filters={"team_id": teams[1], "status": "in_progress"}, cursor=None, limit=50
                ),
            ),
            (
                "agent: assigned to me",
                lambda s: queries.list_tickets(s, agent, filters={"assignee": "me"}, cursor=None, limit=50),
            ),
            ("agent: visible newest 50", lambda s: queries.list_tickets(s, agent, filters={}, cursor=None, limit=50)),
        ]
        for name, fn in cases:
            samples = []
            for _ in range(reps):
                t0 = time.perf_counter()
                with db.tenant_transaction(tenant_id) as s:
                    fn(s)
                samples.append(time.perf_counter() - t0)
            print(f"[{kind}] {name:28s} {percentiles(samples)}")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="ticket lists at 1,000,000 tickets")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--tick-tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--list-tickets", type=int, default=None)
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args()
    list_n = args.list_tickets or (1_000_000 if args.full else 100_000)
    kinds = ["sqlite"] + ([] if args.no_postgres or not postgres_available() else ["postgresql"])
    print(
        f"tickets benchmark: tick at {args.tick_tickets:,} open tickets ({args.due:,} due), lists at {list_n:,} "
        f"tickets, {args.reps} repetitions, on {', '.join(kinds)}"
    )
    for kind in kinds:
        bench_tick(kind, args.tick_tickets, args.due)
        bench_lists(kind, list_n, args.reps)
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
