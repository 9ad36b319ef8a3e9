"""A real webhook receiver on loopback (opened to tenants by the operator's OMNIDESK_OUTBOUND_ALLOW in these
settings only) and an app that may deliver to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.web.app import create_app
from omnidesk.webhooks.signing import verify
from tests.conftest import serve_in_thread


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """Checks each request's signature with the secret registered for its path, as a real receiver would;
    answers the statuses queued for the path (then 200)."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            secret = state.secrets.get(self.path, "")
            ok = bool(secret) and verify(secret, self.headers.get("OmniDesk-Signature", ""), body, now=int(time.time()))
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body, ok))
                queued = state.answers.get(self.path) or []
                status = queued.pop(0) if queued else 200
            if not ok:
                status = 400  # a receiver rejects what it cannot verify
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def hook_settings(settings: Settings, receiver: Receiver) -> Settings:
    return settings.model_copy(update={"outbound_allow": [*settings.outbound_allow, f"127.0.0.1:{receiver.port}"]})


@pytest.fixture(scope="session")
def hook_app(hook_settings: Settings, db: Database) -> FastAPI:
    return create_app(hook_settings, db=db, bus=db.bus)


@pytest.fixture
def hook_client(hook_app: FastAPI) -> Iterator[TestClient]:
    # This app's queue runs the jobs of the shared database while the test runs (its outbound policy opens the
    # receiver); whatever queue was attached before is put back after.
    attached = hook_app.state.jobs.attach()
    with TestClient(hook_app) as c:
        yield c
    if attached:
        hook_app.state.jobs.detach()


@pytest.fixture(scope="session")
def hook_live_server(hook_app: FastAPI) -> Iterator[str]:
    with serve_in_thread(hook_app) as url:
        yield url
