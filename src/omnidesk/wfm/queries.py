"""History per queue (team) and 15/30-minute interval, read from the contacts themselves (tenant-scoped reads).

A *contact* is a conversation that reached people: conversations the assistant still holds or contained (its
``bot_conversations`` row says ``handled_by = "bot"``) are not work for agents and are left out. Per contact:

* arrival — ``conversations.created_at`` (for a conversation handed over by the assistant this counts its bot
  time as waiting: stated, not hidden);
* answered — the first message by an agent; wait = that minus the arrival;
* handle time — resolution minus the first agent message (resolved contacts only);
* abandoned — resolved or closed without any agent message.
The queue is the conversation's team (``"—"`` for none). Intervals are in the tenant's time zone.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import Team
from omnidesk.bot.models import BotConversation
from omnidesk.conversations.models import Conversation, Message

NO_TEAM = "—"
MAX_DAYS = 120


@dataclass(slots=True)
class IntervalStats:
    """One queue's figures for one interval (local start time)."""

    queue: str
    start: datetime
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within: int = 0
    wait_total: float = 0.0
    handle_total: float = 0.0
    handled: int = 0

    @property
    def aht(self) -> float | None:
        return self.handle_total / self.handled if self.handled else None

    @property
    def asa(self) -> float | None:
        return self.wait_total / self.answered if self.answered else None

    @property
    def service_level(self) -> float | None:
        return self.answered_within / self.offered if self.offered else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def history(
    session: Session,
    tenant_id: uuid.UUID,
    time_zone: str,
    first: date,
    last: date,
    interval_minutes: int = 30,
    within: float = 20.0,
) -> dict[str, list[IntervalStats]]:
    """Every interval of every queue from ``first`` to ``last`` (local days, inclusive), empty intervals included,
    so a forecast sees zeros as zeros. One query: conversations joined to their first agent message."""
    if interval_minutes not in (15, 30, 60):
        raise ValueError("interval must be 15, 30 or 60 minutes")
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValueError(f"the range must be at most {MAX_DAYS} days")
    zone = ZoneInfo(time_zone)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    first_agent = (
        select(Message.conversation_id, func.min(Message.created_at).label("at"))
        .where(Message.tenant_id == tenant_id, Message.sender_type == "agent", Message.internal.is_(False))
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Conversation.created_at, Conversation.status, Conversation.resolved_at, Team.name, first_agent.c.at)
        .outerjoin(Team, Team.id == Conversation.team_id)
        .outerjoin(first_agent, first_agent.c.conversation_id == Conversation.id)
        .outerjoin(
            BotConversation,
            and_(BotConversation.conversation_id == Conversation.id, BotConversation.tenant_id == tenant_id),
        )
        .where(
            Conversation.tenant_id == tenant_id,
            Conversation.created_at >= start,
            Conversation.created_at < end,
            (BotConversation.handled_by.is_(None)) | (BotConversation.handled_by != "bot"),
        )
    ).all()
    step = timedelta(minutes=interval_minutes)
    slots: list[datetime] = []
    day = first
    while day <= last:
        t = datetime.combine(day, time(), zone)
        for _ in range(24 * 60 // interval_minutes):
            slots.append(t)
            t = t + step
        day += timedelta(days=1)
    queues = {row[3] or NO_TEAM for row in rows}
    out: dict[str, dict[datetime, IntervalStats]] = defaultdict(dict)
    for q in queues:
        out[q] = {s: IntervalStats(q, s) for s in slots}
    for created, status, resolved, team, answered_at in rows:
        arrival = _aware(created).astimezone(zone)
        minute = (arrival.hour * 60 + arrival.minute) // interval_minutes * interval_minutes
        slot = datetime.combine(arrival.date(), time(minute // 60, minute % 60), zone)
        stats = out[team or NO_TEAM].get(slot)
        if stats is None:
            continue
        stats.offered += 1
        if answered_at is not None:
            wait = (_aware(answered_at) - _aware(created)).total_seconds()
            stats.answered += 1
            stats.wait_total += wait
            stats.answered_within += wait <= within
            if resolved is not None:
                stats.handle_total += max(0.0, (_aware(resolved) - _aware(answered_at)).total_seconds())
                stats.handled += 1
        elif status in ("resolved", "closed"):
            stats.abandoned += 1
    return {q: list(v.values()) for q, v in sorted(out.items())}


def totals(history_by_queue: dict[str, list[IntervalStats]]) -> list[IntervalStats]:
    """All queues added up per interval."""
    merged: dict[datetime, IntervalStats] = {}
    for series in history_by_queue.values():
        for s in series:
            m = merged.setdefault(s.start, IntervalStats("*", s.start))
            m.offered += s.offered
            m.answered += s.answered
            m.abandoned += s.abandoned
            m.answered_within += s.answered_within
            m.wait_total += s.wait_total
            m.handle_total += s.handle_total
            m.handled += s.handled
    return [merged[k] for k in sorted(merged)]
