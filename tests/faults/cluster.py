"""Real processes for the fault tests: `omnidesk worker` processes, a Redis server of the test's own (on a free
port in a temporary directory: the machine's Redis is never restarted) and a webhook receiver that counts what it
receives per delivery id and can be slowed down, so a process can be killed while deliveries are in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from omnidesk.channels.base import TextPart
from omnidesk.channels.widget.adapter import inbound
from omnidesk.conversations.intake import receive_messages
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.outbound import OutboundPolicy
from omnidesk.webhooks import actions as webhooks
from omnidesk.webhooks.schemas import SubscriptionIn
from tests.factories import World
from tests.servers import free_port

SRC = Path(__file__).resolve().parents[2] / "src"
REDIS_SERVER = "/usr/bin/redis-server"


def wait_for(check: Callable[[], bool], seconds: float, what: str, logs: list[Path] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {p.name}:\n{p.read_text()[-3000:]}" for p in logs or [] if p.exists())
            raise AssertionError(f"{what} not reached in {seconds} s{tails}")
        time.sleep(0.02)


@dataclass
class Receiver:
    """A webhook endpoint: counts requests per ``OmniDesk-Delivery`` id, keeps each id's bodies, and knows which
    deliveries are in flight (their request arrived, the answer not yet sent); answers 200 after ``delay``."""

    delay: float = 0.0
    port: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, set[bytes]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = self.headers.get("OmniDesk-Delivery", "")
                with state.lock:
                    state.counts[delivery] += 1
                    state.bodies.setdefault(delivery, set()).add(body)
                    state.in_flight.add(delivery)
                time.sleep(state.delay)
                with state.lock:
                    state.in_flight.discard(delivery)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender died while we waited: exactly the case under test

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def seen(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)


def subscribe(db: Database, settings: Settings, tenant_id: uuid.UUID, url: str, types: list[str]) -> None:
    """A webhook subscription, as an admin creates it (the receiver's address opened by the operator)."""
    host_port = url.split("/")[2]
    policy = OutboundPolicy.from_settings(settings.model_copy(update={"outbound_allow": [host_port]}))
    with db.tenant_transaction(tenant_id) as s:
        webhooks.create(
            s, system_actor(tenant_id), SubscriptionIn(url=url, event_types=types), policy,
            for_purpose(settings, Purpose.TENANT_SECRETS),
        )  # fmt: skip


def customer_messages(db: Database, world: World, count: int, prefix: str = "m") -> list[str]:
    """``count`` customer messages, each opening a conversation of its own, stored as the widget's socket stores
    them (one batch); returns their channel message ids."""
    ids = [f"{prefix}-{uuid.uuid4().hex}" for _ in range(count)]
    items = [
        inbound(world.customer.id, uuid.uuid4(), cid, [TextPart(f"消息 {cid}")], ip=None, opening=True) for cid in ids
    ]
    with db.tenant_transaction(world.tenant_id) as s:
        receive_messages(s, system_actor(world.tenant_id), items)
    return ids


def process_env(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a cluster process on the test's database; OMNIDESK_* of the caller do not leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIDESK_") or k.startswith("OMNIDESK_TEST_")}
    env.update(
        {
            "PYTHONPATH": str(SRC),
            "OMNIDESK_ENVIRONMENT": "test",
            "OMNIDESK_DATABASE_URL": settings.effective_database_url,
            "OMNIDESK_DATA_DIR": str(data_dir),
            "OMNIDESK_SECRET_KEY": settings.effective_secret_key,
            "OMNIDESK_BOT_ENCODER": "none",
            "OMNIDESK_JOB_LEASE_SECONDS": "1",
            "OMNIDESK_JOB_REDELIVER_SECONDS": "2",
            "OMNIDESK_BOT_TURN_MAX_LAG_SECONDS": "600",
            "OMNIDESK_LOG_LEVEL": "WARNING",
            "OMNIDESK_LOG_JSON": "false",
        }
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "omnidesk.cli", "worker", "--threads", "2", *args], env=env, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class RedisServer:
    """A redis-server of the test's own, without persistence: a restart loses everything it held (huey's queue
    included), as a real crash of an unpersisted Redis does."""

    def __init__(self, folder: Path) -> None:
        if not Path(REDIS_SERVER).exists():
            if os.environ.get("OMNIDESK_REQUIRE_SERVICES") == "1":
                pytest.fail(f"{REDIS_SERVER} is missing (Debian package redis-server)")
            pytest.skip(f"needs {REDIS_SERVER} (Debian package redis-server)")
        self.port = free_port()
        self.folder = folder
        self.log = folder / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import redis

        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(self.folder), "--daemonize", "no"]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(up, 10, "redis-server answering", [self.log])
        client.close()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
