"""The interval tables on the real database (SQLite, and PostgreSQL when OMNIDESK_TEST_DATABASE_URL is set): the
rollup is idempotent, equals the computation on raw rows, and a drill-down lists exactly the conversations counted."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from omnidesk.analytics import intervals, rollup
from omnidesk.analytics.metrics import COUNTER_NAMES, Policy, summarize
from omnidesk.analytics.models import ConversationFact, Interval
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import ConversationCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing.models import QueueEntry
from tests.analytics.test_reports import FIRST, LAST, seed
from tests.factories import World

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 5, tzinfo=UTC)


def seed_queue(db: Database, world: World) -> list[uuid.UUID]:
    """Three queued conversations on 2026-03-02 local: answered in 10 s, answered in 90 s, abandoned."""
    ids = []
    start = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    for i, (assigned, state) in enumerate(((10, "assigned"), (90, "assigned"), (None, "cancelled"))):
        with db.tenant_transaction(world.tenant_id) as s:
            c = conversation_actions.open_conversation(
                s,
                system_actor(world.tenant_id),
                ConversationCreate(customer_id=world.customer.id, channel="web", subject=f"q{i}", message="hi"),
            )
            at = start + timedelta(minutes=20 * i)
            s.execute(update(Conversation).where(Conversation.id == c.id).values(created_at=at))
            s.add(
                QueueEntry(
                    tenant_id=world.tenant_id,
                    conversation_id=c.id,
                    state=state,
                    waiting_since=at,
                    assigned_at=at + timedelta(seconds=assigned) if assigned is not None else None,
                )
            )
            ids.append(c.id)
    return ids


def _rows(db: Database, tenant_id: uuid.UUID) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with db.tenant_read(tenant_id) as s:
        cols = [getattr(Interval, n) for n in COUNTER_NAMES]
        iv = s.execute(
            select(Interval.grain, Interval.dimension, Interval.bucket_start, Interval.value, *cols).order_by(
                Interval.grain, Interval.dimension, Interval.bucket_start, Interval.value
            )
        ).all()
        fx = s.execute(
            select(
                ConversationFact.conversation_id,
                ConversationFact.day_start,
                *[getattr(ConversationFact, n) for n in COUNTER_NAMES],
            ).order_by(ConversationFact.conversation_id)
        ).all()
    return [tuple(r) for r in iv], [tuple(r) for r in fx]


def test_rollup_is_idempotent_and_equals_raw_rows(db: Database, world: World, other_world: World) -> None:
    seed(db, world.tenant_id, world.customer.id)
    seed(db, other_world.tenant_id, other_world.customer.id)
    queued = seed_queue(db, world)
    assert rollup.run_tenant(db, world.tenant_id, now=NOW) >= 3
    first = _rows(db, world.tenant_id)
    assert first[0] and first[1]
    rollup.run_tenant(db, world.tenant_id, now=NOW, full=True)
    assert _rows(db, world.tenant_id) == first  # recomputed fully: the same rows
    rollup.run_tenant(db, world.tenant_id, now=NOW)  # incremental rerun: the same rows again
    assert _rows(db, world.tenant_id) == first

    start, _ = rollup.day_bounds(FIRST, ZONE)
    _, end = rollup.day_bounds(LAST, ZONE)
    with db.tenant_read(world.tenant_id) as s:
        from_tables = intervals.totals(s, world.tenant_id, start, end)[""]
        raw = intervals.raw_totals(s, world.tenant_id, start, end, Policy())
        hourly = intervals.totals(s, world.tenant_id, start, end, grain="1h")[""]
        quarterly = intervals.totals(s, world.tenant_id, start, end, grain="15m")[""]
        by_channel = intervals.totals(s, world.tenant_id, start, end, dimension="channel")
    assert from_tables == raw == hourly == quarterly
    m = summarize(from_tables)
    assert m["conversations"] == 10.0  # the 7 seeded in range + 3 queued
    # The same customer wrote again within 24 h for most of the seeded ones: FCR is low by design here.
    assert m["abandonment"] == round(100 / 3, 1) and m["speed_of_answer"] == 50.0
    assert {k: v.conversations for k, v in by_channel.items()} == {"email": 2, "web": 7, "wechat": 1}
    # The other workspace's identical seed was never read into this one.
    with db.tenant_read(other_world.tenant_id) as s:
        assert intervals.totals(s, other_world.tenant_id, start, end) == {}

    # Drill-down: exactly the abandoned conversation, and exactly the conversations a figure was summed over.
    with db.tenant_read(world.tenant_id) as s:
        count, rows = intervals.drill(s, world.tenant_id, "abandonment", "numerator", start, end)
        assert (count, [r.conversation_id for r in rows]) == (1, [queued[2]])
        count, rows = intervals.drill(s, world.tenant_id, "speed_of_answer", "numerator", start, end, "channel", "web")
        assert count == 2 and {r.conversation_id for r in rows} == set(queued[:2])
        for metric in ("conversations", "first_response", "fcr", "csat", "bot_containment"):
            for part in ("numerator", "denominator"):
                count, rows = intervals.drill(s, world.tenant_id, metric, part, start, end)
                from omnidesk.analytics.metrics import BY_ID

                m_ = BY_ID[metric]
                counter = (
                    m_.denominator
                    if (part == "denominator" or m_.kind == "duration") and m_.denominator
                    else m_.numerator
                )
                expected = getattr(from_tables, counter)
                assert count == len(rows) == (expected if isinstance(expected, int) else count), (metric, part)


def test_a_change_marks_its_day_dirty_and_only_rewrites_that(db: Database, world: World) -> None:
    seed(db, world.tenant_id, world.customer.id)
    rollup.run_tenant(db, world.tenant_id, now=NOW)
    with db.tenant_read(world.tenant_id) as s:
        c = s.scalar(select(Conversation).where(Conversation.subject == "2026-03-03 03:00"))
        assert c is not None
        cid = c.id
    # The still-open one gets resolved later: its day is recomputed on the next run.
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(status="resolved", resolved_at=NOW, updated_at=NOW + timedelta(minutes=1))
        )
    assert rollup.run_tenant(db, world.tenant_id, now=NOW + timedelta(minutes=2)) >= 1
    start, end = rollup.day_bounds(date(2026, 3, 3), ZONE)
    with db.tenant_read(world.tenant_id) as s:
        assert intervals.totals(s, world.tenant_id, start, end)[""] == intervals.raw_totals(
            s, world.tenant_id, start, end, Policy()
        )
        fact = s.get(ConversationFact, cid)
        assert fact is not None and fact.resolved == 1


def test_a_new_contact_turns_the_previous_days_first_contact_resolution_into_a_repeat(
    db: Database, world: World
) -> None:
    system = system_actor(world.tenant_id)

    def conversation(at: datetime, resolved: datetime | None) -> uuid.UUID:
        with db.tenant_transaction(world.tenant_id) as s:
            c = conversation_actions.open_conversation(
                s, system, ConversationCreate(customer_id=world.customer.id, channel="web", subject="x", message="hi")
            )
            s.execute(
                update(Conversation)
                .where(Conversation.id == c.id)
                .values(created_at=at, status="resolved" if resolved else "open", resolved_at=resolved)
            )
            return c.id

    first = conversation(datetime(2026, 3, 2, 2, tzinfo=UTC), datetime(2026, 3, 2, 3, tzinfo=UTC))
    rollup.run_tenant(db, world.tenant_id, now=NOW)
    with db.tenant_read(world.tenant_id) as s:
        fact = s.get(ConversationFact, first)
        assert fact is not None and fact.fcr == 1
    # The customer is back 22 h after the resolution, on the next local day: the earlier day is recomputed.
    conversation(datetime(2026, 3, 3, 1, tzinfo=UTC), None)
    rollup.run_tenant(db, world.tenant_id, now=NOW + timedelta(minutes=1))
    with db.tenant_read(world.tenant_id) as s:
        fact = s.get(ConversationFact, first)
        assert fact is not None and fact.fcr == 0
