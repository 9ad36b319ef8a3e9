"""The job queue: huey carries "run job <id>" and "run tick <name>" messages; the ``jobs`` table is the truth.

* **Relay.** Every process that enqueues runs a relay thread. Woken by its own commits (``Database.jobs_wake``)
  it marks the new rows dispatched and sends them to huey at once. A process that also consumes (the embedded
  server, ``omnidesk worker``) sweeps the table every second for what is owed and was not sent: rows whose
  process died between commit and send, rows sent long ago and lost by the transport, retries whose back-off
  ended, and jobs whose worker died (lease expired). So delivery is at least once.
* **Runner.** A huey worker claims the row with one conditional UPDATE (queued and due, or running with an expired
  lease): only one worker wins. It renews the lease while the handler runs (the relay's heartbeat), marks the row
  done after, or on an exception counts the attempt: queued again after an exponential back-off, or dead after
  ``max_attempts`` (an admin retries or discards it on /admin/jobs). Handlers are idempotent.
* **Periodic tasks** (SLA ticks, maintenance, routing…) have a row in ``job_schedule``; the consuming relay that
  moves its ``next_run_at`` forward (a conditional UPDATE again) sends the tick, so a cluster runs each tick once.
* **Bounded concurrency.** ``OMNIDESK_JOB_WORKERS`` huey worker threads per consuming process, at a lower OS
  priority than the web threads (Linux ``nice`` per thread): a backlog of bot turns never takes more than that
  from the process that acknowledges customers' messages.

Embedded: ``SqliteHuey`` in ``OMNIDESK_DATA_DIR`` (the queue file needs no fsync: the table is the truth).
Cluster: ``PriorityRedisHuey`` on ``OMNIDESK_REDIS_URL``. Tests and scripts: huey's immediate mode runs each job
in the committing thread right after the commit (``OMNIDESK_JOBS_IMMEDIATE``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
import traceback
import uuid
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from huey import Huey, PriorityRedisHuey, SqliteHuey
from huey.consumer import Consumer
from huey.storage import RedisStorage
from prometheus_client import Counter, Histogram
from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from omnidesk.core.db import utcnow
from omnidesk.jobs import registry, serials
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job, JobSchedule, JobState

log = logging.getLogger("omnidesk.jobs")

RUNS = Counter("omnidesk_jobs_runs_total", "jobs run to completion", ["kind"])
FAILURES = Counter("omnidesk_jobs_failures_total", "job attempts that raised (retried or dead)", ["kind"])
DEAD = Counter("omnidesk_jobs_dead_total", "jobs that used up their attempts", ["kind"])
TICK_FAILURES = Counter("omnidesk_jobs_tick_failures_total", "periodic task runs that raised", ["task"])
LAG = Histogram(
    "omnidesk_jobs_lag_seconds",
    "commit of the enqueueing transaction to the job's first start",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

SWEEP_EVERY = 1.0
SWEEP_BATCH = 500
GRACE = timedelta(seconds=2)  # a fresh row is its own process's to send for this long
MAX_BACKOFF = timedelta(hours=1)
NICE = 10


# The runner's statements, built once: with the table's own types, and no ORM (a job's bookkeeping is two short
# transactions; building ORM statements per job cost more than running them).
_T: Table = Job.__table__  # type: ignore[assignment]
_CLAIM = (
    update(_T)
    .where(
        _T.c.id == bindparam("jid"),
        or_(
            and_(_T.c.state == JobState.QUEUED, _T.c.run_after <= bindparam("now")),
            and_(_T.c.state == JobState.RUNNING, _T.c.lease_until < bindparam("now")),
        ),
        serials.ITS_TURN,
    )
    .values(
        state=JobState.RUNNING,
        attempts=_T.c.attempts + 1,
        lease_until=bindparam("lease"),
        locked_by=bindparam("me"),
        started_at=bindparam("now"),
    )
    .returning(_T.c.tenant_id, _T.c.kind, _T.c.payload, _T.c.attempts, _T.c.max_attempts, _T.c.created_at, _T.c.serial)
)
_CLAIMABLE = or_(
    and_(_T.c.state == JobState.QUEUED, _T.c.run_after <= bindparam("now")),
    and_(_T.c.state == JobState.RUNNING, _T.c.lease_until < bindparam("now")),
)
_CLAIMED = dict(
    state=JobState.RUNNING,
    attempts=_T.c.attempts + 1,
    lease_until=bindparam("lease"),
    locked_by=bindparam("me"),
    started_at=bindparam("now"),
)
_RETURNED = (
    _T.c.id, _T.c.tenant_id, _T.c.kind, _T.c.payload, _T.c.attempts, _T.c.max_attempts, _T.c.created_at, _T.c.serial
)  # fmt: skip
_CLAIM_EXPIRED = (  # jobs sent again because their worker died: only those (queued ones wait their turn)
    update(_T)
    .where(
        _T.c.id.in_(bindparam("ids", expanding=True)),
        _T.c.state == JobState.RUNNING,
        _T.c.lease_until < bindparam("now"),
    )
    .values(**_CLAIMED)
    .returning(*_RETURNED)
)
_MINE = and_(_T.c.locked_by == bindparam("me"), _T.c.state == JobState.RUNNING)
_DONE = (
    update(_T)
    .where(_T.c.id == bindparam("jid"), _MINE)
    .values(state=JobState.DONE, finished_at=bindparam("now"), lease_until=None, last_error="")
)
_UNSENT = (
    update(_T)
    .where(_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.state == JobState.QUEUED)
    .values(dispatched_at=None)
)
_DONE_MANY = (
    update(_T)
    .where(_T.c.id.in_(bindparam("ids", expanding=True)), _MINE)
    .values(state=JobState.DONE, finished_at=bindparam("now"), lease_until=None, last_error="")
)
_RENEW = update(_T).where(_T.c.id.in_(bindparam("ids", expanding=True)), _MINE).values(lease_until=bindparam("lease"))
_DISPATCH = (
    update(_T)
    .where(
        _T.c.id.in_(bindparam("ids", expanding=True)),
        _T.c.state == JobState.QUEUED,
        _T.c.dispatched_at.is_(None),
    )
    .values(dispatched_at=bindparam("now"))
    .returning(_T.c.id, _T.c.kind)
)


def backoff(attempts: int, base: float = 5.0) -> timedelta:
    """5 s, 10 s, 20 s … up to an hour, with ±20 % jitter so a burst of failures does not return as one."""
    seconds = min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def make_huey(settings: Any, *, name: str | None = None, immediate: bool = False) -> Huey:
    """The queue is named after ``OMNIDESK_REDIS_PREFIX`` (on Redis its key is ``huey.redis.<prefix>``)."""
    name = name or settings.redis_prefix
    if immediate:
        return Huey(name, results=False, immediate=True)
    if settings.redis_url:
        return PriorityRedisHuey(name, results=False, url=settings.redis_url, blocking=True, read_timeout=1)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, results=False, filename=str(settings.data_dir / "job-queue.db"), fsync=False)


class JobQueue:
    def __init__(
        self,
        ctx: JobContext,
        *,
        huey: Huey | None = None,
        workers: int | None = None,
        lease: timedelta | None = None,
        redeliver: timedelta | None = None,
        immediate: bool | None = None,
    ) -> None:
        from omnidesk.jobs import handlers  # noqa: F401  (registers the kinds and periodic tasks)

        # huey logs two INFO lines per task; our own log says what failed, with the job's id and kind.
        logging.getLogger("huey").setLevel(logging.WARNING)

        settings = ctx.settings
        self.ctx = ctx
        self.immediate = settings.jobs_immediate if immediate is None else immediate
        self.huey = huey or make_huey(settings, immediate=self.immediate)
        self.workers = workers or settings.job_workers
        self.batch_size = settings.job_batch_size
        self.lease = lease or timedelta(seconds=settings.job_lease_seconds)
        self.redeliver = redeliver or timedelta(seconds=settings.job_redeliver_seconds)
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._job_task = self.huey.task(name="omnidesk_job")(self.run_job)
        self._tick_task = self.huey.task(name="omnidesk_tick")(self.run_tick)
        self._batch_task = self.huey.task(name="omnidesk_jobs")(self.run_batch)
        self._fresh: deque[uuid.UUID] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: set[uuid.UUID] = set()
        self._inflight_lock = threading.Lock()
        self._batching_lock = threading.Lock()
        self._batching: set[str] = set()  # batchable kinds a thread of this process is working now
        self._more: dict[str, set[uuid.UUID]] = {}  # ... and the jobs sent for them meanwhile
        self._threads: list[threading.Thread] = []
        self._consumer: Consumer | None = None
        self._consuming = False
        self._next_tick: dict[str, datetime] = {}
        self._previous: Any = None
        self._epoch: str | None = None
        self._detach_on_stop = False

    # --- enqueue side ------------------------------------------------------------------------------------------

    def attach(self) -> bool:
        """Have this process's commits wake the relay (``Database.jobs_wake``); :meth:`detach` puts back what
        was there (tests build several apps on one database). False if it was attached already."""
        db = self.ctx.db
        if db.jobs_wake == self.wake:
            return False
        self._previous = db.jobs_wake
        db.jobs_wake = self.wake
        return True

    def detach(self) -> None:
        if self.ctx.db.jobs_wake == self.wake:
            self.ctx.db.jobs_wake = self._previous

    def wake(self, ids: list[uuid.UUID]) -> None:
        if self.immediate:  # huey's immediate mode runs the task now, in the committing thread
            for job_id in ids:
                self.huey.enqueue(self._job_task.s(str(job_id)))
            return
        if not self._threads:  # no relay running here (not started): a sweeping process sends them after GRACE
            return
        self._fresh.extend(ids)
        self._wake.set()

    def _send(self, rows: list[tuple[uuid.UUID, str]]) -> None:
        """Put "run job <id>" (for a batchable kind: "run these jobs") on the transport. If it fails (Redis
        unreachable), the rows are marked unsent again, so the sweep sends them within seconds once it answers, not
        after the redelivery delay (a row sent twice is still claimed once)."""
        try:
            batches: dict[str, list[str]] = {}
            for job_id, kind in rows:
                spec = registry.KINDS.get(kind)
                if spec is not None and spec.batch is not None:
                    batches.setdefault(kind, []).append(str(job_id))
                    continue
                self.huey.enqueue(self._job_task.s(str(job_id), priority=spec.priority if spec else 0))
            for kind, ids in batches.items():  # what one commit queued (a batch of customer messages) runs together
                priority = registry.KINDS[kind].priority
                for start in range(0, len(ids), self.batch_size):
                    self.huey.enqueue(self._batch_task.s(kind, ids[start : start + self.batch_size], priority=priority))
        except Exception:
            with contextlib.suppress(Exception), self.ctx.db.engine.begin() as conn:
                conn.execute(_UNSENT, {"ids": [r[0] for r in rows]})
            raise

    def transport_lost(self) -> bool:
        """True (once per process) when the Redis transport lost what it held since the last call: restarted
        without persistence, or flushed. A marker key is set once with a random value; when it is gone or another
        process has set a new one, the messages sent before may be gone with it."""
        storage = self.huey.storage
        if not isinstance(storage, RedisStorage):  # huey's SQLite file: lost only if deleted (redelivery covers it)
            return False
        conn = storage.conn
        key = f"huey.epoch.{storage.name}"
        conn.set(key, uuid.uuid4().hex, nx=True)
        raw = conn.get(key)
        epoch = raw.decode() if isinstance(raw, bytes) else str(raw)
        lost = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        return lost

    def dispatch_fresh(self) -> int:
        ids: list[uuid.UUID] = []
        while self._fresh and len(ids) < SWEEP_BATCH:
            ids.append(self._fresh.popleft())
        if not ids:
            return 0
        with self.ctx.db.engine.begin() as conn:
            rows = conn.execute(_DISPATCH, {"ids": ids, "now": utcnow()}).all()
        self._send([(r[0], r[1]) for r in rows])
        return len(rows)

    def sweep(self, now: datetime | None = None, *, lost_before: datetime | None = None) -> int:
        """Send again what is owed: never sent, sent and lost, back-off over, or its worker died. ``lost_before``:
        the transport lost its messages (a Redis restart), so every queued job sent before then is sent again
        (a job delivered twice is claimed once)."""
        now = now or utcnow()
        lost_before = lost_before or now - self.redeliver
        owed = or_(
            and_(
                Job.state == JobState.QUEUED,
                Job.run_after <= now,
                or_(
                    and_(Job.dispatched_at.is_(None), Job.created_at < now - GRACE),
                    Job.dispatched_at < lost_before,
                ),
            ),
            and_(
                Job.state == JobState.RUNNING,
                Job.lease_until < now,
                or_(Job.dispatched_at.is_(None), Job.dispatched_at < Job.lease_until),
            ),
        )
        with self.ctx.db.platform_transaction() as s:
            query = select(Job.id, Job.kind).where(owed).order_by(Job.run_after).limit(SWEEP_BATCH)
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [(r[0], r[1]) for r in s.execute(query)]
            if rows:
                s.execute(update(Job).where(Job.id.in_([r[0] for r in rows])).values(dispatched_at=now))
        self._send(rows)
        return len(rows)

    # --- the runner --------------------------------------------------------------------------------------------

    def run_job(self, job_id: str) -> None:
        """The huey task: claim, run, mark. Never raises (huey's own retries are not used: the table counts)."""
        jid = uuid.UUID(job_id)
        with self.ctx.db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(serials.LOCK, {"jid": jid})
            now = utcnow()  # once the locks are held: a start never predates the end it waited for
            row = conn.execute(_CLAIM, {"jid": jid, "now": now, "lease": now + self.lease, "me": self.me}).first()
        if row is None:
            # Done, not due, another worker has it, or an earlier job of its serial has not finished (that one's
            # end releases it: see serials.release_next).
            return
        tenant_id, kind, payload, attempts, max_attempts, created_at, serial = row
        if attempts == 1:
            LAG.labels(kind).observe(max((now - created_at).total_seconds(), 0.0))
        spec = registry.KINDS.get(kind)
        with self._inflight_lock:
            self._inflight.add(jid)
        try:
            if spec is None:
                raise LookupError(f"no handler for job kind {kind!r} in this version")
            spec.handler(self.ctx, tenant_id, dict(payload or {}))
        except Exception as exc:
            log.warning("job failed", exc_info=True, extra={"job_id": job_id, "kind": kind, "attempt": attempts})
            self._failed(jid, kind, attempts, max_attempts if spec else attempts, exc, (tenant_id, serial))
        else:
            RUNS.labels(kind).inc()
            with self.ctx.db.engine.begin() as conn:
                conn.execute(_DONE, {"jid": jid, "me": self.me, "now": utcnow()})
                released = serials.release_next(conn, tenant_id, serial)
            self._send_released(released)
        finally:
            with self._inflight_lock:
                self._inflight.discard(jid)

    def _send_released(self, ids: list[uuid.UUID]) -> None:
        """The next job of a serial goes out now (through the relay, as a fresh commit's jobs do); in immediate
        mode the committing thread runs the queued jobs one after the other anyway."""
        if ids and not self.immediate:
            self.wake(ids)

    def run_batch(self, kind: str, job_ids: list[str]) -> None:
        """The huey task for a batchable kind: run the due jobs of the kind oldest first, in batches of up to
        ``OMNIDESK_JOB_BATCH_SIZE``, until none is due. Oldest first keeps a conversation's turns in order however
        they were sent, and a backlog is worked in batches as large as it is. One thread per process works a kind's
        batches: a task that finds it busy only tells it there is more and returns, so the other job threads stay
        free for periodic tasks (the late-turn check among them) and other kinds. A batch runs the kind's batch
        handler once and is marked done together; if the handler raises, each job runs alone (:meth:`run_one`,
        oldest first), so one bad job cannot fail the others. Never raises."""
        spec = registry.KINDS.get(kind)
        if spec is None or spec.batch is None:
            for job_id in job_ids:
                self.run_job(job_id)
            return
        mine = {uuid.UUID(j) for j in job_ids}
        with self._batching_lock:
            if kind in self._batching:
                # the thread working this kind claims these too before it stops (also those whose worker died)
                self._more.setdefault(kind, set()).update(mine)
                return
            self._batching.add(kind)
        try:
            while True:
                with self._batching_lock:
                    mine |= self._more.pop(kind, set())
                rows = self._claim_batch(kind, mine)
                mine = set()  # claimed, or queued (a later round takes them in age order), or not ours to run
                if rows:
                    self._run_batch(spec, kind, rows)
                    continue
                with self._batching_lock:
                    if self._more.get(kind):
                        continue
                    self._more.pop(kind, None)
                    self._batching.discard(kind)
                    return
        except Exception:  # the database failed: the sweep sends what is owed again
            log.exception("job batch runner failed", extra={"kind": kind})
            with self._batching_lock:
                self._batching.discard(kind)

    def _claim_batch(self, kind: str, mine: set[uuid.UUID]) -> list[Any]:
        now = utcnow()
        params = {"now": now, "lease": now + self.lease, "me": self.me}
        with self.ctx.db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(serials.BATCH_LOCK, {"kind": f"batch:{kind}"})
                now = utcnow()  # once the lock is held: a start never predates the end it waited for
                params = {"now": now, "lease": now + self.lease, "me": self.me}
            due = (
                select(_T.c.id)
                .where(_T.c.state == JobState.QUEUED, _T.c.run_after <= now, _T.c.kind == kind, serials.batch_turn(now))
                .order_by(_T.c.run_after)
                .limit(self.batch_size)
            )
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = list(
                conn.execute(
                    update(_T).where(_T.c.id.in_(due.scalar_subquery()), _CLAIMABLE).values(**_CLAIMED)
                    .returning(*_RETURNED), params,
                ).all()
            )  # fmt: skip
            left = mine - {r[0] for r in rows}
            if left:  # sent again after their worker died (lease expired)
                rows.extend(conn.execute(_CLAIM_EXPIRED, {**params, "ids": list(left)}).all())
        for row in rows:
            if row[4] == 1:
                LAG.labels(kind).observe(max((now - row[6]).total_seconds(), 0.0))
        return sorted(rows, key=lambda r: r[6])

    def _run_batch(self, spec: registry.Kind, kind: str, rows: list[Any]) -> None:
        assert spec.batch is not None
        ids = [r[0] for r in rows]
        with self._inflight_lock:
            self._inflight.update(ids)
        try:
            spec.batch(self.ctx, [(r[1], dict(r[3] or {})) for r in rows])
        except Exception:
            log.warning("job batch failed; running its jobs one by one", exc_info=True,
                        extra={"kind": kind, "jobs": len(rows)})  # fmt: skip
            for row in rows:
                self.run_one(row[0], row[1], kind, dict(row[3] or {}), row[4], row[5], row[7])
        else:
            RUNS.labels(kind).inc(len(rows))
            released: list[uuid.UUID] = []
            with self.ctx.db.engine.begin() as conn:
                conn.execute(_DONE_MANY, {"ids": ids, "me": self.me, "now": utcnow()})
                for tenant_id, serial in {(r[1], r[7]) for r in rows if r[7] is not None}:
                    released += serials.release_next(conn, tenant_id, serial)
            self._send_released(released)
        finally:
            with self._inflight_lock:
                self._inflight.difference_update(ids)

    def run_one(
        self, jid: uuid.UUID, tenant_id: uuid.UUID, kind: str, payload: dict[str, Any], attempts: int,
        max_attempts: int, serial: str | None = None,
    ) -> None:  # fmt: skip
        """Run one claimed job with its kind's own handler and mark it (done, or failed: retry / dead letter)."""
        spec = registry.KINDS[kind]
        try:
            spec.handler(self.ctx, tenant_id, payload)
        except Exception as exc:
            log.warning("job failed", exc_info=True, extra={"job_id": str(jid), "kind": kind, "attempt": attempts})
            self._failed(jid, kind, attempts, max_attempts, exc, (tenant_id, serial))
        else:
            RUNS.labels(kind).inc()
            with self.ctx.db.engine.begin() as conn:
                conn.execute(_DONE, {"jid": jid, "me": self.me, "now": utcnow()})
                released = serials.release_next(conn, tenant_id, serial)
            self._send_released(released)

    def _failed(
        self, jid: uuid.UUID, kind: str, attempts: int, max_attempts: int, exc: BaseException,
        serial: tuple[uuid.UUID, str | None] = (uuid.UUID(int=0), None),
    ) -> None:  # fmt: skip
        FAILURES.labels(kind).inc()
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        now = utcnow()
        if attempts >= max_attempts:
            DEAD.labels(kind).inc()
            values: dict[str, Any] = {"state": JobState.DEAD, "finished_at": now, "lease_until": None}
        else:
            values = {"state": JobState.QUEUED, "run_after": now + backoff(attempts), "lease_until": None,
                      "dispatched_at": None}  # fmt: skip
        released: list[uuid.UUID] = []
        with self.ctx.db.platform_transaction() as s:
            s.execute(
                update(Job)
                .where(Job.id == jid, Job.locked_by == self.me, Job.state == JobState.RUNNING)
                .values(last_error=error, **values)
            )
            if values["state"] == JobState.DEAD:  # a retry keeps its place; a dead letter lets the next one run
                released = serials.release_next(s.connection(), *serial)
        self._send_released(released)

    def heartbeat(self) -> None:
        with self._inflight_lock:
            ids = list(self._inflight)
        if not ids:
            return
        with self.ctx.db.engine.begin() as conn:
            conn.execute(_RENEW, {"ids": ids, "me": self.me, "lease": utcnow() + self.lease})

    # --- periodic tasks ----------------------------------------------------------------------------------------

    def due_ticks(self, now: datetime | None = None) -> list[str]:
        """Claim the periodic tasks whose time has come (one process per tick, cluster-wide) and send them."""
        now = now or utcnow()
        due = [p for p in registry.PERIODIC.values() if self._next_tick.get(p.name, now) <= now]
        if not due:
            return []
        claimed: list[str] = []
        with self.ctx.db.platform_transaction() as s:
            dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
            s.execute(
                dialect.insert(JobSchedule)
                .values([{"name": p.name, "next_run_at": now} for p in due])
                .on_conflict_do_nothing()
            )
            for p in due:
                won = s.execute(
                    update(JobSchedule)
                    .where(JobSchedule.name == p.name, JobSchedule.next_run_at <= now)
                    .values(next_run_at=now + p.every, last_started_at=now)
                ).rowcount  # type: ignore[attr-defined]
                if won:
                    claimed.append(p.name)
                    self._next_tick[p.name] = now + p.every
                else:
                    self._next_tick[p.name] = s.scalar(
                        select(JobSchedule.next_run_at).where(JobSchedule.name == p.name)
                    ) or (now + p.every)
        for name in claimed:
            self.huey.enqueue(self._tick_task.s(name, priority=registry.PERIODIC[name].priority))
        return claimed

    def run_tick(self, name: str) -> None:
        spec = registry.PERIODIC.get(name)
        if spec is None:
            return
        try:
            result = spec.run(self.ctx)
            if result:
                log.info("periodic task", extra={"task": name, "result": result})
        except Exception:  # the next tick retries from the stored state
            TICK_FAILURES.labels(name).inc()
            log.exception("periodic task failed", extra={"task": name})

    # --- running -----------------------------------------------------------------------------------------------

    def start(self, *, consume: bool) -> None:
        """Start the relay (and with ``consume`` the huey workers, the sweep, heartbeats and periodic tasks)."""
        self._detach_on_stop = self.attach()
        if self.immediate:
            return
        self._consuming = consume
        self._stop.clear()
        relay = threading.Thread(target=self._relay, name="job-relay", daemon=True)
        relay.start()
        self._threads.append(relay)
        if consume:
            self._consumer = _EmbeddedConsumer(
                self.huey, workers=self.workers, worker_type="thread", initial_delay=0.02, backoff=1.5, max_delay=0.2,
                periodic=False, check_worker_health=True,
            )  # fmt: skip
            self._consumer.start_threads()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._consumer is not None:
            self._consumer.stop_threads(timeout)
            self._consumer = None
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._detach_on_stop:
            self.detach()

    def _relay(self) -> None:
        next_sweep = next_beat = 0.0
        beat_every = max(self.lease.total_seconds() / 3, 0.2)
        while not self._stop.is_set():
            self._wake.wait(min(SWEEP_EVERY, beat_every) if self._consuming else 0.5)
            self._wake.clear()
            try:
                while self.dispatch_fresh():
                    pass
                if not self._consuming:
                    continue
                clock = time.monotonic()
                if clock >= next_beat:
                    next_beat = clock + beat_every
                    self.heartbeat()
                if clock >= next_sweep:
                    next_sweep = clock + SWEEP_EVERY
                    if self.transport_lost():
                        log.warning("the job queue's Redis lost its messages (restarted?); sending queued jobs again")
                        cutoff = utcnow()
                        while self.sweep(lost_before=cutoff) == SWEEP_BATCH:
                            pass  # a backlog: what one pass sent is marked after the cutoff, so this ends
                    else:
                        self.sweep()
                    self.due_ticks()
            except Exception:  # keep relaying; the table still holds everything owed
                log.exception("job relay pass failed")
                self._stop.wait(1.0)

    def run_consumer_forever(self) -> None:
        """``omnidesk worker``: the relay in a thread, huey's consumer in the foreground (it handles SIGINT/TERM)."""
        self.attach()
        self._consuming = True
        relay = threading.Thread(target=self._relay, name="job-relay", daemon=True)
        relay.start()
        self._threads.append(relay)
        consumer = _EmbeddedConsumer(
            self.huey, workers=self.workers, worker_type="thread", initial_delay=0.02, backoff=1.5, max_delay=0.2,
            periodic=False, check_worker_health=True, graceful_signal="TERM", shutdown_timeout=30,
        )  # fmt: skip
        try:
            consumer.run()
        finally:
            self._stop.set()
            self._wake.set()
            relay.join(10)


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer, startable without taking over the process's signal handlers (uvicorn owns them in the
    embedded server); its worker threads lower their own OS priority."""

    def _create_worker(self) -> Any:
        worker = super()._create_worker()
        original = worker.initialize

        def initialize() -> None:
            _lower_priority()
            original()

        worker.initialize = initialize
        return worker

    def start_threads(self) -> None:
        self.scheduler.start()
        for _, worker in self.worker_threads:
            worker.start()

    def stop_threads(self, timeout: float) -> None:
        self.stop_flag.set()
        for _, worker in self.worker_threads:
            worker.join(timeout)
        self.scheduler.join(timeout)


def _lower_priority() -> None:
    """On Linux a thread has its own nice value: the job threads yield the CPU to the web threads (model inference
    and SQLite release the GIL, so this is where the OS priority matters)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
