"""The metric catalogue (指标目录) and the pure per-conversation rules behind every figure.

Each metric is defined once here: its id, names in zh-CN and en, formula, numerator and denominator, business-hours
policy and version. :func:`facts` turns one conversation's history (plain values, no database) into the counters
every metric is summed from, so the golden test vectors (``tests/analytics/test_metrics_golden.py``) pin the
definitions without a database, and the interval tables (``analytics/intervals.py``) only add these counters up.

The traps the definitions settle:

* first response after a hand-over from the assistant counts from the hand-over (the customer was not waiting for
  a person before), and the assistant's replies are never an agent's reply;
* abandonment counts customers who left while queued for a person; a requested callback is not abandonment;
* bot containment needs the assistant to have resolved it with no person's message *and* no repeat contact by the
  same customer within 24 hours;
* first-contact resolution needs no repeat contact by the same customer within N hours of the resolution (N is the
  tenant's setting, 24 by default).

Business hours: every duration is calendar time (24 × 7). Business-hours clocks exist for tickets' SLA
(``tickets/sla``), not for conversations yet; the catalogue says so per metric so a reader is never misled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Literal

CONTAINMENT_WINDOW = timedelta(hours=24)
DEFAULT_FCR_HOURS = 24
DEFAULT_SERVICE_LEVEL_SECONDS = 30

Kind = Literal["count", "duration", "percent", "score"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One catalogue entry. ``numerator`` / ``denominator`` name counters of :class:`Counters` (a duration's
    numerator is a sum of seconds, so the figure is a mean)."""

    id: str
    name_zh: str
    name_en: str
    kind: Kind
    formula_zh: str
    formula_en: str
    numerator: str
    denominator: str | None
    business_hours: str
    version: int = 1

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en

    def formula(self, lang: str) -> str:
        return self.formula_zh if lang.startswith("zh") else self.formula_en

    def value(self, c: Counters) -> float | None:
        """The figure over summed counters: a count, a mean in seconds, or a percentage (None without a base)."""
        top = float(getattr(c, self.numerator))
        if self.denominator is None:
            return float(top)
        base = float(getattr(c, self.denominator))
        if not base:
            return None
        if self.kind == "percent":
            return round(100 * top / base, 1)
        return round(top / base, 1)


CALENDAR = "calendar"  # 24 × 7: no business-hours clock applies

CATALOGUE: tuple[Metric, ...] = (
    Metric(
        "conversations",
        "会话量",
        "Conversations",
        "count",
        "统计区间内开始的会话数",
        "conversations started in the interval",
        "conversations",
        None,
        CALENDAR,
    ),
    Metric(
        "first_response",
        "首次响应时长",
        "First response time",
        "duration",
        "(首条坐席公开回复 − 计时起点) 的平均值；计时起点 = 机器人转人工时刻，否则为会话开始；机器人回复不计",
        "mean of (first public agent reply − clock start); clock start = hand-over from the assistant, else the "
        "conversation's start; the assistant's replies never count",
        "first_response_seconds",
        "first_responses",
        CALENDAR,
    ),
    Metric(
        "speed_of_answer",
        "平均应答速度（排队等待）",
        "Speed of answer (queue wait)",
        "duration",
        "(坐席接起 − 进入人工队列) 的平均值，仅统计已接起的排队会话",
        "mean of (accepted by an agent − entered the queue for people), over answered queued conversations",
        "wait_seconds",
        "answered",
        CALENDAR,
    ),
    Metric(
        "handle_time",
        "处理时长",
        "Handle time",
        "duration",
        "(解决 − 坐席接起或首次回复) 的平均值，仅统计由人处理并已解决的会话",
        "mean of (resolved − accepted by an agent, or the first agent reply), over resolved conversations a "
        "person handled",
        "handle_seconds",
        "handled",
        CALENDAR,
    ),
    Metric(
        "resolution_time",
        "解决时长",
        "Resolution time",
        "duration",
        "(解决 − 会话开始) 的平均值，仅统计已解决的会话",
        "mean of (resolved − start), over resolved conversations",
        "resolution_seconds",
        "resolved",
        CALENDAR,
    ),
    Metric(
        "abandonment",
        "放弃率",
        "Abandonment rate",
        "percent",
        "排队中离开（未被接起、无坐席回复、排队已取消）的会话 ÷ 进入人工队列的会话；预约回呼不计入分子与分母",
        "conversations that left the queue for people unanswered (cancelled, never accepted, no agent reply) ÷ "
        "conversations queued for people; callbacks are excluded from both",
        "abandoned",
        "queued",
        CALENDAR,
    ),
    Metric(
        "bot_containment",
        "机器人拦截率",
        "Bot containment",
        "percent",
        "机器人独立解决（无人工消息）且同一客户 24 小时内未再次联系 ÷ 机器人接待的会话",
        "conversations the assistant resolved with no message from a person and no repeat contact by the same "
        "customer within 24 h ÷ conversations the assistant took",
        "bot_contained",
        "bot_conversations",
        CALENDAR,
    ),
    Metric(
        "transfer_rate",
        "转接率",
        "Transfer rate",
        "percent",
        "被改派给另一位坐席或另一组的会话 ÷ 由人处理的会话",
        "conversations reassigned to another agent or team ÷ conversations a person handled",
        "transferred",
        "people_handled",
        CALENDAR,
    ),
    Metric(
        "fcr",
        "首次解决率",
        "First-contact resolution",
        "percent",
        "已解决且同一客户在解决后 N 小时内未再次联系 ÷ 已解决的会话（N 为工作区设置，默认 24）",
        "resolved conversations with no repeat contact by the same customer within N hours of the resolution ÷ "
        "resolved conversations (N is the workspace setting, 24 by default)",
        "fcr",
        "resolved",
        CALENDAR,
    ),
    Metric(
        "csat",
        "满意度 CSAT",
        "CSAT",
        "percent",
        "4–5 星评价 ÷ 全部评价（按会话开始时间归入区间）",
        "4–5 star ratings ÷ all ratings (by the conversation's start)",
        "csat_satisfied",
        "csat_ratings",
        CALENDAR,
    ),
    Metric(
        "sla_met",
        "服务水平达标率",
        "SLA met (service level)",
        "percent",
        "进入人工队列后 T 秒内被接起 ÷ (已接起 + 放弃)（T 为工作区设置，默认 30 秒；回呼不计）",
        "queued conversations accepted within T seconds ÷ (answered + abandoned) (T is the workspace setting, "
        "30 s by default; callbacks excluded)",
        "sla_met",
        "sla_base",
        CALENDAR,
    ),
)

BY_ID: dict[str, Metric] = {m.id: m for m in CATALOGUE}


@dataclass(frozen=True, slots=True)
class History:
    """What one conversation went through, as plain values gathered by ``intervals.load_histories``.

    ``agent_replies`` are the times of public messages written by people (never the assistant's, never notes);
    ``queued_at`` is when it entered the queue for people (for the assistant's conversations: the hand-over);
    ``assigned_at`` when an agent accepted it there; ``queue_state`` the queue entry's state now;
    ``next_contact_at`` the start of the same customer's next conversation, if any."""

    conversation_id: uuid.UUID
    started_at: datetime
    channel: str = "web"
    team_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    intent: str = ""
    agent_replies: tuple[datetime, ...] = ()
    bot_took: bool = False
    held_by_bot: bool = False
    queued_at: datetime | None = None
    assigned_at: datetime | None = None
    queue_state: str | None = None
    resolved_at: datetime | None = None
    transfers: int = 0
    rating: int | None = None
    callback: bool = False
    next_contact_at: datetime | None = None


@dataclass(slots=True)
class Counters:
    """Additive counters: one conversation's facts, or the sum over an interval (sums of seconds are floats)."""

    conversations: int = 0
    first_responses: int = 0
    first_response_seconds: float = 0.0
    queued: int = 0
    answered: int = 0
    wait_seconds: float = 0.0
    abandoned: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    resolved: int = 0
    resolution_seconds: float = 0.0
    bot_conversations: int = 0
    bot_contained: int = 0
    people_handled: int = 0
    transferred: int = 0
    fcr: int = 0
    csat_ratings: int = 0
    csat_satisfied: int = 0
    sla_base: int = 0
    sla_met: int = 0

    def add(self, other: Counters) -> None:
        for f in COUNTER_NAMES:
            setattr(self, f, getattr(self, f) + getattr(other, f))


COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Counters))


@dataclass(frozen=True, slots=True)
class Policy:
    """The tenant's choices the definitions depend on."""

    fcr_hours: int = DEFAULT_FCR_HOURS
    service_level_seconds: int = DEFAULT_SERVICE_LEVEL_SECONDS


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def facts(h: History, policy: Policy = Policy()) -> Counters:
    """The counters one conversation contributes. Pure: the golden vectors test it directly."""
    c = Counters(conversations=1)
    # First response: the clock starts at the hand-over for the assistant's conversations.
    clock = h.queued_at if (h.bot_took and h.queued_at is not None) else h.started_at
    replies = sorted(t for t in h.agent_replies if t >= clock)
    if replies:
        c.first_responses = 1
        c.first_response_seconds = _seconds(replies[0], clock)
    a_person = bool(h.agent_replies) or h.assigned_at is not None
    # The queue for people.
    if h.queued_at is not None and not h.callback:
        c.queued = 1
        if h.assigned_at is not None:
            c.answered = 1
            c.wait_seconds = _seconds(h.assigned_at, h.queued_at)
            c.sla_base = 1
            c.sla_met = int(c.wait_seconds <= policy.service_level_seconds)
        elif h.queue_state == "cancelled" and not h.agent_replies:
            c.abandoned = 1
            c.sla_base = 1
    if a_person:
        c.people_handled = 1
        c.transferred = int(h.transfers > 0)
    if h.resolved_at is not None:
        c.resolved = 1
        c.resolution_seconds = _seconds(h.resolved_at, h.started_at)
        if a_person:
            began = h.assigned_at or (min(h.agent_replies) if h.agent_replies else h.started_at)
            c.handled = 1
            c.handle_seconds = _seconds(h.resolved_at, began)
        repeat = h.next_contact_at
        c.fcr = int(repeat is None or repeat >= h.resolved_at + timedelta(hours=policy.fcr_hours))
    if h.bot_took:
        c.bot_conversations = 1
        contained = h.held_by_bot and h.resolved_at is not None and not h.agent_replies and h.queued_at is None
        if contained and h.resolved_at is not None:
            repeat = h.next_contact_at
            contained = repeat is None or repeat >= h.resolved_at + CONTAINMENT_WINDOW
        c.bot_contained = int(contained)
    if h.rating is not None:
        c.csat_ratings = 1
        c.csat_satisfied = int(h.rating >= 4)
    return c


def summarize(counters: Counters) -> dict[str, float | None]:
    """Every catalogue metric's figure over summed counters."""
    return {m.id: m.value(counters) for m in CATALOGUE}


#: What a drill-down lists for a metric: the conversations whose facts carry this counter (the numerator).
DRILL_COUNTER: dict[str, str] = {
    m.id: m.numerator if m.kind != "duration" else m.denominator or m.numerator for m in CATALOGUE
}


@dataclass(slots=True)
class Totals:
    """Counters per dimension value (``""`` for the whole tenant)."""

    by_value: dict[str, Counters] = field(default_factory=dict)
