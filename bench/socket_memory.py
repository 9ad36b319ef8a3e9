"""Where a server's memory goes per open socket: RSS per socket at growing counts, and what tracemalloc sees grow.

Opens idle sockets in steps (default 1,000, 5,000, 10,000) against the product (visitor sockets, authenticated
with visitor socket tokens minted here from the bench secret: no database work, the gateway needs none) and, as
the baseline, against the bare echo app on the same uvicorn with the same flags. After each step it waits until
the server's RSS (/proc/<pid>/status) is steady and reports (RSS − RSS with 0 sockets) / sockets.

    .venv/bin/python bench/socket_memory.py [--steps 1000,5000,10000] [--trace] [--ws auto|websockets|...]

``--trace`` runs the server under tracemalloc (bench/traced_app.py; slower, more memory) and prints the 25
allocation sites that grew most between the first and the last step, per socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import tracemalloc
import uuid
from pathlib import Path

import httpx
from bench_realtime import SECRET, Server, close_all, open_many, raise_open_files, server_env, settled_rss_kib

ROOT = Path(__file__).resolve().parent.parent


def tokens(n: int) -> list[str]:
    from omnidesk.core.settings import load_settings
    from omnidesk.realtime.tokens import SocketGrant, mint
    from omnidesk.security.keys import keyring

    keys = keyring(load_settings(secret_key=SECRET, environment="development"))
    tenant = uuid.uuid4()
    return [mint(keys, SocketGrant(tenant_id=tenant, kind="visitor", customer_id=uuid.uuid4())) for _ in range(n)]


async def probe(server: Server, steps: list[int], product: bool, trace_dir: Path | None) -> list[tuple[int, float]]:
    url = server.url.replace("http", "ws") + ("/api/v1/realtime/ws" if product else "/")

    def snapshot(name: str) -> int:
        if trace_dir is None:
            return settled_rss_kib(server.proc.pid)
        return int(httpx.get(f"{server.url}/__mem", params={"to": str(trace_dir / name)}, timeout=120).text)

    # Warm up: one batch opened and closed, so what the first socket imports or caches is not counted.
    warm = await open_many([url] * 100, tokens(100) if product else None)
    await close_all(warm)
    await asyncio.sleep(1)
    base = snapshot("0.snap")
    out: list[tuple[int, float]] = []
    sockets = []
    for step in steps:
        more = step - len(sockets)
        sockets += await open_many([url] * more, tokens(more) if product else None)
        await asyncio.sleep(1)
        rss = await asyncio.to_thread(snapshot, f"{step}.snap")
        # Every socket must still be open (not refused, not closed for being slow).
        open_now = sum(1 for ws in sockets if ws.state.name == "OPEN")
        out.append((open_now, (rss - base) / max(open_now, 1)))
        print(f"    {open_now:>6} sockets: RSS +{(rss - base) / 1024:7.1f} MiB = {out[-1][1]:5.1f} KiB per socket")
    await close_all(sockets)
    return out


def top_growth(trace_dir: Path, first: int, last: int, group: str, count: int = 25) -> None:
    a = tracemalloc.Snapshot.load(str(trace_dir / f"{first}.snap"))
    b = tracemalloc.Snapshot.load(str(trace_dir / f"{last}.snap"))
    n = last - first
    stats = b.compare_to(a, group)
    before = dict(line.rsplit(" ", 1) for line in (trace_dir / f"{first}.snap.types").read_text().splitlines())
    after = dict(line.rsplit(" ", 1) for line in (trace_dir / f"{last}.snap.types").read_text().splitlines())
    grown = sorted(((int(c) - int(before.get(t, 0))) / n, t) for t, c in after.items())[::-1][:45]
    print("  objects the collector tracks, per socket:", ", ".join(f"{t} {c:.2f}" for c, t in grown if c >= 0.5))
    total = sum(s.size_diff for s in stats)
    print(f"  tracemalloc: {total / n:.0f} B per socket traced between {first} and {last} sockets; top sites:")
    for stat in stats[:count]:
        print(f"    {stat.size_diff / n:8.0f} B  {stat.count_diff / n:5.1f} blocks")
        for line in stat.traceback.format(most_recent_first=True)[:12]:
            print("        " + line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="1000,5000,10000")
    parser.add_argument("--trace", action="store_true", help="tracemalloc in the server (slow)")
    parser.add_argument("--group", choices=("lineno", "traceback", "filename"), default="traceback")
    parser.add_argument("--ws", default=None, help="uvicorn --ws implementation (default: the bench's)")
    parser.add_argument("--only", choices=("echo", "product"), default=None)
    args = parser.parse_args()
    steps = sorted(int(s) for s in args.steps.split(","))
    raise_open_files(2 * steps[-1] + 1000)
    print(f"socket_memory: steps {steps}, RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        trace_dir = data if args.trace else None
        extra = ["--ws", args.ws] if args.ws else []
        results = {}
        for name in ("echo", "product"):
            if args.only and name != args.only:
                continue
            env = server_env(data / name, f"sqlite:///{data / 'probe.db'}", None)
            app = "echo_app:app"
            if args.trace:
                env["OMNIDESK_BENCH_TRACED_APP"] = name
                app = "traced_app:app"
            elif name == "product":
                app = "omnidesk.web.asgi:app"
            if name == "product":
                from omnidesk.core import migrate

                migrate.upgrade(f"sqlite:///{data / 'probe.db'}")
            server = Server(app, env, data / f"{name}.log", extra)
            try:
                server.wait("/" if name == "echo" else "/healthz", timeout=600 if args.trace else 90)
                print(f"  {name}:")
                results[name] = asyncio.run(probe(server, steps, name == "product", trace_dir))
                if trace_dir is not None:
                    top_growth(trace_dir, 0, steps[-1], args.group)
            finally:
                server.stop()
        print(json.dumps(results))


if __name__ == "__main__":
    main()
