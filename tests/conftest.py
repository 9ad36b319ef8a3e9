"""Shared fixtures: one migrated database per test run, a fresh tenant per test, persona credentials.

Isolation comes from the product itself: every test gets its own tenant, so tests never see each other's rows.
SQLite is the default; ``OMNIDESK_TEST_DATABASE_URL`` runs the same suite on PostgreSQL (a fresh database per run).
``OMNIDESK_TEST_REDIS_URL`` puts the app fixtures (``app``, ``client``, ``live_server``, ``db``'s bus) on Redis:
the event bus, rate limits, log-in throttle and presence, so the same test bodies run on both backends. The run
uses a key prefix of its own (``OMNIDESK_REDIS_PREFIX``), whose keys are deleted after every test and at the end:
nothing is shared with other runs on the same Redis, and nothing else on it is touched. With
``OMNIDESK_REQUIRE_SERVICES=1`` (set by CI) a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from omnidesk import wiring
from omnidesk.core import migrate
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, load_settings
from omnidesk.demo.order_service import OrderService
from omnidesk.events.bus import make_bus
from omnidesk.security import passwords
from omnidesk.web.app import create_app
from tests.factories import World, make_world
from tests.servers import FakeOutside

T = TypeVar("T")

# Cheap argon2 parameters for the test run only: the product keeps the library's defaults. Hundreds of personas
# are hashed per run, and the cost parameters are not what the tests are about.
passwords._hasher = passwords.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# What every entry point does at start-up (tests also call actions without building an app).
wiring.install()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh loop in its own thread.

    Playwright's sync API keeps an event loop running in the main thread for the whole session, so a plain
    ``asyncio.run`` there fails once a browser test has started.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def require_service(variable: str, what: str) -> str:
    """The value of ``variable``; skip (or fail under CI) when it is unset."""
    value = os.environ.get(variable)
    if value:
        return value
    message = f"{what} not configured: set {variable} to run this test"
    if os.environ.get("OMNIDESK_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


REDIS_URL = os.environ.get("OMNIDESK_TEST_REDIS_URL") or None
REDIS_PREFIX = f"omnidesk-test-{uuid.uuid4().hex[:10]}"


def delete_redis_keys(url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` (and the job queue named after it), nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = [*client.scan_iter(match=f"{prefix}:*", count=1000), f"huey.redis.{prefix}", f"huey.epoch.{prefix}"]
        return int(client.delete(*keys))
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str | None]:
    """The Redis of this run (None: in-process twins); its keys are deleted at the end."""
    yield REDIS_URL
    if REDIS_URL:
        delete_redis_keys(REDIS_URL, REDIS_PREFIX)


@pytest.fixture(autouse=True)
def _fresh_redis_keys(redis_url: str | None) -> Iterator[None]:
    """Each test starts with no rate-limit counters, throttles or presence left by the one before."""
    yield
    if redis_url:
        delete_redis_keys(redis_url, REDIS_PREFIX)


@contextmanager
def scratch_database(base_url: str, folder: Path) -> Iterator[str]:
    """An empty database of the same kind as ``base_url``: a SQLite file, or a new PostgreSQL database."""
    if base_url.startswith("sqlite"):
        yield f"sqlite:///{folder / f'scratch-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"omnidesk_scratch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("OMNIDESK_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate.upgrade(url)
        yield url
        return
    url = load_settings(database_url=base).effective_database_url
    name = f"omnidesk_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(test_url)
    yield test_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def db(database_url: str, redis_url: str | None) -> Iterator[Database]:
    database = Database(database_url, bus=make_bus(redis_url, REDIS_PREFIX))
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def orders() -> Iterator[OrderService]:
    """Skylark's order service (the demo tenant's own system) on a free loopback port."""
    service = OrderService().start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def outside() -> Iterator[FakeOutside]:
    """A tenant's outside system (LLM endpoint, ERP) that the operator allowed; it records what it received."""
    server = FakeOutside().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    redis_url: str | None,
    orders: OrderService,
    outside: FakeOutside,
) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return load_settings(
        environment="test",
        # Loopback is closed to tenants by the outbound policy; the operator opens exactly these two test servers.
        outbound_allow=[orders.address, f"127.0.0.1:{outside.port}"],
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=REDIS_PREFIX,
        api_rate_per_minute=1_000_000,
        login_rate_per_ip=1000,
        log_json=False,
        widget_conversations_per_ip=1_000_000,
        widget_sessions_per_ip=1_000_000,
        widget_messages_per_minute=1_000_000,
        # Follow-up jobs run in the committing thread, as huey's immediate mode: a test that sends a customer
        # message sees the assistant's reply when the request returns. The queue itself is tested in tests/jobs.
        jobs_immediate=True,
    )


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db, bus=db.bus)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def world(db: Database) -> World:
    """A fresh tenant with one staff user and one API key per role, a team, a customer and a conversation."""
    return make_world(db)


@pytest.fixture
def other_world(db: Database) -> World:
    """A second, unrelated tenant: for proving that nothing crosses between tenants."""
    return make_world(db)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port, in a background thread."""
    with serve_in_thread(app) as url:
        yield url


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a daemon thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    from omnidesk.web.websocket_protocol import server_options

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **server_options())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright; never a downloaded browser. Skips (fails in CI) where absent."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("OMNIDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{CHROMIUM} is missing (install the Debian packages chromium and chromium-driver)")
        pytest.skip(f"browser tests need {CHROMIUM} (Debian package chromium); not installed here")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots and other test output worth keeping (``test-output/``, ignored by git)."""
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    return path
