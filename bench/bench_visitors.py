"""Creating visitors: a widget session and a first conversation each, over HTTP, as the widget does.

A server in a subprocess (embedded SQLite, one process, as ``omnidesk serve`` runs it); from this process,
``--visitors`` visitors are created with at most ``--concurrency`` in flight: ``POST /api/v1/widget/<tenant>/session``
then ``POST .../conversations`` with an opening message. Reported: visitors/s and p50/p99 of one visitor (both
calls), on a fresh server and again after ``--seed`` more customer messages are stored (in ``--seed``/10
conversations, through the one way in). Baseline, same run and server: as many ``GET /healthz``.

    .venv/bin/python bench/bench_visitors.py [--visitors 1000] [--concurrency 32] [--seed 30000] [--profile DIR]
                                              [--without-index NAME]

``--profile DIR``: the server runs bench/profiled_app.py (SQL time per statement, stack samples) and writes
DIR/fresh.txt and DIR/seeded.txt. Loopback only; every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from bench_realtime import Server, pct, prepare_tenant, server_env


async def healthz(base: str, n: int, concurrency: int) -> dict[str, float]:
    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []
    async with httpx.AsyncClient(timeout=30) as http:

        async def one() -> None:
            async with sem:
                started = time.perf_counter()
                response = await http.get(f"{base}/healthz")
                response.raise_for_status()
                times.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.perf_counter() - started
    return {"per_s": n / elapsed, "p50_ms": pct(times, 0.5), "p99_ms": pct(times, 0.99), "s": elapsed}


async def visitors(base: str, slug: str, n: int, concurrency: int) -> dict[str, float]:
    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []
    sessions: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(i: int) -> None:
            async with sem:
                started = time.perf_counter()
                session = await http.post(f"{base}/api/v1/widget/{slug}/session", json={})
                session.raise_for_status()
                opened = time.perf_counter()
                conversation = await http.post(
                    f"{base}/api/v1/widget/{slug}/conversations",
                    json={"message": f"压测访客 {i}", "client_id": f"open-{i}"},
                    headers={"Authorization": f"Bearer {session.json()['token']}"},
                )
                conversation.raise_for_status()
                times.append(time.perf_counter() - started)
                sessions.append(opened - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - started
    return {
        "per_s": n / elapsed,
        "p50_ms": pct(times, 0.5),
        "p99_ms": pct(times, 0.99),
        "session_p50_ms": pct(sessions, 0.5),
        "s": elapsed,
    }


def seed(url: str, slug: str, messages: int) -> float:
    """``messages`` customer messages, ten to a conversation, stored through the one way in (500 a batch)."""
    from sqlalchemy import select

    from omnidesk.accounts.models import Tenant
    from omnidesk.channels.base import InboundMessage, SenderIdentity, TextPart, ThreadRef
    from omnidesk.conversations.intake import receive_messages
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.wiring import install

    install()  # the intake policy, as at the server's start
    db = Database(url)
    started = time.perf_counter()
    with db.platform_transaction() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert tenant_id is not None
    run = uuid.uuid4().hex[:6]
    items = [
        InboundMessage(
            channel="sms",
            channel_message_id=f"seed-{run}-{i}",
            sender=SenderIdentity(kind="phone", value=f"+86139{i // 10:08d}"),
            parts=(TextPart(f"历史消息 {i}"),),
            thread=ThreadRef(),
        )
        for i in range(messages)
    ]
    for start in range(0, len(items), 500):
        with db.tenant_transaction(tenant_id) as s:
            receive_messages(s, system_actor(tenant_id), items[start : start + 500])
    db.dispose()
    return time.perf_counter() - started


def row(name: str, figures: dict[str, float]) -> None:
    print(f"  {name:<34} " + "  ".join(f"{k}={v:,.1f}" for k, v in figures.items()), flush=True)


def measure(label: str, url: str, slug: str, data: Path, args: argparse.Namespace) -> None:
    env = server_env(data / "server", url, None)
    app = "omnidesk.web.asgi:app"
    if args.profile:
        env["OMNIDESK_BENCH_PROFILE"] = str(Path(args.profile).resolve() / f"{label}.txt")
        app = "profiled_app:app"
    server = Server(app, env, data / f"{label}.log")
    try:
        server.wait()
        print(label, flush=True)
        row("baseline: GET /healthz", asyncio.run(healthz(server.url, args.visitors, args.concurrency)))
        row(
            "visitors (session + conversation)",
            asyncio.run(visitors(server.url, slug, args.visitors, args.concurrency)),
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=30000, help="customer messages stored before the second run")
    parser.add_argument("--profile", help="a folder for the server's SQL and stack profiles")
    parser.add_argument("--without-index", help="drop this index first (to measure what it is worth)")
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    print(
        f"bench_visitors: {args.visitors} visitors, {args.concurrency} in flight, SQLite, one server process, "
        f"{os.cpu_count()} CPUs (client on the same machine)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data / 'bench.db'}"
        slug, _ = prepare_tenant(url)
        if args.without_index:
            with sqlite3.connect(data / "bench.db") as conn:
                conn.execute(f'DROP INDEX "{args.without_index}"')
            print(f"without index {args.without_index}")
        measure("fresh", url, slug, data, args)
        if args.seed:
            print(f"seeded {args.seed:,} messages in {seed(url, slug, args.seed):.1f} s", flush=True)
            measure("seeded", url, slug, data, args)


if __name__ == "__main__":
    main()
