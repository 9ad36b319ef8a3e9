"""The bot's reply policy: a pure function from NLU results + conversation state to one decision.

``decide`` has no side effects and no I/O: the same input always yields the same :class:`Decision`, so every
rule is unit-tested and auditable (the decision carries a machine-readable ``reason``). Rules, first match
wins:

 1. urgent words (tenant list, e.g. 出血 / 胸痛 / 急救 / chest pain)  → ``hand_over``, priority ``urgent``;
 2. explicit request for a person (转人工, 人工客服, 人工, human, agent, real person, ...) → ``hand_over``;
 3. complaint cues (投诉, 12315, complaint) → ``hand_over`` (priority high);
 4. angry customer (sentiment label ``angry``/``urgent``) → ``hand_over`` (priority high);
 5. forbidden topic (tenant keyword lists: medical diagnosis, medication, investment advice, ...) →
    ``decline`` with a polite fixed text — the bot never improvises on these;
 6. small talk (the message is only a greeting / thanks / goodbye) → ``smalltalk``;
 7. confident intent mapped to a flow → ``flow``;
 8. FAQ: calibrated retrieval score ≥ ``answer_threshold`` and a clear lead → ``answer``. With the tenant's
    trained model (a :class:`Judgement` and its :class:`~.answer_policy.OperatingPoint`) ``faq`` holds only the
    entries published after the model was trained (it cannot know them; this rule answers them first), then
    ``answer`` when P(best entry right) ≥ the point's ``answer`` threshold and the question is not unrelated
    (less similar to every example than the point's ``similarity``);
 9. otherwise a *low-confidence turn*: VIP / elderly customers (tenant-configurable tags) go to a human
    right away; a second consecutive low-confidence turn → ``hand_over``; else, with a model, ``clarify`` with
    its 2–3 best entries when P(the right one is among them) ≥ the point's ``clarify`` threshold and the question
    is not unrelated, otherwise ``decline``; without a model, ``clarify`` when something plausible exists (top two
    offered as buttons when they are close; the single best otherwise) or ``decline`` (out of scope: polite,
    nothing invented).

The returned ``state`` is the conversation's next bot state (the caller stores it): the low-confidence
counter resets on any confident outcome.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .answer_policy import OperatingPoint
from .entities import Entity
from .intents import IntentPrediction
from .normalize import detect_language, normalize
from .retrieval import FaqMatch
from .sentiment import Sentiment

__all__ = [
    "MESSAGES",
    "BotState",
    "Decision",
    "Judgement",
    "PolicySettings",
    "decide",
    "is_human_request",
    "smalltalk_kind",
]

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "hand_over": "正在为您转接人工客服，请稍候。",
        "hand_over_urgent": "您的情况可能很紧急，已为您优先转接人工客服。如有生命危险，请立即拨打 120 急救电话。",
        "clarify": "您想问的是下面哪个问题？",
        "clarify_one": "您是想问这个问题吗？",
        "decline": "抱歉，这个问题我暂时无法回答。您可以换个说法，或回复“人工”联系人工客服。",
        "forbidden": "抱歉，这类问题（{topic}）需要专业人士解答，我无法提供建议。如需帮助，请回复“人工”。",
        "greeting": "您好！请问有什么可以帮您？",
        "thanks": "不客气，很高兴能帮到您！",
        "goodbye": "感谢您的咨询，再见！",
    },
    "en": {
        "hand_over": "I'm connecting you with a member of our team. Please wait a moment.",
        "hand_over_urgent": "This sounds urgent, so I'm connecting you with a person right away. If anyone's life "
        "is in danger, please call your local emergency number now.",
        "clarify": "Which of these did you mean?",
        "clarify_one": "Did you mean this?",
        "decline": 'Sorry, I can\'t answer that. You could rephrase it, or type "agent" to reach a person.',
        "forbidden": "Sorry, questions about {topic} need a qualified professional, so I can't advise on them. "
        'Type "agent" if you\'d like help from a person.',
        "greeting": "Hello! How can I help you?",
        "thanks": "You're welcome, glad I could help!",
        "goodbye": "Thanks for contacting us. Goodbye!",
    },
}

_TOPIC_NAMES = {
    "zh-CN": {"medical_diagnosis": "医疗诊断", "medication": "用药", "investment_advice": "投资建议"},
    "en": {
        "medical_diagnosis": "medical diagnosis",
        "medication": "medication",
        "investment_advice": "investment advice",
    },
}

DEFAULT_FORBIDDEN_TOPICS: dict[str, tuple[str, ...]] = {
    "medical_diagnosis": ("诊断", "什么病", "病因", "是不是癌", "diagnose", "diagnosis", "what disease", "symptoms of"),
    "medication": ("吃什么药", "用什么药", "用药", "药量", "剂量", "能吃药吗", "dosage", "which medicine",
                   "what medication", "what medicine should"),
    "investment_advice": ("买哪只股票", "推荐股票", "理财建议", "投资建议", "基金推荐", "该不该买", "stock tip",
                          "which stock", "investment advice", "should i invest"),
}  # fmt: skip

DEFAULT_URGENT_WORDS: tuple[str, ...] = (
    "出血", "大出血", "胸痛", "急救", "呼吸困难", "昏迷", "晕倒", "自杀", "轻生", "中毒", "救命",
    "chest pain", "bleeding", "can't breathe", "cannot breathe", "unconscious", "suicide", "overdose",
)  # fmt: skip

_HUMAN_PATTERNS = re.compile(
    r"转人工|人工客服|人工服务|人工坐席|找人工|要人工|接人工|真人|客服人员|^人工[!！。.]?$|"
    r"\b(?:real|live|actual) (?:person|human|agent)\b|\bhuman (?:agent|being|operator)\b|"
    r"\b(?:talk|speak|chat|connect|transfer|put)\b[\w ']{0,20}\b(?:human|agent|person|someone|representative|"
    r"operator|staff)\b|^(?:(?:a |an )?(?:human|agent|operator|representative)(?: please| now| pls)?[!.?]*)$",
    re.I,
)
_SMALLTALK = {
    "greeting": ("你好", "您好", "嗨", "哈喽", "在吗", "在不在", "早上好", "下午好", "晚上好", "hi", "hello",
                 "hey", "good morning", "good afternoon", "good evening"),
    "thanks": ("谢谢", "多谢", "感谢", "谢啦", "thanks", "thank you", "thx", "cheers", "好的谢谢"),
    "goodbye": ("再见", "拜拜", "bye", "goodbye", "see you", "没事了", "没有了"),
}  # fmt: skip
_FILLER = re.compile(r"[\s\W_]+|啊|呀|哦|哈|啦|呢|吗|了|的|你|您|很|非常|a lot|so much|very much|there|you", re.I)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Tenant settings for the policy. Thresholds apply to *calibrated* scores (see retrieval / intents)."""

    answer_threshold: float = 0.75
    clarify_threshold: float = 0.40
    close_margin: float = 0.10
    intent_threshold: float = 0.60
    max_low_confidence_turns: int = 2
    urgent_words: tuple[str, ...] = DEFAULT_URGENT_WORDS
    forbidden_topics: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_FORBIDDEN_TOPICS))
    handover_tags: tuple[str, ...] = ("vip", "elderly")
    handover_on_anger: bool = True
    handover_on_complaint: bool = True
    flows: Mapping[str, str] = field(default_factory=dict)  # intent label → flow id
    default_language: str = "zh-CN"
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # language → message key → tenant's text
    intent_answers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # intent label → language → text


@dataclass(frozen=True, slots=True)
class BotState:
    """Per-conversation state the policy needs; stored by the caller between turns."""

    low_confidence_turns: int = 0


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the tenant's model says about a message's FAQ answer (see :class:`~.intents.IntentPrediction`)."""

    candidates: tuple[tuple[str, str], ...]  # (entry id, question) to answer with or offer, best first
    confidence: float  # P(the first is right)
    coverage: float  # P(the right entry is among the candidates)
    similarity: float  # cosine to the nearest training example
    out_of_scope: bool = False  # the tenant's own out-of-scope examples won


@dataclass(frozen=True, slots=True)
class Decision:
    """What the bot does with this turn."""

    kind: str  # answer | clarify | flow | hand_over | decline | smalltalk
    reason: str
    state: BotState
    language: str
    message: str | None = None  # the policy's own canned text (None for answer/flow: the caller renders those)
    priority: str = "normal"  # normal | high | urgent (hand-over queue priority)
    entry_id: str | None = None  # FAQ entry to answer with
    flow_id: str | None = None
    intent: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # clarify buttons: (entry_id, question)
    confidence: float = 0.0


def is_human_request(text: str) -> bool:
    """True if the customer explicitly asks for a person."""
    return _HUMAN_PATTERNS.search(normalize(text)) is not None


def _contains(norm: str, word: str) -> bool:
    w = _matcher(word)
    if isinstance(w, str):
        return w in norm
    return w.search(norm) is not None


@functools.lru_cache(maxsize=4096)
def _matcher(word: str) -> str | re.Pattern[str]:
    """A keyword as it is matched (normalised; Latin words as whole words), worked out once per word: the
    policy tests every urgent, small-talk and topic word against every message."""
    w = normalize(word)
    if re.search(r"[a-z]", w):
        return re.compile(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])")
    return w


def smalltalk_kind(text: str) -> str | None:
    """``"greeting"``, ``"thanks"`` or ``"goodbye"`` if the message is *only* that, else None."""
    norm = normalize(text)
    found = None
    rest = norm
    for kind, words in _SMALLTALK.items():
        for w in sorted(words, key=len, reverse=True):
            if _contains(rest, w):
                found = found or kind
                rest = rest.replace(w, " ")
    if found is None:
        return None
    return found if len(_FILLER.sub("", rest)) <= 1 else None


def _language(text: str, settings: PolicySettings, override: str | None) -> str:
    if override in MESSAGES:
        return override
    lang = detect_language(text, default="")
    if lang == "zh":
        return "zh-CN"
    if lang == "en":
        return "en"
    return settings.default_language if settings.default_language in MESSAGES else "zh-CN"


def decide(
    text: str,
    *,
    faq: Sequence[FaqMatch] = (),
    intent: IntentPrediction | None = None,
    sentiment: Sentiment | None = None,
    entities: Sequence[Entity] = (),
    state: BotState | None = None,
    customer_tags: Sequence[str] = (),
    settings: PolicySettings | None = None,
    language: str | None = None,
    judgement: Judgement | None = None,
    point: OperatingPoint | None = None,
) -> Decision:
    """Decide the reply kind for one customer message (see the module docstring for the rule order).

    ``faq`` must be sorted best first (as :meth:`FaqIndex.search` returns it). ``entities`` are passed
    through for flows; they do not change the decision today. With ``judgement`` and ``point`` the model's
    answer policy decides (rules 8–9); ``faq`` then lists only entries the model has not learnt.
    """
    del entities  # part of the stable signature; flows consume entities, the policy does not (yet)
    cfg = settings or PolicySettings()
    st = state or BotState()
    lang = _language(text, cfg, language)
    msg = {**MESSAGES[lang], **cfg.texts.get(lang, {})}
    norm = normalize(text)
    reset = BotState(low_confidence_turns=0)
    tags = {t.casefold() for t in customer_tags}

    def hand_over(reason: str, priority: str = "normal", key: str = "hand_over") -> Decision:
        return Decision("hand_over", reason, reset, lang, msg[key], priority=priority)

    # 1-4: safety and escalation first
    urgent_hit = next((w for w in cfg.urgent_words if _contains(norm, w)), None)
    if urgent_hit is not None:
        return hand_over(f"urgent_word:{urgent_hit}", "urgent", "hand_over_urgent")
    if is_human_request(text):
        return hand_over("requested_human", "high" if tags & set(cfg.handover_tags) else "normal")
    if sentiment is not None and sentiment.complaint and cfg.handover_on_complaint:
        return hand_over("complaint", "high")
    if sentiment is not None and sentiment.label in ("angry", "urgent") and cfg.handover_on_anger:
        return hand_over(f"negative_emotion:{sentiment.label}", "high")
    # 5: forbidden topics: fixed polite refusal
    for topic, words in cfg.forbidden_topics.items():
        if any(_contains(norm, w) for w in words):
            name = _TOPIC_NAMES[lang].get(topic, topic.replace("_", " "))
            return Decision("decline", f"forbidden_topic:{topic}", st, lang, msg["forbidden"].format(topic=name))
    # 6: small talk
    kind = smalltalk_kind(text)
    if kind is not None:
        return Decision("smalltalk", kind, st, lang, msg[kind])
    # 7: confident intent with a flow
    if (
        intent is not None
        and intent.label is not None
        and not intent.out_of_scope
        and intent.confidence >= cfg.intent_threshold
        and intent.label in cfg.flows
    ):
        return Decision(
            "flow", "intent", reset, lang, None, flow_id=cfg.flows[intent.label], intent=intent.label,
            confidence=intent.confidence,
        )  # fmt: skip
    # 7b: confident intent the tenant answers in its own words
    if (
        intent is not None
        and intent.label is not None
        and not intent.out_of_scope
        and intent.confidence >= cfg.intent_threshold
        and intent.label in cfg.intent_answers
    ):
        return Decision("answer", f"intent:{intent.label}", reset, lang, cfg.intent_answers[intent.label][lang],
                        intent=intent.label, confidence=intent.confidence)  # fmt: skip
    # 8: FAQ answer
    top = faq[0] if faq else None
    second = next((m for m in faq[1:] if m.entry_id != (top.entry_id if top else None)), None)
    close = top is not None and second is not None and top.score - second.score < cfg.close_margin
    modelled = judgement is not None and point is not None and bool(judgement.candidates)
    # with a model, ``faq`` holds only entries it has not learnt: a clear match there is one the model cannot know
    if top is not None and top.score >= cfg.answer_threshold and not close:
        return Decision("answer", "faq", reset, lang, None, entry_id=top.entry_id, confidence=top.score)
    unrelated = False
    if modelled:
        assert judgement is not None and point is not None
        unrelated = judgement.out_of_scope or judgement.similarity < point.similarity
        if not unrelated and judgement.confidence >= point.answer:
            return Decision("answer", "faq_model", reset, lang, None, entry_id=judgement.candidates[0][0],
                            confidence=judgement.confidence)  # fmt: skip
    # 9: low-confidence turn
    turns = st.low_confidence_turns + 1
    if tags & set(cfg.handover_tags):
        tag = sorted(tags & set(cfg.handover_tags))[0]
        return hand_over(f"customer_tag:{tag}", "high")
    if turns >= cfg.max_low_confidence_turns:
        return hand_over("repeated_low_confidence")
    nxt = BotState(low_confidence_turns=turns)
    if modelled:
        assert judgement is not None and point is not None
        options = judgement.candidates
        if not unrelated and len(options) >= 2 and judgement.coverage >= point.clarify:
            return Decision("clarify", "candidates", nxt, lang, msg["clarify"], options=options,
                            confidence=judgement.confidence)  # fmt: skip
        reason = "out_of_scope" if unrelated else "no_match"
        return Decision("decline", reason, nxt, lang, msg["decline"], confidence=judgement.confidence)
    if top is not None and top.score >= cfg.clarify_threshold:
        if close and second is not None and second.score >= cfg.clarify_threshold:
            options = ((top.entry_id, top.question), (second.entry_id, second.question))
            return Decision("clarify", "close_candidates", nxt, lang, msg["clarify"], options=options,
                            confidence=top.score)  # fmt: skip
        return Decision("clarify", "low_confidence", nxt, lang, msg["clarify_one"],
                        options=((top.entry_id, top.question),), confidence=top.score)  # fmt: skip
    reason = "out_of_scope" if intent is None or intent.out_of_scope or top is None else "no_match"
    return Decision("decline", reason, nxt, lang, msg["decline"], confidence=top.score if top else 0.0)
