"""Webhook ingress: signed WhatsApp Cloud API notifications per second through one server process, and the p99
time to the acknowledgement (Meta gives up after a few seconds: the webhook answers after its one commit, with
the rest left to jobs). The health endpoint is measured in the same run, so the cost shows as a ratio.

Every request is a new customer message (a fresh ``wamid``) from one of 500 customers, signed with the app secret
(``X-Hub-Signature-256`` over the raw body, as Meta sends it); the server checks the signature, stores the message
through ``conversations.receive_messages`` and answers. SQLite embedded (WAL), one uvicorn process.

    .venv/bin/python bench/bench_webhooks_ingress.py [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-secret-key-bench-secret-key-0123456789"
APP_SECRET = "bench-whatsapp-app-secret"
CUSTOMERS = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, data_dir: Path) -> None:
    """Migrate and create the workspace ``bench`` with its WhatsApp account configured."""
    sys.path.insert(0, str(ROOT / "src"))
    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import TenantCreate
    from omnidesk.channels.providers import actions as channel_actions
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.core.settings import load_settings
    from omnidesk.security.keys import Purpose, for_purpose

    migrate.upgrade(url)
    db = Database(url)
    settings = load_settings(secret_key=SECRET_KEY, data_dir=data_dir, database_url=url, environment="development")
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(
            s, TenantCreate(slug="bench", name="Bench", admin_email="a@bench.example")
        )
    with db.tenant_transaction(tenant.id) as s:
        channel_actions.configure(s, system_actor(tenant.id), for_purpose(settings, Purpose.TENANT_SECRETS),
                                  "whatsapp", config={"phone_number_id": "106540352242922"},
                                  secrets={"app_secret": APP_SECRET, "access_token": "x", "verify_token": "y"})  # fmt: skip
    db.dispose()


def notification(n: int) -> bytes:
    wa_id = f"1650555{n % CUSTOMERS:04d}"
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": f"Customer {n % CUSTOMERS}"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.bench{n:010d}", "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": f"压测消息 load test message {n}"}}],
        }}]}],
    }  # fmt: skip
    return json.dumps(payload, separators=(",", ":")).encode()


async def load(
    url: str, seconds: float, concurrency: int, signed: bool, counter: itertools.count[int]
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                if signed:
                    raw = notification(next(counter))
                    sig = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
                    start = time.perf_counter()
                    response = await client.post(url, content=raw, headers={
                        "X-Hub-Signature-256": sig, "Content-Type": "application/json"})  # fmt: skip
                else:
                    start = time.perf_counter()
                    response = await client.get(url)
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
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
        "requests": float(len(latencies)),
        "errors": float(errors),
    }


def stored_messages(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM channel_messages WHERE channel = 'whatsapp'")).scalar_one())
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        prepare(url, Path(tmp))
        port = free_port()
        env = {**os.environ, "OMNIDESK_DATABASE_URL": url, "OMNIDESK_DATA_DIR": tmp, "OMNIDESK_SECRET_KEY": SECRET_KEY,
               "OMNIDESK_ENVIRONMENT": "development", "OMNIDESK_LOG_LEVEL": "WARNING",
               "OMNIDESK_RUN_JOBS_IN_PROCESS": "false", "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "omnidesk.web.asgi:app", "--port", str(port), "--log-level", "warning",
             "--no-access-log"], env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None:
                        raise SystemExit(f"the server exited with {server.returncode}") from None
                    time.sleep(0.1)
            counter = itertools.count()
            hook = f"{base}/api/v1/channels/whatsapp/bench/webhook"
            results = {}
            for label, target, signed in (("GET /healthz (baseline)", f"{base}/healthz", False),
                                          ("POST signed WhatsApp webhook", hook, True)):  # fmt: skip
                asyncio.run(load(target, 1.0, args.concurrency, signed, counter))  # warm-up
                results[label] = asyncio.run(load(target, args.seconds, args.concurrency, signed, counter))
        finally:
            server.terminate()
            server.wait(10)
        sent = next(counter)
        stored = stored_messages(url)
    baseline = results["GET /healthz (baseline)"]["rps"]
    print(f"\nSQLite (embedded, WAL), one server process, concurrency {args.concurrency}, {args.seconds:.0f} s each")
    print(f"  {'endpoint':<32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs baseline':>12}")
    for label, r in results.items():
        print(f"  {label:<32} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>7.0f} "
              f"{r['rps'] / baseline:>11.2f}x")  # fmt: skip
    print(f"  messages sent {sent}, stored {stored} (each once)")


if __name__ == "__main__":
    main()
