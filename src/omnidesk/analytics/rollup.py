"""The rollup: stored conversations, messages, queue entries and audit records → per-conversation facts → interval
tables, one tenant-local day at a time.

Idempotent by construction: a dirty day is recomputed *fully* (its facts and every 15-minute, hour and day bucket
inside it are deleted and written again in one transaction), so a rerun, a retry after a crash or two workers on the
same day all leave the same rows. Which days are dirty is found from a watermark: conversations created, updated or
written to since it (a message moves ``updated_at`` / ``last_message_at``), ratings given since it, and the day of
the same customer's previous conversation (a new contact can turn its first-contact resolution or containment into a
repeat). The watermark is rewound by ``SAFETY`` so that a transaction committing late with an older timestamp is
still seen; rescanning costs only repeated, identical recomputation.

Every statement names the tenant, besides the session's own tenant scoping.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from omnidesk.accounts.models import Tenant
from omnidesk.analytics.metrics import COUNTER_NAMES, Counters, History, Policy, facts
from omnidesk.analytics.models import AnalyticsSettings, ConversationFact, Interval
from omnidesk.bot.models import BotConversation
from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations.models import Conversation, ConversationRating, Message
from omnidesk.core.db import Database, utcnow
from omnidesk.routing.models import QueueEntry

SAFETY = timedelta(minutes=5)
DIMENSIONS = ("tenant", "team", "agent", "channel", "intent")
GRAINS = ("15m", "1h", "1d")
_CHUNK = 500


def settings_of(session: Session, tenant_id: uuid.UUID) -> AnalyticsSettings:
    """The tenant's analytics settings row (defaults when it has none yet; not added to the session)."""
    row = session.scalar(select(AnalyticsSettings).where(AnalyticsSettings.tenant_id == tenant_id))
    return row or AnalyticsSettings(
        tenant_id=tenant_id,
        fcr_hours=24,
        service_level_seconds=30,
        service_level_target=80,
        alert_waiting=10,
        alert_wait_seconds=120,
        ranking_enabled=False,
    )


def policy_of(row: AnalyticsSettings) -> Policy:
    return Policy(fcr_hours=row.fcr_hours, service_level_seconds=row.service_level_seconds)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _chunks(items: list[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _intent(attempts: Any, attributes: dict[str, Any]) -> str:
    if isinstance(attributes.get("intent"), str):
        return str(attributes["intent"])[:64]
    for attempt in attempts or []:
        if isinstance(attempt, dict) and attempt.get("intent"):
            return str(attempt["intent"])[:64]
    return ""


def _is_callback(tags: list[str], attributes: dict[str, Any]) -> bool:
    # The product has no callback channel yet: a conversation tagged (or marked by an integration) as a callback
    # request is one, so a voice or callback connector can say so without a schema change.
    return "callback" in (tags or []) or bool(attributes.get("callback"))


def load_histories(session: Session, tenant_id: uuid.UUID, start: datetime, end: datetime) -> list[History]:
    """The histories of the tenant's conversations started in ``[start, end)``, from the stored rows."""
    later = aliased(Conversation)
    next_contact = (
        select(func.min(later.created_at))
        .where(
            later.tenant_id == tenant_id,
            later.customer_id == Conversation.customer_id,
            later.created_at > Conversation.created_at,
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            next_contact.label("next_contact"),
            Conversation.id,
            Conversation.customer_id,
            Conversation.channel,
            Conversation.team_id,
            Conversation.assignee_id,
            Conversation.attributes,
            Conversation.tags,
            Conversation.status,
            Conversation.resolved_at,
            Conversation.created_at,
        )
        .where(Conversation.tenant_id == tenant_id, Conversation.created_at >= start, Conversation.created_at < end)
        .order_by(Conversation.created_at, Conversation.id)
    ).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    replies: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    bots: dict[uuid.UUID, tuple[str, Any]] = {}
    queue: dict[uuid.UUID, tuple[datetime | None, datetime | None, str | None]] = {}
    ratings: dict[uuid.UUID, int] = {}
    transfers: dict[uuid.UUID, int] = defaultdict(int)
    for chunk in _chunks(ids):
        for cid, at in session.execute(
            select(Message.conversation_id, Message.created_at).where(
                Message.tenant_id == tenant_id,
                Message.conversation_id.in_(chunk),
                Message.seq >= 1,
                Message.sender_type == "agent",
                Message.internal.is_(False),
            )
        ):
            replies[cid].append(at)
        for cid, held, attempts in session.execute(
            select(BotConversation.conversation_id, BotConversation.handled_by, BotConversation.attempts).where(
                BotConversation.tenant_id == tenant_id, BotConversation.conversation_id.in_(chunk)
            )
        ):
            bots[cid] = (held, attempts)
        for cid, since, assigned, state in session.execute(
            select(
                QueueEntry.conversation_id, QueueEntry.waiting_since, QueueEntry.assigned_at, QueueEntry.state
            ).where(QueueEntry.tenant_id == tenant_id, QueueEntry.conversation_id.in_(chunk))
        ):
            queue[cid] = (since, assigned, state)
        for cid, score in session.execute(
            select(ConversationRating.conversation_id, ConversationRating.score).where(
                ConversationRating.tenant_id == tenant_id, ConversationRating.conversation_id.in_(chunk)
            )
        ):
            ratings[cid] = score
        for target, changes in session.execute(
            select(AuditRecord.target_id, AuditRecord.changes).where(
                AuditRecord.tenant_id == tenant_id,
                AuditRecord.action == "conversation.update",
                AuditRecord.target_type == "conversation",
                AuditRecord.target_id.in_([str(c) for c in chunk]),
            )
        ):
            for key in ("assignee_id", "team_id"):
                old_new = (changes or {}).get(key)
                if isinstance(old_new, list) and len(old_new) == 2 and old_new[0] and old_new[1]:
                    transfers[uuid.UUID(target)] += 1
                    break
    out = []
    for r in rows:
        held, attempts = bots.get(r.id, ("", None))
        queued_at, assigned, queue_state = queue.get(r.id, (None, None, None))
        out.append(
            History(
                conversation_id=r.id,
                started_at=r.created_at,
                channel=r.channel,
                team_id=r.team_id,
                agent_id=r.assignee_id,
                intent=_intent(attempts, r.attributes or {}),
                agent_replies=tuple(sorted(replies.get(r.id, ()))),
                bot_took=r.id in bots,
                held_by_bot=held == "bot",
                queued_at=queued_at,
                assigned_at=assigned,
                queue_state=queue_state,
                resolved_at=(r.resolved_at or None) if r.status == "resolved" else None,
                transfers=transfers.get(r.id, 0),
                rating=ratings.get(r.id),
                callback=_is_callback(r.tags, r.attributes or {}),
                next_contact_at=_aware(r.next_contact) if r.next_contact is not None else None,
            )
        )
    return out


def _aware(value: datetime | str) -> datetime:
    """A timestamp from a raw SQL expression: SQLite returns the stored text, without the column's UTC type."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _floor_quarter(t: datetime) -> datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def _local_hour(t: datetime, zone: ZoneInfo) -> datetime:
    return t.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _dims(h: History) -> dict[str, str]:
    return {
        "tenant": "",
        "team": str(h.team_id or ""),
        "agent": str(h.agent_id or ""),
        "channel": h.channel,
        "intent": h.intent,
    }


def recompute_day(session: Session, tenant_id: uuid.UUID, day: date, zone: ZoneInfo, policy: Policy) -> int:
    """Delete and rewrite the facts and every interval row of one local day. Returns the conversations counted."""
    start, end = day_bounds(day, zone)
    histories = load_histories(session, tenant_id, start, end)
    session.execute(
        delete(ConversationFact).where(ConversationFact.tenant_id == tenant_id, ConversationFact.day_start == start)
    )
    session.execute(
        delete(Interval).where(
            Interval.tenant_id == tenant_id, Interval.bucket_start >= start, Interval.bucket_start < end
        )
    )
    fact_rows: list[dict[str, Any]] = []
    sums: dict[tuple[str, str, datetime, str], Counters] = defaultdict(Counters)
    for h in histories:
        c = facts(h, policy)
        buckets = {"15m": _floor_quarter(h.started_at), "1h": _local_hour(h.started_at, zone), "1d": start}
        dims = _dims(h)
        counters = {name: getattr(c, name) for name in COUNTER_NAMES}
        fact_rows.append(
            {
                "tenant_id": tenant_id,
                "conversation_id": h.conversation_id,
                "started_at": h.started_at,
                "day_start": start,
                "hour_start": buckets["1h"],
                "quarter_start": buckets["15m"],
                "channel": dims["channel"],
                "team": dims["team"],
                "agent": dims["agent"],
                "intent": dims["intent"],
                **counters,
            }
        )
        for grain, bucket in buckets.items():
            for dimension, value in dims.items():
                if dimension != "tenant" and not value:
                    continue  # no team / agent / intent: counted in the tenant's row only
                sums[(grain, dimension, bucket, value)].add(c)
    if fact_rows:
        for i in range(0, len(fact_rows), 1000):
            session.execute(insert(ConversationFact), fact_rows[i : i + 1000])
        interval_rows = [
            {
                "tenant_id": tenant_id,
                "grain": g,
                "dimension": d,
                "bucket_start": b,
                "value": v,
                **{name: getattr(c, name) for name in COUNTER_NAMES},
            }
            for (g, d, b, v), c in sums.items()
        ]
        for i in range(0, len(interval_rows), 1000):
            session.execute(insert(Interval), interval_rows[i : i + 1000])
    return len(histories)


def dirty_days(session: Session, tenant_id: uuid.UUID, since: datetime | None, zone: ZoneInfo) -> set[date]:
    """The local days whose figures may have changed since ``since`` (every day with conversations when None)."""
    days: set[date] = set()
    if since is None:
        # Every day with a conversation, and every day with facts (to clear what was deleted since).
        for (created,) in session.execute(select(Conversation.created_at).where(Conversation.tenant_id == tenant_id)):
            days.add(local_day(created, zone))
        for (day_start,) in session.execute(
            select(ConversationFact.day_start).where(ConversationFact.tenant_id == tenant_id).distinct()
        ):
            days.add(local_day(day_start, zone))
        return days
    # A new or moved conversation can change whether the same customer's previous one was a repeat contact
    # (first-contact resolution, containment): that one's day is dirty too.
    earlier = aliased(Conversation)
    previous = (
        select(func.max(earlier.created_at))
        .where(
            earlier.tenant_id == tenant_id,
            earlier.customer_id == Conversation.customer_id,
            earlier.created_at < Conversation.created_at,
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    changed = select(Conversation.created_at, previous).where(
        Conversation.tenant_id == tenant_id,
        or_(Conversation.updated_at >= since, Conversation.last_message_at >= since, Conversation.created_at >= since),
    )
    rated = (
        select(Conversation.created_at, previous)
        .join(ConversationRating, ConversationRating.conversation_id == Conversation.id)
        .where(
            ConversationRating.tenant_id == tenant_id,
            ConversationRating.created_at >= since,
            Conversation.tenant_id == tenant_id,
        )
    )
    for created, before in session.execute(changed.union(rated)):
        days.add(local_day(created, zone))
        if before is not None:
            days.add(local_day(_aware(before), zone))
    return days


def run_tenant(db: Database, tenant_id: uuid.UUID, *, now: datetime | None = None, full: bool = False) -> int:
    """Bring one tenant's interval tables up to date; one transaction per dirty day. Returns days recomputed."""
    now = now or utcnow()
    with db.tenant_read(tenant_id) as s:
        tenant = s.get(Tenant, tenant_id)
        zone = ZoneInfo(tenant.time_zone if tenant else "UTC")
        row = settings_of(s, tenant_id)
        policy = policy_of(row)
        since = None if full or row.watermark is None else row.watermark - SAFETY
        days = dirty_days(s, tenant_id, since, zone)
    for day in sorted(days):
        with db.tenant_transaction(tenant_id) as s:
            recompute_day(s, tenant_id, day, zone, policy)
    with db.tenant_transaction(tenant_id) as s:
        stored = s.scalar(select(AnalyticsSettings).where(AnalyticsSettings.tenant_id == tenant_id))
        if stored is None:
            stored = settings_of(s, tenant_id)
            s.add(stored)
        stored.watermark = now
    return len(days)


def run(db: Database, tenants: Iterable[uuid.UUID] | None = None) -> int:
    """The periodic task's body: every active tenant (or those given)."""
    if tenants is None:
        with db.platform_read() as s:
            tenants = list(s.scalars(select(Tenant.id).where(Tenant.is_active.is_(True))))
    return sum(run_tenant(db, t) for t in tenants)
