"""Real-time throughput and latency: many widget clients writing, one agent socket receiving.

Each widget client has a visitor session, an open WebSocket and a conversation. For ``--seconds`` the load
generator sends messages at up to ``--rate`` per second in total (round robin over the clients) as the widget
does, over the visitor's socket (``--via http``: its POST fallback), persisted, then acknowledged; an agent
socket, on the other server process in cluster mode,
receives every ``message`` event. Reported: messages/s persisted (acknowledged) and delivered to the agent,
p50/p99 from send to the agent's receipt and of the acknowledgement, and server memory per open socket.
Baseline, same run: a bare WebSocket echo app on the same server software (bench/echo_app.py).

    .venv/bin/python bench/bench_realtime.py [--clients 1000] [--seconds 10] [--rate 1000] [--via socket|http]
                                            [--no-cluster]

``--assistant``: visitors of the demo tenant in conversations the assistant holds (acks, replies matched to their
messages, lost and doubled replies, server CPU per answered message; embedded, then one web process + ``--workers``
``omnidesk worker`` on PostgreSQL + Redis), see docs/realtime.md.

Cluster mode (two processes on PostgreSQL + Redis) runs when OMNIDESK_BENCH_POSTGRES_URL (or
OMNIDESK_TEST_DATABASE_URL) and OMNIDESK_BENCH_REDIS_URL (or OMNIDESK_TEST_REDIS_URL) are set or the local
defaults answer. Loopback only; every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
PG = (
    os.environ.get("OMNIDESK_BENCH_POSTGRES_URL")
    or os.environ.get("OMNIDESK_TEST_DATABASE_URL")
    or ("postgresql://postgres@127.0.0.1:5432/postgres")
)
REDIS = (
    os.environ.get("OMNIDESK_BENCH_REDIS_URL")
    or os.environ.get("OMNIDESK_TEST_REDIS_URL")
    or ("redis://127.0.0.1:6379/0")
)
SECRET = "bench-realtime-secret-" + "b" * 30
ANSWER_PREFIXES = ('{"type": "ack"', '{"type": "error"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def settled_rss_kib(pid: int, seconds: float = 20) -> int:
    """RSS once it stopped moving (two readings a second apart within 0.2 %), or after ``seconds``."""
    deadline = time.monotonic() + seconds
    last = rss_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = rss_kib(pid)
        if abs(now - last) <= last * 0.002:
            return now
        last = now
    return last


def raise_open_files(wanted: int) -> None:
    """Thousands of sockets need as many descriptors, here and in the server (a subprocess inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


class Server:
    def __init__(self, app: str, env: dict[str, str], log: Path, extra: list[str] | None = None) -> None:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
            # as `omnidesk serve` runs it (omnidesk.web.websocket_protocol.server_options)
            "--ws",
            "omnidesk.web.websocket_protocol:LeanWebSocketProtocol",
            "--ws-max-size",
            str(4 * 64 * 1024),
            "--ws-per-message-deflate",
            "false",
            *(extra or []),
        ]
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(ROOT / "bench")
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, path: str = "/healthz", timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early; see its log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ---- baseline ---------------------------------------------------------------------------------------------------


async def echo_baseline(url: str, clients: int, seconds: float, rate: float, pid: int = 0) -> dict[str, float]:
    rss_before = await asyncio.to_thread(settled_rss_kib, pid) if pid else 0
    sockets = await open_many([url] * clients, None)
    rss_after = await asyncio.to_thread(settled_rss_kib, pid) if pid else 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def reader(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                latencies.append(time.perf_counter() - float(json.loads(frame)["t"]))

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() < stop:
        ws = sockets[sent % len(sockets)]
        await ws.send(json.dumps({"t": time.perf_counter(), "body": "你好"}))
        sent += 1
        await pace(started, sent, rate)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(1)  # the last echoes
    for task in readers:
        task.cancel()
    await close_all(sockets)
    return {
        "sent_per_s": sent / elapsed,
        "echoed_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 0.5),
        "p99_ms": pct(latencies, 0.99),
        "kib_per_socket": (rss_after - rss_before) / max(len(sockets), 1),
    }


async def pace(started: float, sent: int, rate: float) -> None:
    ahead = sent / rate - (time.perf_counter() - started)
    if ahead > 0:
        await asyncio.sleep(ahead)
    elif sent % 50 == 0:
        await asyncio.sleep(0)


async def open_many(urls: list[str], tokens: list[str] | None, batch: int = 100) -> list[ClientConnection]:
    out: list[ClientConnection] = []
    for start in range(0, len(urls), batch):
        chunk = urls[start : start + batch]
        opened = await asyncio.gather(*(connect(u, max_queue=64, open_timeout=30) for u in chunk))
        if tokens is not None:
            for ws, token in zip(opened, tokens[start : start + batch], strict=True):
                await ws.send(json.dumps({"type": "auth", "token": token}))
            await asyncio.gather(*(ws.recv() for ws in opened))  # ready
        out.extend(opened)
    return out


async def close_all(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


# ---- the product ------------------------------------------------------------------------------------------------


@dataclass
class Visitor:
    headers: dict[str, str]
    socket_token: str
    conversation_id: str = ""


@dataclass
class Results:
    sent_at: dict[str, float] = field(default_factory=dict)
    ack: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    errors: int = 0
    delivered: int = 0
    codes: list[str] = field(default_factory=list)


def prepare_tenant(url: str) -> tuple[str, str]:
    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import ApiKeyCreate, TenantCreate
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.security.permissions import Role

    migrate.upgrade(url)
    db = Database(url)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(s, TenantCreate(slug=slug, name="压测", admin_email=f"a@{slug}.example"))
    with db.tenant_transaction(tenant.id) as s:
        _, key = accounts.do_create_api_key(s, system_actor(tenant.id), ApiKeyCreate(name="bench", role=Role.ADMIN))
    db.dispose()
    return slug, key


async def make_visitors(
    http: httpx.AsyncClient, base: str, slug: str, n: int, opening: str | None = None
) -> list[Visitor]:
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> Visitor:
        async with sem:
            # Setup only: retry a dropped keep-alive connection (both calls are safe to repeat).
            for attempt in range(5):
                try:
                    session = (await http.post(f"{base}/api/v1/widget/{slug}/session", json={})).json()
                    visitor = Visitor({"Authorization": f"Bearer {session['token']}"}, session["socket_token"])
                    conv = await http.post(
                        f"{base}/api/v1/widget/{slug}/conversations",
                        json={"message": opening or f"压测会话 {i}", "client_id": f"open-{i}"},
                        headers=visitor.headers,
                    )
                    visitor.conversation_id = conv.json()["id"]
                    return visitor
                except httpx.TransportError:
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError("could not set up a visitor")

    return await asyncio.gather(*(one(i) for i in range(n)))


async def renew_socket_tokens(http: httpx.AsyncClient, base: str, slug: str, visitors: list[Visitor]) -> None:
    sem = asyncio.Semaphore(32)

    async def one(visitor: Visitor) -> None:
        async with sem:
            for attempt in range(5):  # retry a dropped keep-alive connection, as in the setup
                try:
                    response = await http.post(f"{base}/api/v1/widget/{slug}/socket-token", headers=visitor.headers)
                    visitor.socket_token = response.json()["socket_token"]
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError("could not renew a socket token")

    await asyncio.gather(*(one(v) for v in visitors))


async def run_product(
    visitor_bases: list[str], agent_base: str, pids: list[int], slug: str, key: str, args: argparse.Namespace
) -> dict[str, float]:
    """Visitors are spread over ``visitor_bases`` (as a load balancer would); the agent listens on ``agent_base``."""
    limits = httpx.Limits(max_connections=args.http_connections, max_keepalive_connections=args.http_connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        setup_started = time.perf_counter()
        visitor_base = visitor_bases[0]
        visitors = await make_visitors(http, visitor_base, slug, args.clients)
        homes = [visitor_bases[i % len(visitor_bases)] for i in range(len(visitors))]
        setup = time.perf_counter() - setup_started
        if setup > 120:  # socket tokens last 5 minutes: renew them as the widget does before it (re)connects
            await renew_socket_tokens(http, visitor_base, slug, visitors)
        # Memory per open socket: RSS from /proc once it settled, before and after opening every visitor's socket.
        rss_before = sum([await asyncio.to_thread(settled_rss_kib, p) for p in pids])
        ws_urls = [home.replace("http", "ws") + "/api/v1/realtime/ws" for home in homes]
        sockets = await open_many(ws_urls, [v.socket_token for v in visitors])
        rss_after = sum([await asyncio.to_thread(settled_rss_kib, p) for p in pids])
        token = (
            await http.post(f"{agent_base}/api/v1/realtime/token", headers={"Authorization": f"Bearer {key}"})
        ).json()["token"]
        agent = (await open_many([agent_base.replace("http", "ws") + "/api/v1/realtime/ws"], [token]))[0]
        results = Results()

        async def agent_reader() -> None:
            with contextlib.suppress(Exception):
                async for frame in agent:
                    event = json.loads(frame)
                    if event.get("type") != "message":
                        continue
                    sent = results.sent_at.get(event["message"].get("client_id") or "")
                    if sent is not None:
                        results.delivery.append(time.perf_counter() - sent)
                        results.delivered += 1

        async def drain(ws: ClientConnection) -> None:  # visitors read their acks and echoes, like a real widget
            with contextlib.suppress(Exception):
                async for frame in ws:
                    if isinstance(frame, str) and frame.startswith(ANSWER_PREFIXES):
                        answer = json.loads(frame)
                        sent = results.sent_at.get(answer.get("client_id") or "")
                        if answer["type"] == "ack" and sent is not None:
                            results.ack.append(time.perf_counter() - sent)
                        else:
                            results.errors += 1
                            results.codes.append(f"socket {answer.get('status')}")

        tasks = [asyncio.create_task(agent_reader())] + [asyncio.create_task(drain(ws)) for ws in sockets]
        inflight = asyncio.Semaphore(args.http_connections)

        async def send_over_socket(index: int, n: int) -> None:
            client_id = f"b-{n}-{uuid.uuid4().hex[:8]}"
            results.sent_at[client_id] = time.perf_counter()
            frame = {
                "type": "send",
                "conversation_id": visitors[index].conversation_id,
                "client_id": client_id,
                "body": f"消息 {n}：我的订单什么时候到？",
            }
            try:
                await sockets[index].send(json.dumps(frame, ensure_ascii=False))
            except Exception as exc:
                results.errors += 1
                results.codes.append(type(exc).__name__)

        async def send(visitor: Visitor, home: str, n: int) -> None:
            client_id = f"b-{n}-{uuid.uuid4().hex[:8]}"
            try:
                started = time.perf_counter()
                results.sent_at[client_id] = started
                response = await http.post(
                    f"{home}/api/v1/widget/{slug}/conversations/{visitor.conversation_id}/messages",
                    json={"body": f"消息 {n}：我的订单什么时候到？", "client_id": client_id},
                    headers=visitor.headers,
                )
                if response.status_code == 201:
                    results.ack.append(time.perf_counter() - started)
                else:
                    results.errors += 1
                    results.codes.append(str(response.status_code))
            except httpx.HTTPError as exc:
                results.errors += 1
                results.codes.append(type(exc).__name__)
            finally:
                inflight.release()

        cpu_before = [cpu_seconds(p) for p in pids]
        own_before = time.process_time()
        started = time.perf_counter()
        stop = started + args.seconds
        n = 0
        pending: set[asyncio.Task[None]] = set()
        while time.perf_counter() < stop:
            if args.via == "socket":
                await send_over_socket(n % len(visitors), n)
            else:
                await inflight.acquire()
                task = asyncio.create_task(send(visitors[n % len(visitors)], homes[n % len(visitors)], n))
                pending.add(task)
                task.add_done_callback(pending.discard)
            n += 1
            await pace(started, n, args.rate)
        await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 60)
        if args.via == "socket":  # acks arrive on the sockets: wait (bounded) until every send is answered
            deadline = time.perf_counter() + 30
            while len(results.ack) + results.errors < n and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        server_cpu = sum(cpu_seconds(p) for p in pids) - sum(cpu_before)
        own_cpu = time.process_time() - own_before
        await asyncio.sleep(2)  # let the last deliveries arrive
        for task in tasks:
            task.cancel()
        await close_all([*sockets, agent])
    if results.codes:
        print("    errors by status:", {c: results.codes.count(c) for c in set(results.codes)})
    return {
        "clients": float(len(visitors)),
        "setup_s": setup,
        "attempted_per_s": n / elapsed,
        "persisted_per_s": len(results.ack) / elapsed,
        "delivered_per_s": results.delivered / elapsed,
        "lost": float(len(results.ack) - results.delivered),
        "errors": float(results.errors),
        "ack_p50_ms": pct(results.ack, 0.5),
        "ack_p99_ms": pct(results.ack, 0.99),
        "delivery_p50_ms": pct(results.delivery, 0.5),
        "delivery_p99_ms": pct(results.delivery, 0.99),
        "kib_per_socket": (rss_after - rss_before) / max(len(sockets), 1),
        # CPU per stored message, all server processes together (database and Redis servers not included), and
        # of this load generator: where the two cores went.
        "server_cpu_ms_per_msg": 1000 * server_cpu / max(len(results.ack), 1),
        "loadgen_cpu_ms_per_msg": 1000 * own_cpu / max(len(results.ack), 1),
    }


def server_env(data_dir: Path, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {
        "OMNIDESK_DATABASE_URL": database_url,
        "OMNIDESK_DATA_DIR": str(data_dir),
        "OMNIDESK_SECRET_KEY": SECRET,
        "OMNIDESK_ENVIRONMENT": "development",
        "OMNIDESK_API_RATE_PER_MINUTE": "10000000",
        "OMNIDESK_WIDGET_CONVERSATIONS_PER_IP": "10000000",
        "OMNIDESK_WIDGET_SESSIONS_PER_IP": "10000000",
        "OMNIDESK_WIDGET_MESSAGES_PER_MINUTE": "10000000",
        "OMNIDESK_LOG_LEVEL": "WARNING",
        "OMNIDESK_RUN_JOBS_IN_PROCESS": "false",
    }
    if redis_url:
        env["OMNIDESK_REDIS_URL"] = redis_url
    return env


def print_row(name: str, figures: dict[str, float]) -> None:
    print(f"  {name}")
    for k, v in figures.items():
        print(f"    {k:>18}: {v:10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=1000, help="target messages per second in total")
    parser.add_argument("--http-connections", type=int, default=64, help="bounded in-flight sends over HTTP")
    parser.add_argument(
        "--via",
        choices=("socket", "http"),
        default="socket",
        help="how visitors send: as the widget does (its open socket) or by POST (the widget's fallback)",
    )
    parser.add_argument("--no-cluster", action="store_true", help="skip the PostgreSQL + Redis two-process run")
    parser.add_argument(
        "--assistant",
        action="store_true",
        help="visitors of the demo tenant in conversations the assistant holds: acks, replies, CPU per turn",
    )
    parser.add_argument("--drain", type=float, default=30, help="--assistant: seconds to wait for the last replies")
    parser.add_argument("--show-log", action="store_true", help="--assistant: print the end of the server's log")
    parser.add_argument("--workers", type=int, default=1, help="--assistant cluster run: `omnidesk worker` processes")
    args = parser.parse_args()
    if args.assistant:
        args.clients = max(1, min(args.clients if "--clients" in sys.argv else 200, 5000))
        args.seconds = max(1.0, min(args.seconds, 60.0))
        args.drain = max(1.0, min(args.drain, 120.0))
        raise_open_files(2 * args.clients + 1000)
        main_assistant(args)
        return
    args.clients = max(1, min(args.clients, 10_000))
    raise_open_files(2 * args.clients + 1000)  # this process and (inherited) the servers
    args.seconds = max(1.0, min(args.seconds, 60.0))
    print(
        f"bench_realtime: {args.clients} widget clients sending over {args.via}, {args.seconds:.0f} s, "
        f"target {args.rate:.0f} msg/s, "
        f"{os.cpu_count()} CPUs (load generator on the same machine)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        echo = Server("echo_app:app", {}, data / "echo.log")
        try:
            echo.wait("/")
            print_row(
                "baseline: bare echo WebSocket, same uvicorn",
                asyncio.run(
                    echo_baseline(echo.url.replace("http", "ws"), args.clients, args.seconds, args.rate, echo.proc.pid)
                ),
            )
        finally:
            echo.stop()

        sqlite_url = f"sqlite:///{data / 'bench.db'}"
        slug, key = prepare_tenant(sqlite_url)
        embedded = Server("omnidesk.web.asgi:app", server_env(data / "embedded", sqlite_url, None), data / "emb.log")
        try:
            embedded.wait()
            print_row(
                "embedded: SQLite, one process",
                asyncio.run(run_product([embedded.url], embedded.url, [embedded.proc.pid], slug, key, args)),
            )
        finally:
            embedded.stop()

        if not args.no_cluster:
            run_cluster(data, args)


def run_cluster(data: Path, args: argparse.Namespace) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from omnidesk.core.settings import load_settings

    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
        base = load_settings(database_url=PG).effective_database_url
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        name = f"omnidesk_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no PostgreSQL or Redis here: say so and stop
        print(f"  cluster: skipped ({type(exc).__name__}: PostgreSQL or Redis not reachable)")
        return
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    servers: list[Server] = []
    try:
        slug, key = prepare_tenant(url)
        servers = [
            Server("omnidesk.web.asgi:app", server_env(data / f"c{i}", url, REDIS), data / f"c{i}.log")
            for i in range(2)
        ]
        for server in servers:
            server.wait()
        urls = [s.url for s in servers]
        figures = asyncio.run(run_product(urls, servers[1].url, [s.proc.pid for s in servers], slug, key, args))
        print_row("cluster: PostgreSQL + Redis, two processes, visitors spread over both, agent on the second", figures)
    finally:
        for server in servers:
            server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---- the assistant under load (--assistant) -----------------------------------------------------------------------

# What each visitor says, in order: FAQ questions (answered: they are the FAQ's own phrasings), the shipping-fee flow
# (ask weight, ask zone, answer), small talk. A flow resets the low-confidence count, so the assistant keeps every
# conversation (no "repeated low confidence" hand-over) and each message gets one reply of its own.
SCRIPT = (
    "退款多久到账？", "运费多少钱", "2 公斤", "华东", "你好", "how long does a refund take", "谢谢",
    "how much is shipping", "3 kg", "East", "hello", "怎么退货", "thanks", "运费怎么算", "1.5公斤", "华北",
)  # fmt: skip


def prepare_demo(url: str) -> tuple[str, str]:
    """The demo tenant (FAQ, intents, a trained model; the assistant takes new conversations) and an admin key."""
    from sqlalchemy import select

    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.models import Tenant
    from omnidesk.accounts.schemas import ApiKeyCreate
    from omnidesk.bot.brains import Brains
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.db import Database
    from omnidesk.core.settings import load_settings
    from omnidesk.demo.seed import seed_demo
    from omnidesk.security.permissions import Role
    from omnidesk.wiring import install

    install()
    migrate.upgrade(url)
    db = Database(url)
    result = seed_demo(db, brains=Brains(load_settings(database_url=url).bot_encoder))
    with db.platform_read() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == result.tenant_slug))
    assert tenant_id is not None
    with db.tenant_transaction(tenant_id) as s:
        _, key = accounts.do_create_api_key(s, system_actor(tenant_id), ApiKeyCreate(name="bench", role=Role.ADMIN))
    db.dispose()
    return result.tenant_slug, key


def process_tree(pid: int) -> list[int]:
    """The server process and its children (a job worker process, if the server starts one)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return out


def tree_cpu(pid: int) -> dict[int, float]:
    cpu: dict[int, float] = {}
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            cpu[p] = cpu_seconds(p)
    return cpu


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def bot_backlog(http: httpx.AsyncClient, base: str) -> float:
    text = (await http.get(f"{base}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith('omnidesk_jobs_queued{kind="bot.turn"}'):
            total += float(line.split()[-1])
    return total


@dataclass
class BotResults:
    sent_at: dict[str, float] = field(default_factory=dict)  # client id → sent
    acked_at: dict[str, float] = field(default_factory=dict)  # client id → acknowledged
    message_of: dict[str, str] = field(default_factory=dict)  # customer message id → client id
    replies: dict[str, list[float]] = field(default_factory=dict)  # customer message id → reply arrivals
    holding: int = 0
    hand_overs: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    codes: list[str] = field(default_factory=list)


async def run_assistant(base: str, pid: int, slug: str, key: str, args: argparse.Namespace) -> dict[str, float]:
    """Visitors of the demo tenant in conversations the assistant holds send FAQ questions at ``--rate``; every
    customer message should get exactly one bot reply (client id ``bot:<message id>``) on the visitor's socket."""
    limits = httpx.Limits(max_connections=args.http_connections, max_keepalive_connections=args.http_connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        setup_started = time.perf_counter()
        visitors = await make_visitors(http, base, slug, args.clients, opening="你好")
        setup = time.perf_counter() - setup_started
        deadline = time.perf_counter() + 60  # the opening messages' turns: let the assistant finish them first
        while await bot_backlog(http, base) > 0 and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.25)
        ws_url = base.replace("http", "ws") + "/api/v1/realtime/ws"
        sockets = await open_many([ws_url] * len(visitors), [v.socket_token for v in visitors])
        token = (await http.post(f"{base}/api/v1/realtime/token", headers={"Authorization": f"Bearer {key}"})).json()[
            "token"
        ]
        agent = (await open_many([ws_url], [token]))[0]
        results = BotResults()

        async def agent_reader() -> None:  # a staff socket receiving every message event, as the console has
            with contextlib.suppress(Exception):
                async for _ in agent:
                    pass

        async def visitor_reader(ws: ClientConnection) -> None:
            with contextlib.suppress(Exception):
                async for frame in ws:
                    now = time.perf_counter()
                    event = json.loads(frame)
                    kind = event.get("type")
                    if kind == "ack":
                        client_id = event.get("client_id") or ""
                        if client_id in results.sent_at:
                            results.acked_at[client_id] = now
                            results.message_of[event["message"]["id"]] = client_id
                    elif kind == "error":
                        results.errors += 1
                        results.codes.append(f"socket {event.get('status')}")
                    elif kind == "message":
                        message = event["message"]
                        reply_to = message.get("client_id") or ""
                        if message.get("sender_type") != "bot" or not reply_to.startswith("bot:"):
                            continue
                        results.replies.setdefault(reply_to[4:], []).append(now)
                        bot = (message.get("payload") or {}).get("bot") or {}
                        label = f"{bot.get('kind')}/{bot.get('reason')}"
                        results.kinds[label] = results.kinds.get(label, 0) + 1
                        if bot.get("reason") == "delay":
                            results.holding += 1
                        elif bot.get("kind") == "hand_over":
                            results.hand_overs += 1

        tasks = [asyncio.create_task(agent_reader())] + [asyncio.create_task(visitor_reader(ws)) for ws in sockets]
        await asyncio.sleep(0.5)
        results.replies.clear()  # late replies to the opening messages are not part of the run
        load_before = load_average()
        cpu_before = tree_cpu(pid)
        own_before = time.process_time()
        started = time.perf_counter()
        stop = started + args.seconds
        n = 0
        while time.perf_counter() < stop:
            index = n % len(visitors)
            client_id = f"a-{n}-{uuid.uuid4().hex[:8]}"
            frame = {
                "type": "send",
                "conversation_id": visitors[index].conversation_id,
                "client_id": client_id,
                "body": SCRIPT[(n // len(visitors)) % len(SCRIPT)],
            }
            results.sent_at[client_id] = time.perf_counter()
            try:
                await sockets[index].send(json.dumps(frame, ensure_ascii=False))
            except Exception as exc:
                results.errors += 1
                results.codes.append(type(exc).__name__)
            n += 1
            await pace(started, n, args.rate)
        sent_for = time.perf_counter() - started
        deadline = time.perf_counter() + args.drain  # bounded: every acked message answered, or time is up
        while time.perf_counter() < deadline:
            answered = sum(1 for mid in results.message_of if mid in results.replies)
            if len(results.acked_at) + results.errors >= n and answered >= len(results.message_of):
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        cpu_after = tree_cpu(pid)
        server_cpu = sum(cpu_after.values()) - sum(cpu_before.get(p, 0.0) for p in cpu_after)
        own_cpu = time.process_time() - own_before
        load_after = load_average()
        await asyncio.sleep(0.5)  # duplicates would arrive now
        for task in tasks:
            task.cancel()
        await close_all([*sockets, agent])
    if results.codes:
        print("    errors by status:", {c: results.codes.count(c) for c in set(results.codes)})
    acks = [results.acked_at[c] - results.sent_at[c] for c in results.acked_at]
    reply_lat: list[float] = []
    for mid, client_id in results.message_of.items():
        arrivals = results.replies.get(mid)
        if arrivals:
            reply_lat.append(min(arrivals) - results.sent_at[client_id])
    replied = sum(1 for mid in results.message_of if results.replies.get(mid))
    last_reply = max((max(v) for v in results.replies.values()), default=started)
    print("    replies by kind/reason:", dict(sorted(results.kinds.items())))
    print(f"    load average before {load_before}, after {load_after}; {len(cpu_after)} server process(es)")
    return {
        "clients": float(len(visitors)),
        "setup_s": setup,
        "attempted_per_s": n / sent_for,
        "acked_per_s": len(acks) / sent_for,
        "ack_p50_ms": pct(acks, 0.5),
        "ack_p99_ms": pct(acks, 0.99),
        "ack_max_ms": pct(acks, 1.0),
        "replies_per_s": replied / max(last_reply - started, sent_for),
        "reply_p50_ms": pct(reply_lat, 0.5),
        "reply_p99_ms": pct(reply_lat, 0.99),
        "replied": float(replied),
        "unanswered": float(len(results.message_of) - replied),
        "duplicated": float(sum(len(v) - 1 for v in results.replies.values() if len(v) > 1)),
        "holding_msgs": float(results.holding),
        "hand_overs": float(results.hand_overs),
        "errors": float(results.errors),
        "drain_s": elapsed - sent_for,
        "server_cpu_ms_per_msg": 1000 * server_cpu / max(replied, 1),
        "loadgen_cpu_ms_per_msg": 1000 * own_cpu / max(len(acks), 1),
    }


def assistant_env(data_dir: Path, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = server_env(data_dir, database_url, redis_url)
    env["OMNIDESK_RUN_JOBS_IN_PROCESS"] = "false" if redis_url else "true"
    return env


def main_assistant(args: argparse.Namespace) -> None:
    print(
        f"bench_realtime --assistant: {args.clients} visitors of the demo tenant in conversations the assistant "
        f"holds, {args.seconds:.0f} s at {args.rate:.0f} msg/s over their sockets, {os.cpu_count()} CPUs, "
        f"load average {load_average()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        sqlite_url = f"sqlite:///{data / 'bench.db'}"
        slug, key = prepare_demo(sqlite_url)
        embedded = Server("omnidesk.web.asgi:app", assistant_env(data / "embedded", sqlite_url, None), data / "e.log")
        try:
            embedded.wait()
            print_row(
                "embedded: SQLite, one server (job queue as the server runs it)",
                asyncio.run(run_assistant(embedded.url, embedded.proc.pid, slug, key, args)),
            )
        finally:
            embedded.stop()
            if args.show_log:
                print((data / "e.log").read_text(errors="replace")[-6000:])
        if not args.no_cluster:
            run_assistant_cluster(data, args)


def run_assistant_cluster(data: Path, args: argparse.Namespace) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from omnidesk.core.settings import load_settings

    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
        base = load_settings(database_url=PG).effective_database_url
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        name = f"omnidesk_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"  cluster: skipped ({type(exc).__name__}: PostgreSQL or Redis not reachable)")
        return
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    server: Server | None = None
    workers: list[subprocess.Popen[bytes]] = []
    try:
        slug, key = prepare_demo(url)
        env = assistant_env(data / "cluster", url, REDIS)
        server = Server("omnidesk.web.asgi:app", env, data / "c.log")
        worker_log = (data / "w.log").open("ab")
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "omnidesk.cli", "worker"],
                env={**os.environ, **env},
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT / "bench"),
            )
            for _ in range(args.workers)
        ]
        server.wait()
        figures = asyncio.run(run_assistant_multi(server, workers, slug, key, args))
        print_row(f"cluster: PostgreSQL + Redis, one web process + {args.workers} `omnidesk worker`", figures)
        if args.show_log:
            print((data / "w.log").read_text(errors="replace")[-6000:])
    finally:
        if server is not None:
            server.stop()
        for worker in workers:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(10)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def run_assistant_multi(
    server: Server, workers: list[subprocess.Popen[bytes]], slug: str, key: str, args: argparse.Namespace
) -> dict[str, float]:
    """The web process plus the workers: their CPU counts too (``tree_cpu`` of each)."""
    before = {w.pid: cpu_seconds(w.pid) for w in workers}
    figures = await run_assistant(server.url, server.proc.pid, slug, key, args)
    worker_cpu = sum(cpu_seconds(w.pid) - before[w.pid] for w in workers if w.poll() is None)
    replied = max(figures["replied"], 1)
    figures["worker_cpu_ms_per_msg"] = 1000 * worker_cpu / replied
    figures["server_cpu_ms_per_msg"] += figures["worker_cpu_ms_per_msg"]
    return figures


if __name__ == "__main__":
    main()
