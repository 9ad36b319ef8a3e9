"""Stand-ins for the messaging providers, on a real socket in the test process: the Graph API (WhatsApp), the
Telegram Bot API and a Twilio-compatible Messages API. Each records what it received, so a test checks the
request shape we sent, and answers as the provider documents."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.web.app import create_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TOKEN = "EAAG-test-access-token-0001"
SMS_SID = "AC00000000000000000000000000000001"
SMS_TOKEN = "twilio-auth-token-for-tests-0001"
WX_APP_ID = "wx5823bf96d3bd56c7"
WX_SECRET = "wechat-app-secret-for-tests"
WX_ACCESS_TOKEN = "ACCESS_TOKEN_WX_0001"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class FakeProviders:
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer the next sends with (then 200)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sent(self, suffix: str) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.endswith(suffix)]


def load(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(__file__).parent / provider / "fixtures" / name).read_text("utf-8"))
    return data


def _handler(state: FakeProviders) -> type[BaseHTTPRequestHandler]:
    ids = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Call:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            call = Call(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with state.lock:
                state.calls.append(call)
            return call

        def _failure(self) -> int | None:
            with state.lock:
                return state.answers.pop(0) if state.answers else None

        def do_GET(self) -> None:
            call = self._record()
            if call.path.startswith("/graph/"):
                if call.headers.get("authorization") != f"Bearer {TOKEN}":
                    self._answer(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
                elif call.path.startswith("/graph/media/"):
                    self._answer(200, PNG, "image/png")
                elif call.path.startswith("/graph/v21.0/media-"):
                    media_id = call.path.rsplit("/", 1)[1]
                    self._answer(200, {"url": f"{state.url}/graph/media/{media_id}", "mime_type": "image/png",
                                       "sha256": "x", "file_size": len(PNG), "id": media_id,
                                       "messaging_product": "whatsapp"})  # fmt: skip
                else:
                    self._answer(200, {"verified_name": "Skylark", "id": call.path.rsplit("/", 1)[1]})
            elif call.path.startswith("/twilio/2010-04-01/Accounts/") and call.path.endswith(".json"):
                expected = "Basic " + base64.b64encode(f"{SMS_SID}:{SMS_TOKEN}".encode()).decode()
                if call.headers.get("authorization") != expected:
                    self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                else:
                    self._answer(200, {"sid": SMS_SID, "friendly_name": "Skylark", "status": "active"})
            elif call.path.startswith("/wechat/cgi-bin/token?"):
                query = {k: v[0] for k, v in parse_qs(call.path.split("?", 1)[1]).items()}
                if (query.get("appid"), query.get("secret")) == (WX_APP_ID, WX_SECRET):
                    self._answer(200, {"access_token": WX_ACCESS_TOKEN, "expires_in": 7200})
                else:
                    self._answer(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            elif call.path.startswith("/telegram/bot") and call.path.endswith("/getMe"):
                self._answer(200, {"ok": True, "result": {"id": 42, "is_bot": True, "username": "skylark_bot"}})
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            call = self._record()
            failure = self._failure()
            n = next(ids)
            if call.path.startswith("/graph/") and call.path.endswith("/messages"):
                if call.headers.get("authorization") != f"Bearer {TOKEN}":
                    self._answer(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
                elif failure:
                    self._answer(failure, {"error": {"message": "Service temporarily unavailable", "code": 2}})
                else:
                    to = call.json()["to"]
                    self._answer(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                       "messages": [{"id": f"wamid.OUT{n:06d}"}]})  # fmt: skip
            elif call.path.startswith("/wechat/cgi-bin/message/custom/send?"):
                if not call.path.endswith(f"access_token={WX_ACCESS_TOKEN}"):
                    self._answer(200, {"errcode": 40001, "errmsg": "invalid credential"})
                else:
                    self._answer(200, {"errcode": 0, "errmsg": "ok"})
            elif call.path.startswith("/telegram/bot") and call.path.endswith("/sendMessage"):
                if failure:
                    self._answer(failure, {"ok": False, "error_code": failure, "description": "Too Many Requests"})
                else:
                    sent = call.json()
                    self._answer(200, {"ok": True, "result": {"message_id": 1000 + n, "date": 1733600000,
                                       "chat": {"id": sent["chat_id"], "type": "private"}, "text": sent["text"]}})  # fmt: skip
            elif call.path.startswith("/twilio/") and call.path.endswith("/Messages.json"):
                if failure:
                    self._answer(failure, {"code": 20429, "message": "Too Many Requests", "status": failure})
                else:
                    form = call.form()
                    auth = base64.b64decode(call.headers.get("authorization", "Basic ").split()[1] or b"").decode()
                    self._answer(201, {"sid": f"SM{n:032d}", "status": "queued", "to": form.get("To"),
                                       "from": form.get("From"), "body": form.get("Body"), "auth_user": auth.split(":")[0]})  # fmt: skip
            else:
                self._answer(404, {"error": "not found"})

    return Handler


@pytest.fixture(scope="session")
def providers() -> Iterator[FakeProviders]:
    state = FakeProviders()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def msg_app(settings: Settings, db: Database, providers: FakeProviders) -> FastAPI:
    allowed = settings.model_copy(update={"outbound_allow": [*settings.outbound_allow, f"127.0.0.1:{providers.port}"]})
    return create_app(allowed, db=db, bus=db.bus)


@pytest.fixture
def msg_client(msg_app: FastAPI, providers: FakeProviders) -> Iterator[TestClient]:
    # This app's queue runs the shared database's jobs while the test runs (its outbound policy opens the fake
    # providers); whatever queue was attached before is put back after.
    attached = msg_app.state.jobs.attach()
    providers.calls.clear()
    providers.answers.clear()
    with TestClient(msg_app) as c:
        yield c
    if attached:
        msg_app.state.jobs.detach()
