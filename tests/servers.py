"""Real server processes for end-to-end tests: ``uvicorn omnidesk.web.asgi:app`` on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from omnidesk.web.websocket_protocol import MAX_MESSAGE_BYTES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One uvicorn process; ``kill()`` is a hard SIGKILL (no goodbye), ``start()`` brings it back on its port."""

    def __init__(self, env: dict[str, str], data_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {**os.environ, **env, "OMNIDESK_DATA_DIR": str(data_dir), "OMNIDESK_LOG_JSON": "false"}
        self.log = data_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/realtime/ws"

    def start(self, timeout: float = 150.0) -> ServerProcess:
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting (so that several can boot in parallel); then :meth:`wait_ready`."""
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "omnidesk.web.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            # as `omnidesk serve` runs it (web.websocket_protocol.server_options)
            "--ws",
            "omnidesk.web.websocket_protocol:LeanWebSocketProtocol",
            "--ws-max-size",
            str(MAX_MESSAGE_BYTES),
            "--ws-per-message-deflate",
            "false",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 150.0) -> ServerProcess:
        """A bound, not a wait: a server starts in a few seconds on a quiet machine, far slower on a loaded one."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class FakeOutside:
    """A stand-in for a tenant's outside system (an OpenAI-compatible LLM endpoint, an ERP) on a real socket.

    It records every request it receives (so a test can prove what was, or was not, sent) and answers:
    ``POST .../chat/completions`` like an LLM (quoting the knowledge entry it was given), ``GET /json``,
    ``GET /redirect?to=<url>`` (302), ``GET /huge?bytes=<n>[&chunked=1]`` (a JSON body of n bytes).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        import threading
        from http.server import ThreadingHTTPServer

        outside = self

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.calls: list[dict[str, object]] = []
        self.broken = False
        self._server = Server((host, 0), _outside_handler(outside))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> FakeOutside:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _outside_handler(outside: FakeOutside) -> type:
    import json
    from http.server import BaseHTTPRequestHandler
    from typing import Any
    from urllib.parse import parse_qs, urlparse

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _record(self, body: bytes) -> None:
            outside.calls.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
            )

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._record(body)
            if outside.broken or not self.path.endswith("/chat/completions"):
                self._send(500, b"{}")
                return
            entry = json.loads(body)["messages"][1]["content"]
            answer = {"choices": [{"message": {"role": "assistant", "content": "亲，" + entry.split("\n")[1]}}]}
            self._send(200, json.dumps(answer).encode())

        def do_GET(self) -> None:
            self._record(b"")
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/redirect":
                self._send(302, b"{}", {"Location": query["to"]})
            elif url.path == "/huge":
                size = int(query["bytes"])
                body = b'{"x":"' + b"a" * max(size - 8, 0) + b'"}'
                if query.get("chunked"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for start in range(0, len(body), 65536):
                            part = body[start : start + 65536]
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        pass  # the client hung up, as it should
                    return
                with contextlib.suppress(OSError):
                    self._send(200, body)
            else:
                self._send(200, json.dumps({"status": "ok", "path": url.path}).encode())

    return Handler
