"""Benchmark of automatic quality scoring (质检) on SQLite, one thread (one core):

1. baseline: load N resolved conversations of M messages (the transcript query scoring itself runs), no scoring;
2. the rule scorer alone on the loaded transcripts (pure code, no database);
3. ``quality.actions.do_score_conversations`` in batches (load, score, store, audit: what the ``quality.score``
   batch job does), conversations/s and the ratio to the baseline;
4. the lag from the commit that resolves a conversation (the real ``update_conversation`` action, whose hook queues
   the ``quality.score`` job in the same transaction) to its stored score, through the embedded job queue (SQLite +
   huey's SQLite queue, one job thread), at a steady rate.

    python bench/bench_quality.py                        # 2,000 conversations × 12 messages; 40/s for 5 s
    python bench/bench_quality.py --conversations 5000 --rate 80

One run stays well under a minute.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from omnidesk import wiring
from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import StaffCreate, TenantCreate
from omnidesk.conversations import actions as conversations
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import ConversationUpdate
from omnidesk.conversations.states import Status
from omnidesk.core import migrate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database, utcnow
from omnidesk.core.settings import load_settings
from omnidesk.customers import actions as customers
from omnidesk.customers.schemas import CustomerCreate
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.queue import JobQueue, make_huey
from omnidesk.quality import actions, scoring
from omnidesk.quality.models import QaScore
from omnidesk.security import passwords
from omnidesk.security.permissions import Role

passwords._hasher = passwords.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

CUSTOMER = ["我的快递三天了还没到，太慢了！", "Where is my parcel? It never arrived.", "订单号是 20261207001",
            "好的，谢谢", "can I get a refund?", "还要等多久？"]  # fmt: skip
AGENT = ["您好，很高兴为您服务，请问订单号是多少？", "Hello, sorry for the wait. I understand.",
         "已为您查询，快递明天送达。", "I have arranged a replacement for you.", "订单号多少？",
         "还有其他可以帮您的吗？祝您生活愉快。"]  # fmt: skip
BATCH = 100


class Clock:
    """Wall time and this process's CPU time: on a shared machine the CPU figure is what one core does."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rate(self, n: int) -> str:
        return f"{n / self.wall:8.0f} conversations/s wall, {n / self.cpu:8.0f} per CPU-second"


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"p50 {statistics.median(samples) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"


def seed(db: Database, tenant_id: uuid.UUID, customer_id: uuid.UUID, agent_id: uuid.UUID, n: int, size: int,
         resolved: bool) -> list[uuid.UUID]:  # fmt: skip
    """``n`` conversations of ``size`` alternating customer/agent messages, written in bulk (set-up, not measured)."""
    rng = random.Random(n)
    now = utcnow()
    ids = [uuid.uuid4() for _ in range(n)]
    for first in range(0, n, 500):
        chunk = ids[first : first + 500]
        with db.tenant_transaction(tenant_id) as s:
            s.execute(insert(Conversation), [
                {"id": cid, "tenant_id": tenant_id, "customer_id": customer_id, "channel": "web", "subject": "bench",
                 "status": "resolved" if resolved else "open", "priority": "normal", "assignee_id": agent_id,
                 "tags": [], "attributes": {}, "last_seq": size, "version": 1, "created_at": now - timedelta(hours=1),
                 "updated_at": now, "resolved_at": now if resolved else None}
                for cid in chunk
            ])  # fmt: skip
            s.execute(insert(Message), [
                {"id": uuid.uuid4(), "tenant_id": tenant_id, "conversation_id": cid, "seq": k + 1,
                 "sender_type": "customer" if k % 2 == 0 else "agent", "kind": "text", "internal": False,
                 "body": rng.choice(CUSTOMER if k % 2 == 0 else AGENT), "payload": {},
                 "created_at": now - timedelta(hours=1) + timedelta(seconds=20 * k)}
                for cid in chunk for k in range(size)
            ])  # fmt: skip
    return ids


def load(db: Database, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> list[scoring.Transcript]:
    out = []
    for first in range(0, len(ids), BATCH):
        chunk = ids[first : first + BATCH]
        with db.tenant_read(tenant_id) as s:
            rows = s.execute(
                select(Message.conversation_id, Message.id, Message.sender_type, Message.body, Message.created_at)
                .where(Message.conversation_id.in_(chunk), Message.internal.is_(False))
                .order_by(Message.conversation_id, Message.seq)
            ).all()
            convs = {c.id: c for c in s.scalars(select(Conversation).where(Conversation.id.in_(chunk)))}
        by: dict[uuid.UUID, list[scoring.Turn]] = {}
        for cid, mid, sender, body, at in rows:
            by.setdefault(cid, []).append(scoring.Turn(str(mid), sender, body, at))
        out += [scoring.Transcript(by[c], convs[c].created_at, convs[c].resolved_at) for c in chunk]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=12)
    parser.add_argument("--rate", type=int, default=40, help="conversations resolved per second for the lag")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    wiring.install()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrate.upgrade(url)
        db = Database(url)
        with db.platform_transaction() as s:
            tenant, _, _ = accounts.create_tenant(
                s, TenantCreate(slug=f"q{uuid.uuid4().hex[:8]}", name="bench", admin_email="a@bench.example")
            )
            tenant_id = tenant.id
        system = system_actor(tenant_id)
        with db.tenant_transaction(tenant_id) as s:
            agent, _ = accounts.do_create_staff(
                s,
                system,
                StaffCreate(email="agent@bench.example", display_name="A", role=Role.AGENT, password="x" * 12),
            )
            customer = customers.create_customer(s, system, CustomerCreate(name="C"))
            actions.do_create_scorecard(s, system, "bench", actions.validate_criteria(scoring.default_criteria()))
            agent_id, customer_id = agent.id, customer.id
        n, size = args.conversations, args.messages
        ids = seed(db, tenant_id, customer_id, agent_id, n, size, resolved=True)
        print(f"quality scoring benchmark: {n:,} resolved conversations × {size} messages, SQLite, one thread")

        # 1. baseline: the same transcript reads, no scoring
        with Clock() as base:
            transcripts = load(db, tenant_id, ids)
        print(f"[baseline] load {n:,} transcripts, no scoring:          {base.rate(n)}")

        # 2. the rule scorer alone
        with db.tenant_read(tenant_id) as s:
            criteria = s.scalars(select(actions.Scorecard.criteria)).one()
        with Clock() as pure:
            for t in transcripts:
                scoring.score(t, criteria)
        print(f"[rules only] score {n:,} transcripts in memory:        {pure.rate(n)}")

        # 3. the scoring action in batches (what the quality.score batch job runs)
        with Clock() as scored:
            for first in range(0, n, BATCH):
                with db.tenant_transaction(tenant_id) as s:
                    actions.do_score_conversations(s, system, ids[first : first + BATCH])
        with db.tenant_read(tenant_id) as s:
            assert len(s.scalars(select(QaScore.id)).all()) == n
        print(f"[scoring] load + score + store + audit, batches of {BATCH}: {scored.rate(n)}")
        print(f"[scoring] ratio to the baseline: {base.wall / scored.wall:.3f} wall, {base.cpu / scored.cpu:.3f} CPU"
              " (the share of the time that is reading the transcripts)")  # fmt: skip

        # 4. lag: resolve through the real action at a steady rate; the hook queues quality.score in that commit
        count = int(args.rate * args.seconds)
        open_ids = seed(db, tenant_id, customer_id, agent_id, count, size, resolved=False)
        settings = load_settings(environment="test", data_dir=Path(folder), database_url=url, log_json=False)
        jq = JobQueue(JobContext(db, settings), huey=make_huey(settings, name=f"q{uuid.uuid4().hex[:6]}"), workers=1,
                      immediate=False)  # fmt: skip
        jq.start(consume=True)
        committed: dict[uuid.UUID, float] = {}
        try:
            begin = time.monotonic()
            for k, cid in enumerate(open_ids):
                pause = begin + k / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                with db.tenant_transaction(tenant_id) as s:
                    conversations.update_conversation(s, system, cid, ConversationUpdate(status=Status.RESOLVED))
                committed[cid] = time.time()
            deadline = time.monotonic() + 30
            while True:
                with db.tenant_read(tenant_id) as s:
                    done = dict(
                        s.execute(
                            select(QaScore.conversation_id, QaScore.created_at).where(
                                QaScore.conversation_id.in_(open_ids)
                            )
                        ).all()
                    )
                if len(done) >= count or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            jq.stop()
            db.dispose()
        lags = [done[c].timestamp() - committed[c] for c in committed if c in done]
        print(f"[lag] resolve commit → score stored, {args.rate}/s for {args.seconds:.0f} s ({len(lags)}/{count} scored),"
              f" job queue embedded (1 job thread): {percentiles(lags)}")  # fmt: skip
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
