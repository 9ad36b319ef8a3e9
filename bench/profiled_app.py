"""The OmniDesk ASGI app with two cheap profilers for the benches, on when ``OMNIDESK_BENCH_PROFILE`` names a file.

- every SQL statement's time, summed per statement text (SQLAlchemy cursor events, all engines);
- a stack sampler (every 5 ms, every thread; what py-spy would say): the innermost frame of OmniDesk's own code
  and the innermost frame of any code, counted per sample.

Written to that file as text every 2 s. Off, this module is ``omnidesk.web.asgi:app`` unchanged.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from omnidesk.web.asgi import app as app

OUT = os.environ.get("OMNIDESK_BENCH_PROFILE")

if OUT:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    queries: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    own: collections.Counter[str] = collections.Counter()
    inner: collections.Counter[str] = collections.Counter()
    samples = [0]

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_t", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["bench_t"].pop()
        entry = queries[" ".join(statement.split())[:160]]
        entry[0] += 1
        entry[1] += time.perf_counter() - started

    def _sample() -> None:
        me = threading.get_ident()
        written = time.monotonic()
        while True:
            time.sleep(0.005)
            if time.monotonic() - written > 2:
                with contextlib.suppress(RuntimeError):  # a dict that changed size while read: next time
                    _write()  # every 2 s: the server may end without running atexit hooks
                written = time.monotonic()
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                code = frame.f_code
                if code.co_name in ("wait", "select", "_worker", "run_forever", "_run_once", "sleep"):
                    continue
                samples[0] += 1
                inner[f"{code.co_filename.rsplit('/site-packages/', 1)[-1]}:{code.co_name}"] += 1
                f: Any = frame
                while f is not None and "/omnidesk/" not in f.f_code.co_filename:
                    f = f.f_back
                if f is not None:
                    own[f"{f.f_code.co_filename.split('/omnidesk/', 1)[1]}:{f.f_lineno} {f.f_code.co_name}"] += 1

    def _write() -> None:
        lines = ["# SQL: calls, total s, statement (by total time)"]
        for sql, (calls, total) in sorted(queries.items(), key=lambda kv: -kv[1][1])[:40]:
            lines.append(f"{calls:8d} {total:8.3f}  {sql}")
        lines.append(f"# samples (busy thread stacks, every 5 ms): {samples[0]}; innermost OmniDesk frame")
        lines += [f"{n:8d}  {where}" for where, n in own.most_common(40)]
        lines.append("# innermost frame of any code")
        lines += [f"{n:8d}  {where}" for where, n in inner.most_common(30)]
        Path(OUT).write_text("\n".join(lines) + "\n")

    threading.Thread(target=_sample, daemon=True, name="bench-sampler").start()
