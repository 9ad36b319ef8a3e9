"""Day-one reports: conversations by channel and by hour of day, first response and resolution times (median,
p90), CSAT, and the assistant's containment and hand-over rates, for a date range in the tenant's time zone.

Every figure is computed in SQL (GROUP BY, window functions) on SQLite and PostgreSQL alike; Python only labels
the rows. Every statement names the tenant explicitly, besides the session's own tenant scoping.

Definitions (docs/reports.md):
* a conversation belongs to the range by its ``created_at`` (local dates, ``[from, to]`` inclusive);
* first response time: from the conversation's start to its first public message written by a person (an agent);
  conversations no person answered are left out;
* resolution time: from its start to ``resolved_at``, for conversations that are resolved now;
* percentiles use the nearest-rank method: the p-th percentile of n sorted values is the ⌈p·n⌉-th (the median of
  an even count is therefore the lower middle value);
* CSAT: ratings given in the range; satisfied = 4 or 5 stars; CSAT % = satisfied / ratings;
* the assistant's conversations are those it took (a ``bot_conversations`` row); contained = resolved, still held
  by the assistant, and with no message from a person; handed over = now held by people.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session

from omnidesk.bot.models import BotConversation
from omnidesk.conversations.models import Conversation, ConversationRating, Message
from omnidesk.core.actor import Actor
from omnidesk.core.errors import InvalidInput
from omnidesk.security.permissions import Perm

MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates ``first`` … ``last`` (inclusive) in ``zone``, and the UTC instants that bound them."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC)


def period(time_zone: str, first: date | None, last: date | None, *, today: date | None = None) -> Period:
    """The range to report on; by default the last 7 days up to today (local). Refuses reversed or huge ranges."""
    zone = ZoneInfo(time_zone)
    today = today or datetime.now(zone).date()
    last = last or today
    first = first or last - timedelta(days=6)
    if first > last:
        raise InvalidInput("the range starts after it ends")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"a range is at most {MAX_DAYS} days")
    return Period(first=first, last=last, zone=zone)


@dataclass(frozen=True, slots=True)
class Durations:
    """How many values, and their median, 90th percentile and mean, in seconds (None when there are none)."""

    count: int
    median: float | None
    p90: float | None
    mean: float | None


@dataclass(frozen=True, slots=True)
class Csat:
    ratings: int
    satisfied: int
    mean_score: float | None
    percent: float | None
    by_score: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BotFigures:
    conversations: int
    contained: int
    handed_over: int

    @property
    def containment_percent(self) -> float | None:
        return round(100 * self.contained / self.conversations, 1) if self.conversations else None

    @property
    def handover_percent(self) -> float | None:
        return round(100 * self.handed_over / self.conversations, 1) if self.conversations else None


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    total: int
    by_channel: dict[str, int]
    by_hour: list[int]
    first_response: Durations
    resolution: Durations
    csat: Csat
    bot: BotFigures


def build(session: Session, actor: Actor, span: Period) -> Report:
    """Every figure of the reports page for ``span``, for the actor's tenant."""
    actor.require(Perm.TICKETS_REPORTS)
    tenant = actor.tenant_id
    by_channel = channels(session, tenant, span)
    return Report(
        period=span,
        total=sum(by_channel.values()),
        by_channel=by_channel,
        by_hour=hours(session, tenant, span),
        first_response=first_response(session, tenant, span),
        resolution=resolution(session, tenant, span),
        csat=csat(session, tenant, span),
        bot=bot(session, tenant, span),
    )


def _in_span(tenant: uuid.UUID, span: Period) -> ColumnElement[bool]:
    return and_(
        Conversation.tenant_id == tenant, Conversation.created_at >= span.start, Conversation.created_at < span.end
    )


def channels(session: Session, tenant: uuid.UUID, span: Period) -> dict[str, int]:
    rows = session.execute(
        select(Conversation.channel, func.count())
        .where(_in_span(tenant, span))
        .group_by(Conversation.channel)
        .order_by(func.count().desc(), Conversation.channel)
    ).all()
    return {channel: int(count) for channel, count in rows}


def hours(session: Session, tenant: uuid.UUID, span: Period) -> list[int]:
    """Conversations started in each local hour of the day (0 … 23).

    PostgreSQL converts to the zone itself. SQLite knows no zones: it counts per UTC quarter hour (every zone's
    offset is a multiple of 15 minutes) and each bucket is labelled with its local hour here, which stays exact
    across daylight-saving changes."""
    out = [0] * 24
    if session.get_bind().dialect.name == "postgresql":
        hour = cast(func.extract("hour", func.timezone(span.zone.key, Conversation.created_at)), Integer)
        for h, count in session.execute(select(hour, func.count()).where(_in_span(tenant, span)).group_by(hour)):
            out[int(h)] += int(count)
        return out
    day_hour = func.strftime("%Y-%m-%d %H", Conversation.created_at)
    quarter = cast(func.strftime("%M", Conversation.created_at), Integer) / 15
    stmt = select(day_hour, quarter, func.count()).where(_in_span(tenant, span)).group_by(day_hour, quarter)
    for label, q, count in session.execute(stmt):
        start = datetime.strptime(str(label), "%Y-%m-%d %H").replace(tzinfo=UTC) + timedelta(minutes=15 * int(q))
        out[start.astimezone(span.zone).hour] += int(count)
    return out


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Seconds from ``earlier`` to ``later``, in the database's own arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _durations(session: Session, value: ColumnElement[Any], *where: Any, per_conversation: bool = False,
               joins: tuple[Any, ...] = ()) -> Durations:  # fmt: skip
    """Count, nearest-rank median and p90, and mean of ``value`` over the rows ``where`` selects, in one query:
    rows are ranked by a window function and the percentile is the least value whose rank reaches ⌈p·n⌉ (integer
    arithmetic: ``rank·10 ≥ 9·n``, so no float rounding picks a neighbour). ``per_conversation`` groups the joined
    rows by conversation first (``value`` then aggregates, e.g. the first reply's time)."""
    inner = select(
        value.label("v"),
        func.row_number().over(order_by=value).label("rn"),
        func.count().over().label("n"),
    ).select_from(Conversation)
    for target, on in joins:
        inner = inner.join(target, on)
    inner = inner.where(*where)
    if per_conversation:
        inner = inner.group_by(Conversation.id, Conversation.created_at)
    ranked = inner.subquery()
    row = session.execute(
        select(
            func.max(ranked.c.n),
            func.min(case((ranked.c.rn * 2 >= ranked.c.n, ranked.c.v))),
            func.min(case((ranked.c.rn * 10 >= ranked.c.n * 9, ranked.c.v))),
            func.avg(ranked.c.v),
        )
    ).one()
    count, median, p90, mean = row
    if not count:
        return Durations(0, None, None, None)
    return Durations(int(count), _round(median), _round(p90), _round(mean))


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


#: Always true (sequence numbers start at 1), but it makes SQLite's planner, which has no table statistics, look
#: messages up through the ``(conversation_id, seq)`` index instead of the tenant's whole ``tenant_id`` index (a
#: month of 20 000 conversations went from minutes to milliseconds). PostgreSQL plans by its statistics either way.
_BY_CONVERSATION = Message.seq >= 1


def first_response(session: Session, tenant: uuid.UUID, span: Period) -> Durations:
    # One pass: the span's conversations joined to their agents' public messages (by the messages' conversation
    # index), grouped per conversation; the first reply is the group's least message time.
    value = _seconds(session, func.min(Message.created_at), Conversation.created_at)
    return _durations(
        session,
        value,
        _in_span(tenant, span),
        Message.tenant_id == tenant,
        _BY_CONVERSATION,
        Message.sender_type == "agent",
        Message.internal.is_(False),
        per_conversation=True,
        joins=((Message, Message.conversation_id == Conversation.id),),
    )


def resolution(session: Session, tenant: uuid.UUID, span: Period) -> Durations:
    value = _seconds(session, Conversation.resolved_at, Conversation.created_at)
    return _durations(
        session, value, _in_span(tenant, span), Conversation.status == "resolved", Conversation.resolved_at.is_not(None)
    )


def csat(session: Session, tenant: uuid.UUID, span: Period) -> Csat:
    in_span = and_(
        ConversationRating.tenant_id == tenant,
        ConversationRating.created_at >= span.start,
        ConversationRating.created_at < span.end,
    )
    rows = session.execute(
        select(ConversationRating.score, func.count()).where(in_span).group_by(ConversationRating.score)
    ).all()
    total, satisfied, mean = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((ConversationRating.score >= 4, 1), else_=0)), 0),
            func.avg(ConversationRating.score),
        ).where(in_span)
    ).one()
    by_score = Counter({int(score): int(count) for score, count in rows})
    return Csat(
        ratings=int(total),
        satisfied=int(satisfied),
        mean_score=round(float(mean), 2) if mean is not None else None,
        percent=round(100 * int(satisfied) / int(total), 1) if total else None,
        by_score={score: by_score.get(score, 0) for score in range(1, 6)},
    )


def bot(session: Session, tenant: uuid.UUID, span: Period) -> BotFigures:
    by_a_person = (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id, _BY_CONVERSATION, Message.sender_type == "agent")
        .exists()
    )
    contained = and_(Conversation.status == "resolved", BotConversation.handled_by == "bot", ~by_a_person)
    total, kept, handed = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((contained, 1), else_=0)), 0),
            func.coalesce(func.sum(case((BotConversation.handled_by == "human", 1), else_=0)), 0),
        )
        .select_from(Conversation)
        .join(BotConversation, BotConversation.conversation_id == Conversation.id)
        .where(_in_span(tenant, span), BotConversation.tenant_id == tenant)
    ).one()
    return BotFigures(conversations=int(total), contained=int(kept), handed_over=int(handed))
