"""API throughput and latency: list conversations and post messages, on SQLite and PostgreSQL.

The server runs as its own process (uvicorn); this process generates the load. A trivial endpoint (/healthz) is
measured in the same run so framework and database costs show as ratios.

    .venv/bin/python bench/bench_api.py [--seconds 5] [--concurrency 16] [--conversations 2000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("OMNIDESK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, conversations: int) -> tuple[str, str]:
    """Migrate, create a tenant with an admin key and ``conversations`` conversations; return (key, conv id)."""
    sys.path.insert(0, str(ROOT / "src"))
    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import ApiKeyCreate, TenantCreate
    from omnidesk.conversations import actions as conv_actions
    from omnidesk.conversations.schemas import ConversationCreate
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.customers import actions as cust_actions
    from omnidesk.customers.schemas import CustomerCreate
    from omnidesk.security.permissions import Role

    migrate.upgrade(url)
    db = Database(url)
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(
            s, TenantCreate(slug="bench", name="Bench", admin_email="a@bench.example")
        )
    system = system_actor(tenant.id)
    with db.tenant_transaction(tenant.id) as s:
        _, key = accounts.do_create_api_key(s, system, ApiKeyCreate(name="bench", role=Role.ADMIN))
        customer = cust_actions.create_customer(s, system, CustomerCreate(name="压测客户"))
        first = None
        for i in range(conversations):
            conv = conv_actions.open_conversation(
                s,
                system,
                ConversationCreate(customer_id=customer.id, channel="web", subject=f"会话 {i}", message="你好"),
            )
            first = first or conv
    db.dispose()
    assert first is not None
    return key, str(first.id)


async def load(
    method: str, url: str, headers: dict[str, str], seconds: float, concurrency: int, body: dict[str, str] | None
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.request(method, url, json=body)
                latencies.append(time.perf_counter() - start)
                if response.status_code >= 400:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "requests": float(len(latencies)),
        "errors": float(errors),
    }


def run_backend(name: str, url: str, args: argparse.Namespace, data_dir: Path) -> None:
    key, conv_id = prepare(url, args.conversations)
    port = free_port()
    env = {
        **os.environ,
        "OMNIDESK_DATABASE_URL": url,
        "OMNIDESK_DATA_DIR": str(data_dir),
        "OMNIDESK_ENVIRONMENT": "development",
        "OMNIDESK_API_RATE_PER_MINUTE": "10000000",
        "OMNIDESK_LOG_LEVEL": "WARNING",
        "OMNIDESK_RUN_JOBS_IN_PROCESS": "false",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "omnidesk.web.asgi:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise SystemExit(f"the server exited with {server.returncode}") from None
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {key}"}
        cases = [
            ("trivial GET /healthz", "GET", f"{base}/healthz", None),
            ("GET /api/v1/conversations?limit=50", "GET", f"{base}/api/v1/conversations?limit=50", None),
            (
                "POST /api/v1/conversations/{id}/messages",
                "POST",
                f"{base}/api/v1/conversations/{conv_id}/messages",
                {"body": "压测消息 load test message"},
            ),
        ]
        results = {}
        for label, method, target, body in cases:
            asyncio.run(load(method, target, headers, 1.0, args.concurrency, body))  # warm-up
            results[label] = asyncio.run(load(method, target, headers, args.seconds, args.concurrency, body))
        baseline = results["trivial GET /healthz"]
        print(
            f"\n{name}  ({args.conversations} conversations, concurrency {args.concurrency}, {args.seconds:.0f} s each)"
        )
        print(f"  {'endpoint':<44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'req/s vs trivial':>17}")
        for label, r in results.items():
            ratio = r["rps"] / baseline["rps"]
            print(
                f"  {label:<44} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>7.0f} {ratio:>16.2f}x"
            )
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_backend("SQLite (embedded, WAL)", f"sqlite:///{tmp}/bench.db", args, Path(tmp))
        if args.no_postgres:
            return
        name = f"omnidesk_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"\nPostgreSQL unavailable ({type(exc).__name__}); skipped")
            return
        try:
            url = make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
            run_backend("PostgreSQL", url, args, Path(tmp))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
