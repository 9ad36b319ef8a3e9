"""The automatic scorer: rule-based criteria over a conversation's transcript, offline, in Chinese and English.

Pure decision code (no database): :func:`score` takes the transcript and the scorecard version's criteria and
returns one :class:`Finding` per criterion, each pointing at its evidence (message id and character span in that
message's body) with a suggestion for the agent in zh-CN and en. The actions feed it and store the result.

Only the agent's own messages count as the agent's: the assistant's (``bot``) and the system's replies are part of
the transcript (they move the first-response clock to the hand-over) but never pass or fail an agent criterion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from omnidesk.bot.nlu.sentiment import analyze_sentiment

ANSWERS: dict[str, float | None] = {"pass": 1.0, "partial": 0.5, "fail": 0.0, "na": None}
"""Answer choices and the share of a criterion's weight each earns; ``na`` leaves the criterion out."""

KINDS = (
    "greeting",
    "closing",
    "required_phrases",
    "forbidden_phrases",
    "first_response",
    "resolution_time",
    "identity",
    "empathy",
    "solution",
)

GREETINGS = ("您好", "你好", "欢迎", "很高兴为您服务", "hello", "hi", "good morning", "good afternoon",
             "good evening", "welcome", "thanks for contacting", "thank you for contacting")  # fmt: skip
CLOSINGS = ("还有其他", "还有什么", "祝您", "再见", "感谢您的", "感谢耐心", "anything else", "have a great",
            "have a nice", "goodbye", "bye", "thank you for contacting", "thanks for reaching")  # fmt: skip
EMPATHY = ("抱歉", "不好意思", "理解您", "非常理解", "给您带来不便", "sorry", "apologi", "understand",
           "inconvenience")  # fmt: skip
SOLUTIONS = ("为您", "已经", "已为您", "建议您", "退款", "补发", "处理", "you can", "i have", "i've", "we will",
             "we'll", "refund", "replacement", "here is how", "here's how", "please try")  # fmt: skip
VERIFY = ("核实", "验证", "身份", "后四位", "verify", "verification", "confirm your identity", "last four digits")
ACCOUNT_DATA = ("余额", "账户信息", "卡号", "账单", "balance", "account number", "statement", "card ending")

SUGGESTIONS: dict[str, dict[str, str]] = {
    "greeting": {
        "zh-CN": "首次回复先问候客户，例如“您好，很高兴为您服务”。",
        "en": "Open your first reply with a greeting, e.g. “Hello, happy to help.”",
    },
    "closing": {
        "zh-CN": "结束前询问是否还有其他问题并礼貌道别，例如“还有其他可以帮您的吗？祝您生活愉快”。",
        "en": "Before closing, ask whether there is anything else and say goodbye, e.g. “Anything else I can do?”",
    },
    "required_phrases": {
        "zh-CN": "按规定说出必备话术（如风险提示），缺少：{missing}。",
        "en": "Say the required wording (e.g. the risk disclosure); missing: {missing}.",
    },
    "forbidden_phrases": {
        "zh-CN": "避免使用禁用语“{found}”，换成礼貌、专业的说法。",
        "en": "Avoid the forbidden phrase “{found}”; use polite, professional wording.",
    },
    "first_response": {
        "zh-CN": "首次响应用了 {seconds} 秒，目标 {limit} 秒内；先简短回应客户，再处理问题。",
        "en": "First response took {seconds} s against a target of {limit} s; acknowledge first, then work on it.",
    },
    "resolution_time": {
        "zh-CN": "解决用了 {seconds} 秒，目标 {limit} 秒内；复杂问题可转工单跟进。",
        "en": "Resolution took {seconds} s against a target of {limit} s; move long cases to a ticket.",
    },
    "identity": {
        "zh-CN": "提供账户信息前先核实客户身份（如手机号后四位）。",
        "en": "Verify the customer's identity (e.g. last four digits) before giving account details.",
    },
    "empathy": {
        "zh-CN": "客户情绪不佳时先表达理解和歉意，例如“非常理解您的心情，给您带来不便很抱歉”。",
        "en": "When the customer is upset, acknowledge it first, e.g. “I understand, and I'm sorry for the trouble.”",
    },
    "solution": {
        "zh-CN": "给出明确的解决方案或下一步，例如“已为您申请补发，预计明天送达”。",
        "en": "Offer a clear solution or next step, e.g. “I have arranged a replacement; it arrives tomorrow.”",
    },
}


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the transcript (internal notes are left out before scoring)."""

    id: str
    sender: str  # customer, agent, bot, system
    body: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Transcript:
    turns: Sequence[Turn]
    created_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Span:
    message_id: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "start": self.start, "end": self.end}


@dataclass(slots=True)
class Finding:
    key: str
    kind: str
    answer: str
    evidence: list[Span] = field(default_factory=list)
    suggestion: dict[str, str] = field(default_factory=dict)
    detail: str = ""


def _word_start(phrase: str) -> bool:
    return phrase[:1].isascii() and phrase[:1].isalpha()


@lru_cache(maxsize=1024)
def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation for a phrase list: Latin phrases must start at a word boundary ("hi" is not in "this");
    Chinese ones match anywhere. Longest first, so "您好" is not cut short by a shorter alternative."""
    parts = []
    for phrase in sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True):
        escaped = re.escape(phrase)
        if _word_start(phrase):
            tail = r"(?![a-z])" if phrase[-1:].isalpha() and len(phrase) <= 3 else ""
            parts.append(r"(?<![a-z])" + escaped + tail)
        else:
            parts.append(escaped)
    return re.compile("|".join(parts) if parts else r"(?!x)x")


def find(body: str, phrases: Iterable[str]) -> tuple[int, int] | None:
    """The first span of any phrase in ``body`` (case-insensitive), as offsets into ``body`` itself."""
    lowered = body.lower()
    if len(lowered) != len(body):  # a rare character whose lower case is longer: fall back to the body as is
        lowered = body
    match = _pattern(tuple(phrases)).search(lowered)
    return (match.start(), match.end()) if match else None


def _whole(turn: Turn) -> Span:
    return Span(turn.id, 0, len(turn.body))


def _phrases(criterion: dict[str, Any], default: Sequence[str]) -> tuple[str, ...]:
    extra = criterion.get("phrases") or []
    return tuple(extra) if criterion.get("replace_defaults") else (*default, *extra)


def _fmt(kind: str, **values: Any) -> dict[str, str]:
    return {lang: text.format(**values) for lang, text in SUGGESTIONS[kind].items()}


def _first_in(turns: Sequence[Turn], phrases: Sequence[str], kind: str, key: str, pass_detail: str) -> Finding:
    for turn in turns:
        hit = find(turn.body, phrases)
        if hit:
            return Finding(key, kind, "pass", [Span(turn.id, *hit)], detail=pass_detail)
    evidence = [_whole(turns[-1])] if turns else []
    return Finding(key, kind, "fail", evidence, _fmt(kind))


def score(transcript: Transcript, criteria: Sequence[dict[str, Any]]) -> list[Finding]:
    """One finding per criterion (in the scorecard's order)."""
    turns = transcript.turns
    agent = [t for t in turns if t.sender == "agent"]
    customer = [t for t in turns if t.sender == "customer"]
    out: list[Finding] = []
    for criterion in criteria:
        kind, key = criterion["kind"], criterion["key"]
        if not agent and kind not in ("resolution_time",):
            out.append(Finding(key, kind, "na", detail="no agent reply"))
            continue
        if kind == "greeting":
            hit = find(agent[0].body, _phrases(criterion, GREETINGS))
            out.append(
                Finding(key, kind, "pass", [Span(agent[0].id, *hit)])
                if hit
                else Finding(key, kind, "fail", [_whole(agent[0])], _fmt(kind))
            )
        elif kind == "closing":
            hit = find(agent[-1].body, _phrases(criterion, CLOSINGS))
            out.append(
                Finding(key, kind, "pass", [Span(agent[-1].id, *hit)])
                if hit
                else Finding(key, kind, "fail", [_whole(agent[-1])], _fmt(kind))
            )
        elif kind == "required_phrases":
            required = [p for p in criterion.get("phrases") or [] if p.strip()]
            if not required:
                out.append(Finding(key, kind, "na"))
                continue
            spans, missing = [], []
            for phrase in required:
                found = next(((t, h) for t in agent if (h := find(t.body, (phrase,)))), None)
                if found:
                    spans.append(Span(found[0].id, *found[1]))
                else:
                    missing.append(phrase)
            if missing:
                out.append(
                    Finding(key, kind, "fail", spans or [_whole(agent[-1])], _fmt(kind, missing="、".join(missing)),
                            detail="missing: " + ", ".join(missing))
                )  # fmt: skip
            else:
                out.append(Finding(key, kind, "pass", spans))
        elif kind == "forbidden_phrases":
            forbidden = tuple(p for p in criterion.get("phrases") or [] if p.strip())
            spans = [Span(t.id, *h) for t in agent if (h := find(t.body, forbidden))] if forbidden else []
            if spans:
                first = next(t for t in agent if t.id == spans[0].message_id).body[spans[0].start : spans[0].end]
                out.append(Finding(key, kind, "fail", spans, _fmt(kind, found=first), detail=f"found: {first}"))
            else:
                out.append(Finding(key, kind, "pass" if forbidden else "na"))
        elif kind == "first_response":
            out.append(_first_response(key, turns, agent[0], int(criterion.get("seconds") or 60)))
        elif kind == "resolution_time":
            limit = int(criterion.get("seconds") or 3600)
            if transcript.resolved_at is None or not turns:
                out.append(Finding(key, kind, "na"))
                continue
            took = int((transcript.resolved_at - transcript.created_at).total_seconds())
            ok = took <= limit
            out.append(
                Finding(key, kind, "pass" if ok else "fail", [_whole(turns[-1])],
                        {} if ok else _fmt(kind, seconds=took, limit=limit), detail=f"{took} s")
            )  # fmt: skip
        elif kind == "identity":
            out.append(_identity(key, criterion, agent))
        elif kind == "empathy":
            out.append(_empathy(key, criterion, turns, customer))
        elif kind == "solution":
            out.append(_first_in(agent, _phrases(criterion, SOLUTIONS), kind, key, ""))
        else:
            out.append(Finding(key, kind, "na", detail="unknown kind"))
    return out


def _first_response(key: str, turns: Sequence[Turn], first_agent: Turn, limit: int) -> Finding:
    """From the customer's first message, or, when the assistant had the conversation first, from the hand-over
    (the last assistant message before the first agent reply): the assistant's time is not the agent's."""
    before = [t for t in turns if t.at <= first_agent.at and t.id != first_agent.id]
    bots = [t for t in before if t.sender == "bot"]
    if bots:
        start: datetime | None = bots[-1].at
    else:
        start = next((t.at for t in before if t.sender == "customer"), None)
    if start is None:
        return Finding(key, "first_response", "na")
    took = max(0, int((first_agent.at - start).total_seconds()))
    ok = took <= limit
    suggestion = {} if ok else _fmt("first_response", seconds=took, limit=limit)
    return Finding(key, "first_response", "pass" if ok else "fail", [_whole(first_agent)], suggestion, f"{took} s")


def _identity(key: str, criterion: dict[str, Any], agent: Sequence[Turn]) -> Finding:
    data_words = tuple(criterion.get("account_markers") or ACCOUNT_DATA)
    verify_words = tuple(criterion.get("verify_markers") or VERIFY)
    for n, turn in enumerate(agent):
        given = find(turn.body, data_words)
        if not given:
            continue
        for earlier in agent[:n]:
            hit = find(earlier.body, verify_words)
            if hit:
                return Finding(key, "identity", "pass", [Span(earlier.id, *hit)])
        hit = find(turn.body[: given[0]], verify_words)
        if hit:
            return Finding(key, "identity", "pass", [Span(turn.id, *hit)])
        return Finding(key, "identity", "fail", [Span(turn.id, *given)], _fmt("identity"))
    return Finding(key, "identity", "na", detail="no account data given")


def _empathy(key: str, criterion: dict[str, Any], turns: Sequence[Turn], customer: Sequence[Turn]) -> Finding:
    """Empathy is owed once the customer is upset (the assistant's sentiment signal: negative, angry, urgent);
    the sentiment's movement to the customer's last message decides between a full and a partial pass. The
    signal is read lazily (up to the first upset message, then the last one): it is most of the scorer's cost."""
    upset = None
    for turn in customer:
        sentiment = analyze_sentiment(turn.body)
        if sentiment.label != "neutral":
            upset = (turn, sentiment)
            break
    if upset is None:
        return Finding(key, "empathy", "na", detail="customer never upset")
    turn, first = upset
    last = first if customer[-1] is turn else analyze_sentiment(customer[-1].body)
    words = _phrases(criterion, EMPATHY)
    after = [t for t in turns if t.sender == "agent" and t.at >= turn.at]
    movement = f"sentiment {first.score:.2f} → {last.score:.2f}"
    for reply in after:
        hit = find(reply.body, words)
        if hit:
            answer = "pass" if last.score <= first.score else "partial"
            return Finding(key, "empathy", answer, [Span(reply.id, *hit)],
                           {} if answer == "pass" else _fmt("empathy"), movement)  # fmt: skip
    evidence = [_whole(after[0])] if after else [_whole(turn)]
    return Finding(key, "empathy", "fail", evidence, _fmt("empathy"), movement)


def percent(answers: Sequence[dict[str, Any]]) -> float:
    """The weighted score in percent over the criteria that apply (``na`` left out); 100 when none applies."""
    earned = total = 0.0
    for item in answers:
        share = ANSWERS.get(item["answer"])
        if share is None:
            continue
        weight = float(item.get("weight") or 0)
        earned += weight * share
        total += weight
    return round(100.0 * earned / total, 1) if total else 100.0


def default_criteria() -> list[dict[str, Any]]:
    """The starting scorecard: every rule kind, weights summing to 100."""
    names = {
        "greeting": ("开场问候", "Greeting"),
        "closing": ("结束语", "Closing"),
        "required_phrases": ("必备话术", "Required wording"),
        "forbidden_phrases": ("禁用语", "Forbidden phrases"),
        "first_response": ("首次响应时长", "First response time"),
        "resolution_time": ("解决时长", "Resolution time"),
        "identity": ("先核身后提供账户信息", "Identity verified before account data"),
        "empathy": ("共情与情绪变化", "Empathy and sentiment"),
        "solution": ("提供解决方案", "Solution offered"),
    }
    weights = {"greeting": 10, "closing": 10, "required_phrases": 10, "forbidden_phrases": 15, "first_response": 10,
               "resolution_time": 5, "identity": 15, "empathy": 10, "solution": 15}  # fmt: skip
    out: list[dict[str, Any]] = []
    for kind in KINDS:
        zh, en = names[kind]
        item: dict[str, Any] = {"key": kind, "kind": kind, "weight": weights[kind], "names": {"zh-CN": zh, "en": en},
                                "choices": ["pass", "partial", "fail", "na"]}  # fmt: skip
        if kind == "forbidden_phrases":
            item["phrases"] = ["不知道", "不归我管", "你自己看", "爱买不买", "not my problem", "whatever", "calm down"]
        if kind == "first_response":
            item["seconds"] = 60
        if kind == "resolution_time":
            item["seconds"] = 3600
        out.append(item)
    return out
