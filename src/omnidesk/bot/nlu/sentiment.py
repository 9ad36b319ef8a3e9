"""Lexicon-based negative / angry / urgent detection for zh and en, with negation and intensity.

Deliberately simple and transparent (the policy hands angry customers over to a human, so a reviewer must be
able to see *why*): each cue has a weight; a negator shortly before a cue ("不满意" is a cue, "没有不满意"/"not
angry" flips it) cancels it; intensity multiplies the score: repeated "!"/"！", "???", ALL-CAPS words.

Invariants: ``score`` is in [0, 1]; ``label`` is one of ``"neutral"``, ``"negative"``, ``"angry"``,
``"urgent"``; ``complaint`` is True when a complaint cue (投诉, 12315, complaint, ...) is present, whatever the
label; ``cues`` lists the matched cue words (for audit logs).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .normalize import normalize

__all__ = ["Sentiment", "analyze_sentiment"]


@dataclass(frozen=True, slots=True)
class Sentiment:
    """Result of :func:`analyze_sentiment`."""

    label: str
    score: float
    complaint: bool
    urgent: bool
    cues: tuple[str, ...]


# weight: 1 = mildly negative, 2 = clearly negative, 3 = angry / abusive
_NEG_ZH = {
    "不满意": 2, "不满": 2, "失望": 2, "太差": 2, "很差": 2, "差劲": 2, "垃圾": 3, "骗子": 3, "骗人": 3, "坑人": 3,
    "太慢": 1, "好慢": 1, "没用": 2, "不行": 1, "糟糕": 2, "烦死": 3, "气死": 3, "生气": 2, "愤怒": 3,
    "无语": 2, "恶心": 3, "退钱": 2, "还钱": 2, "什么破": 3, "破玩意": 3, "坑爹": 3, "离谱": 2, "过分": 2,
    "欺骗": 3, "忽悠": 2, "耍我": 3, "滚": 3, "妈的": 3, "他妈": 3, "傻逼": 3, "sb": 3, "差评": 2, "不靠谱": 2,
    "等了半天": 1, "一直没": 1, "还没到": 1, "还没有": 1, "没人管": 2, "没人理": 2, "不处理": 2, "不回复": 2,
    "麻烦": 1, "问题": 0, "着急": 1, "急死": 2, "崩溃": 2, "受不了": 2,
}  # fmt: skip
_NEG_EN = {
    "unhappy": 2, "disappointed": 2, "disappointing": 2, "terrible": 2, "awful": 2, "horrible": 2, "worst": 3,
    "useless": 2, "ridiculous": 2, "unacceptable": 3, "angry": 3, "furious": 3, "annoyed": 2, "frustrated": 2,
    "frustrating": 2, "scam": 3, "fraud": 3, "rip off": 3, "ripoff": 3, "sucks": 3, "hate": 2, "bad": 1, "poor": 1,
    "slow": 1, "still waiting": 1, "never arrived": 1, "not working": 1, "doesn't work": 1, "broken": 1,
    "refund": 1, "wtf": 3, "damn": 2, "stupid": 3, "idiot": 3, "pathetic": 3, "waste": 2, "fed up": 3,
    "sick of": 3, "no one": 1, "nobody": 1, "upset": 2, "wrong": 1,
}  # fmt: skip
_COMPLAINT = ("投诉", "12315", "举报", "曝光", "消协", "消费者协会", "工商局", "媒体", "律师", "起诉", "告你们",
              "complaint", "complain", "file a complaint", "report you", "lawyer", "sue ", "legal action",
              "ombudsman", "bbb")  # fmt: skip
_URGENT = ("紧急", "急急", "十万火急", "马上", "立刻", "立即", "赶紧", "尽快", "救命", "urgent", "urgently",
           "asap", "emergency", "immediately", "right now", "right away", "help!")  # fmt: skip
_NEGATORS_ZH = ("不是", "没有", "并不", "不会", "不", "没", "别", "无")
_NEGATORS_EN = ("not", "no", "never", "isn't", "wasn't", "aren't", "don't", "didn't", "not too", "hardly")
_EN_WORD_CUE = re.compile(r"[a-z]")
_BANG_RE = re.compile(r"[!！]{2,}")
_QUESTION_RE = re.compile(r"[?？]{2,}")
_CAPS_RE = re.compile(r"\b[A-Z]{3,}\b")


def _find(text: str, cue: str) -> list[int]:
    """Start offsets of ``cue`` in ``text``; Latin cues must match whole words."""
    if cue.strip() not in text:  # the common case, settled without a regular expression
        return []
    if _EN_WORD_CUE.search(cue):
        return [m.start() for m in _word_pattern(cue).finditer(text)]
    out, start = [], text.find(cue)
    while start >= 0:
        out.append(start)
        start = text.find(cue, start + 1)
    return out


@functools.lru_cache(maxsize=4096)
def _word_pattern(cue: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z])" + re.escape(cue.strip()) + r"(?![a-z])")


def _negated(text: str, start: int, cue: str) -> bool:
    if _EN_WORD_CUE.search(cue):
        before = text[max(0, start - 16) : start].split()[-2:]
        return any(w in _NEGATORS_EN for w in before)
    window = text[max(0, start - 3) : start]
    # "没有不满意", "不太差", "并不生气": a negator right before the cue, or one adverb in between
    return any(window.endswith(n) or window[:-1].endswith(n) for n in _NEGATORS_ZH)


@functools.lru_cache(maxsize=4096)
def _normalized(cue: str) -> str:
    return normalize(cue)


@functools.lru_cache(maxsize=1)
def _any_cue() -> re.Pattern[str]:
    """Every cue of every list in one alternation, each matched as :func:`_find` matches it: a message where
    none occurs is neutral whatever its punctuation (intensity only multiplies cues), so most messages are
    settled with one scan instead of one per cue (quality inspection reads every customer message)."""
    cues = [c for lexicon in (_NEG_ZH, _NEG_EN) for c, w in lexicon.items() if w]
    cues += list(_COMPLAINT) + [_normalized(c) for c in _URGENT]
    parts = [_word_pattern(c).pattern if _EN_WORD_CUE.search(c) else re.escape(c) for c in cues]
    return re.compile("|".join(sorted(set(parts), key=len, reverse=True)))


_NEUTRAL = Sentiment(label="neutral", score=0.0, complaint=False, urgent=False, cues=())


def analyze_sentiment(text: str, *, urgent_words: tuple[str, ...] = ()) -> Sentiment:
    """Score negativity of one customer message; ``urgent_words`` adds tenant-specific urgency cues."""
    norm = normalize(text)
    if not urgent_words and _any_cue().search(norm) is None:
        return _NEUTRAL
    total = 0.0
    angry = False
    cues: list[str] = []
    for lexicon in (_NEG_ZH, _NEG_EN):
        for cue, weight in lexicon.items():
            if weight == 0:
                continue
            for start in _find(norm, cue):
                if _negated(norm, start, cue):
                    continue
                # "不满意" must not also count "不满" (substring) twice
                if any(cue != c and cue in c and c in cues for c in lexicon):
                    continue
                total += weight
                angry = angry or weight >= 3
                cues.append(cue)
                break
    complaint = [c for c in _COMPLAINT if _find(norm, c)]
    urgent = [c for c in (*_URGENT, *urgent_words) if _find(norm, _normalized(c))]
    cues.extend(complaint)
    cues.extend(urgent)
    intensity = 1.0
    if _BANG_RE.search(text):
        intensity += 0.5
    if _QUESTION_RE.search(text):
        intensity += 0.3
    if len(_CAPS_RE.findall(text)) >= 2 or (
        len(text) >= 8 and sum(c.isupper() for c in text) > 0.6 * max(1, sum(c.isalpha() for c in text))
    ):
        intensity += 0.5
        if total > 0:
            angry = True
    if complaint:
        total += 2
    raw = total * intensity
    score = round(raw / (raw + 3.0), 4) if raw > 0 else 0.0
    if urgent:
        label = "urgent"
        score = max(score, 0.75)
    elif angry or (intensity >= 1.5 and total >= 2) or score >= 0.7:
        label = "angry"
    elif score >= 0.35:
        label = "negative"
    else:
        label = "neutral"
    return Sentiment(label=label, score=score, complaint=bool(complaint), urgent=bool(urgent), cues=tuple(cues))
