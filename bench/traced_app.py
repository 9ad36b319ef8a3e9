"""A debugging wrapper for bench/socket_memory.py: the product app with tracemalloc on and one extra route.

``GET /__mem?to=<file>`` collects garbage, writes a tracemalloc snapshot to ``<file>`` and answers the process's
RSS in KiB. Only for the memory probe on loopback; never part of the product.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

tracemalloc.start(int(os.environ.get("OMNIDESK_BENCH_TRACE_FRAMES", "8")))

if os.environ.get("OMNIDESK_BENCH_TRACED_APP") == "echo":
    from echo_app import app as inner
else:
    from omnidesk.web.asgi import app as inner


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def dump(target: str) -> int:
    """Collect, then write the snapshot and the collector's object counts by type; the process's RSS in KiB.
    Blocking on purpose: nothing else should run while the heap is read."""
    gc.collect()
    if target:
        tracemalloc.take_snapshot().dump(target)
        counts: dict[str, int] = {}
        for obj in gc.get_objects():
            name = type(obj).__qualname__
            counts[name] = counts.get(name, 0) + 1
        Path(target + ".types").write_text("\n".join(f"{n} {c}" for n, c in counts.items()))
    return rss_kib()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/__mem":
        body = str(dump(parse_qs(scope["query_string"].decode()).get("to", [""])[0])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
        return
    await inner(scope, receive, send)
