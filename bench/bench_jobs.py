"""Benchmark of the job queue: jobs/s through enqueue-in-transaction → run → marked done, and the lag from the
enqueueing commit to the job's start (p50/p99), embedded (SQLite + huey's SQLite queue) and clustered (Redis
queue, PostgreSQL when reachable), each against a baseline measured in the same process: the same no-op jobs
handed to the same number of threads through an in-memory queue (no durability, no database).

    python bench/bench_jobs.py                  # 2,000 jobs for throughput, 100 jobs/s for 5 s for the lag
    python bench/bench_jobs.py --jobs 5000 --rate 200

Redis: ``OMNIDESK_BENCH_REDIS_URL`` (else ``OMNIDESK_TEST_REDIS_URL``, else redis://127.0.0.1:6379/0) when reachable.
PostgreSQL: ``OMNIDESK_BENCH_PG`` (default postgresql://postgres@127.0.0.1:5432/postgres) when reachable, in a
scratch database dropped afterwards. Each run stays well under a minute.
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import TenantCreate
from omnidesk.core import migrate
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, load_settings
from omnidesk.jobs import registry
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job, JobState
from omnidesk.jobs.outbox import enqueue, enqueue_many
from omnidesk.jobs.queue import JobQueue, make_huey
from omnidesk.security import passwords

passwords._hasher = passwords.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

STARTED: dict[str, float] = {}
COMMITTED: dict[str, float] = {}
_lock = threading.Lock()
WORKERS = 2


@registry.job("bench.noop")
def noop(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    with _lock:
        STARTED[payload["k"]] = time.time()


def pg_url() -> str:
    return load_settings(
        database_url=os.environ.get("OMNIDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    ).effective_database_url


def reachable_postgres() -> bool:
    try:
        engine = create_engine(pg_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def redis_url() -> str | None:
    url = (
        os.environ.get("OMNIDESK_BENCH_REDIS_URL")
        or os.environ.get("OMNIDESK_TEST_REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return url
    except Exception:
        return None


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"omnidesk_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"


def wait_done(db: Database, total: int, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.platform_read() as s:
            done = s.scalar(select(func.count()).where(Job.kind == "bench.noop", Job.state == JobState.DONE)) or 0
        if done >= total:
            return time.monotonic()
        time.sleep(0.02)
    raise TimeoutError(f"only {done} of {total} jobs done after {timeout} s")


def run_mode(label: str, db_kind: str, queue_redis: str | None, jobs: int, rate: int, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as folder, database(db_kind, Path(folder)) as url:
        migrate.upgrade(url)
        db = Database(url)
        with db.platform_transaction() as s:
            tenant, _, _ = accounts.create_tenant(
                s, TenantCreate(slug=f"b{uuid.uuid4().hex[:8]}", name="bench", admin_email="a@bench.example")
            )
            tenant_id = tenant.id
        settings: Settings = load_settings(
            environment="test", data_dir=Path(folder), database_url=url, redis_url=queue_redis, log_json=False
        )
        name = f"bench{uuid.uuid4().hex[:8]}"
        jq = JobQueue(JobContext(db, settings), huey=make_huey(settings, name=name), workers=WORKERS, immediate=False)
        jq.start(consume=True)
        try:
            # Throughput: transactions of 20 (a busy intake's batch), as fast as the producer can commit.
            STARTED.clear()
            start = time.monotonic()
            for first in range(0, jobs, 20):
                with db.tenant_transaction(tenant_id) as s:
                    enqueue_many(s, "bench.noop", [(f"t{n}", {"k": f"t{n}"}) for n in range(first, first + 20)])
            end = wait_done(db, jobs)
            throughput = jobs / (end - start)
            print(f"[{label}] {jobs:,} jobs enqueue-in-transaction → run → done: {throughput:8.0f} jobs/s")
            # Lag: one job per transaction at a steady rate, commit → start.
            STARTED.clear()
            COMMITTED.clear()
            count = int(rate * seconds)
            begin = time.monotonic()
            for n in range(count):
                pause = begin + n / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                with db.tenant_transaction(tenant_id) as s:
                    enqueue(s, "bench.noop", {"k": f"l{n}"}, key=f"l{n}")
                COMMITTED[f"l{n}"] = time.time()
            wait_done(db, jobs + count)
            lags = [STARTED[k] - COMMITTED[k] for k in COMMITTED]
            print(f"[{label}] lag commit → start at {rate} jobs/s ({count} jobs): {percentiles(lags)}")
        finally:
            jq.stop()
            jq.huey.storage.flush_all() if queue_redis else None
            db.dispose()
    return throughput


def baseline(jobs: int, rate: int, seconds: float) -> float:
    """The same no-op work through an in-memory queue and WORKERS threads: what a job system costs at the least."""
    work: queue.Queue[tuple[str, float] | None] = queue.Queue()
    started: dict[str, float] = {}
    done = threading.Semaphore(0)

    def worker() -> None:
        while (item := work.get()) is not None:
            started[item[0]] = time.time()
            done.release()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    start = time.monotonic()
    for n in range(jobs):
        work.put((f"t{n}", time.time()))
    for _ in range(jobs):
        done.acquire()
    throughput = jobs / (time.monotonic() - start)
    print(f"[baseline: in-memory queue, {WORKERS} threads] {jobs:,} no-op jobs: {throughput:8.0f} jobs/s")
    count = int(rate * seconds)
    committed: dict[str, float] = {}
    begin = time.monotonic()
    for n in range(count):
        pause = begin + n / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        committed[f"l{n}"] = time.time()
        work.put((f"l{n}", committed[f"l{n}"]))
    for _ in range(count):
        done.acquire()
    print(f"[baseline] lag put → start at {rate} jobs/s: {percentiles([started[k] - committed[k] for k in committed])}")
    for _ in threads:
        work.put(None)
    return throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=100, help="jobs/s offered for the lag measurement")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    redis = redis_url()
    pg = reachable_postgres()
    print(
        f"job queue benchmark: {args.jobs:,} jobs for throughput, {args.rate}/s for {args.seconds:.0f} s for the lag, "
        f"{WORKERS} job threads; Redis {'yes' if redis else 'not reachable'}, PostgreSQL {'yes' if pg else 'no'}"
    )
    base = baseline(args.jobs, args.rate, args.seconds)
    modes = [("embedded: SQLite + SqliteHuey", "sqlite", None)]
    if redis:
        modes.append(
            ("cluster: PostgreSQL + Redis" if pg else "SQLite + Redis", "postgresql" if pg else "sqlite", redis)
        )
    for label, db_kind, queue_redis in modes:
        throughput = run_mode(label, db_kind, queue_redis, args.jobs, args.rate, args.seconds)
        print(f"[{label}] ratio to the in-memory baseline: {throughput / base:.4f}")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
