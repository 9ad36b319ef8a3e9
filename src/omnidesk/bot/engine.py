"""The assistant's turn: understand a message, then answer, ask, run a flow, decline, or hand over.

``Assistant.reply`` is a pure function of the tenant's :class:`Brain` (settings, FAQ index, intent model), the
message and the conversation's bot state; it performs no database I/O (connector calls go to the tenant's own
systems). Callers (the conversation pipeline, ``POST /bot/answer``) load the brain and store the new state.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

from omnidesk.bot import flows
from omnidesk.bot.connectors import ConnectorFailure, ConnectorRunner
from omnidesk.bot.llm import LlmClient
from omnidesk.bot.nlu import (
    MESSAGES,
    BotState,
    Encoder,
    Entity,
    FaqIndex,
    FaqMatch,
    IntentClassifier,
    IntentPrediction,
    Judgement,
    OperatingPoint,
    TenantPattern,
    analyze_sentiment,
    decide,
    detect_language,
    extract_entities,
    normalize,
)
from omnidesk.bot.settings import BotSettings, FlowSpec
from omnidesk.knowledge.schemas import ASSISTANT_MATCH_CHARS
from omnidesk.security.outbound import OutboundClient, OutboundPolicy

TEXTS = {
    "zh-CN": {
        "connector_down": "抱歉，查询系统暂时无法访问，请稍后再试，或回复“人工”由客服为您查询。",
        "flow_gave_up": "抱歉，我没能识别您提供的信息，正在为您转接人工客服。",
        "resume": "我们继续刚才的事情：",
        "human": "转人工",
    },
    "en": {
        "connector_down": "Sorry, our lookup system is unavailable right now. Please try again later, or type "
        '"agent" and a person will check for you.',
        "flow_gave_up": "Sorry, I couldn't make out the details, so I'm connecting you with a person.",
        "resume": "Back to what we were doing:",
        "human": "Talk to a person",
    },
}


@dataclass
class FaqItem:
    """One published FAQ entry in one language, as the assistant sees it.

    ``id`` is the knowledge id reported to callers (the external id when the tenant set one) and is shared by the
    translations of an entry; ``key`` is unique per language version and is what the search index holds.
    """

    id: str
    question: str
    variants: list[str]
    answer: str
    language: str
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or f"{self.id}@{self.language}"


@dataclass
class Brain:
    """Everything the assistant knows about one tenant, cached per process and rebuilt when a version moves."""

    settings: BotSettings
    default_language: str
    faq: dict[str, FaqItem]  # by ``FaqItem.key``
    index: FaqIndex
    model: IntentClassifier | None
    patterns: list[TenantPattern]
    versions: tuple[int, ...] = (0, 0, 0, 0)
    llm_api_key: str = field(default="", repr=False)
    # the active model's operating point (answer policy); None: no model, or one trained before the policy
    point: OperatingPoint | None = None
    # (knowledge id, base language) → that translation, e.g. ("faq-return-policy", "en")
    translations: dict[tuple[str, str], FaqItem] = field(init=False, repr=False)
    # knowledge id → one of its versions (any language)
    by_id: dict[str, FaqItem] = field(init=False, repr=False)
    # knowledge ids the intent model has learnt (its labels ``faq:<id>``)
    learnt: frozenset[str] = field(init=False, repr=False)
    # an entry's own question or variant, compared loosely (:func:`exact_key`) → that entry's key; phrasings that
    # two entries share are left out (they are a real ambiguity for the model to weigh)
    exact: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.translations = {(item.id, _base_language(item.language)): item for item in self.faq.values()}
        self.by_id = {}
        for item in self.faq.values():
            self.by_id.setdefault(item.id, item)
        self.learnt = learnt_ids(self.model)
        self.exact = {}
        owners: dict[str, set[str]] = {}
        for item in self.faq.values():
            for phrasing in (item.question, *item.variants):
                key = exact_key(phrasing[:ASSISTANT_MATCH_CHARS])
                if key:
                    owners.setdefault(key, set()).add(item.id)
                    self.exact.setdefault(key, item.key)
        for key, ids in owners.items():
            if len(ids) > 1:
                del self.exact[key]


@dataclass
class Reply:
    kind: str  # answer | clarify | flow | hand_over | decline | smalltalk
    text: str
    language: str
    reason: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    knowledge_id: str | None = None
    confidence: float = 0.0
    intent: dict[str, Any] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    sentiment: dict[str, Any] = field(default_factory=dict)
    priority: str = "normal"
    flow: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


FAQ_LABEL = "faq:"
"""The intent model learns each FAQ entry as the label ``faq:<knowledge id>``."""


_NOT_WORDS = re.compile(r"[\W_]+")


def exact_key(text: str) -> str:
    """``text`` as an exact-phrasing match sees it: normalised (width, case, spaces), punctuation and spaces dropped,
    so "退款多久到账？" and "退款多久到账" or "How long does a refund take" and "how long does a refund take?" meet."""
    return _NOT_WORDS.sub("", normalize(text))


def learnt_ids(model: IntentClassifier | None) -> frozenset[str]:
    """The knowledge ids an intent model learnt (its labels ``faq:<id>``)."""
    labels = model.labels if model is not None else []
    return frozenset(label[len(FAQ_LABEL) :] for label in labels if label.startswith(FAQ_LABEL))


def judge(brain: Brain, prediction: IntentPrediction | None, language: str) -> Judgement | None:
    """The answer policy's view of the model's prediction: its best FAQ entries in the customer's language.

    None without an operating point. When the best label is not an FAQ entry still published (a tenant intent
    without a flow, or an entry withdrawn since training) there is nothing to answer with (confidence 0), but the
    FAQ entries among the best may still be offered.
    """
    if brain.point is None or prediction is None or not prediction.top:
        return None
    wanted = _base_language(language)
    candidates: list[tuple[str, str]] = []
    answerable = True
    for rank, (label, _) in enumerate(prediction.top[: max(prediction.offered, 1)]):
        item = brain.by_id.get(label[len(FAQ_LABEL) :]) if label.startswith(FAQ_LABEL) else None
        if item is None:
            answerable = answerable and rank > 0
            continue
        local = brain.translations.get((item.id, wanted), item)
        candidates.append((local.key, local.question))
    return Judgement(
        candidates=tuple(candidates),
        confidence=prediction.answer_confidence if answerable else 0.0,
        coverage=prediction.coverage,
        similarity=prediction.novelty_score,
        out_of_scope=prediction.reason == "oos_class",
    )


def build_index(items: list[FaqItem], encoder: Encoder | None) -> FaqIndex:
    index = FaqIndex(encoder=encoder)
    # a long variant is kept whole in the knowledge base; what a customer types is matched against its start
    index.add_many((item.key, [q[:ASSISTANT_MATCH_CHARS] for q in (item.question, *item.variants)]) for item in items)
    return index


def _base_language(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def search_faq(brain: Brain, text: str, language: str, k: int) -> list[FaqMatch]:
    """The best ``k`` knowledge entries for ``text``, one per knowledge id, each in the customer's language.

    Translations of an entry share its knowledge id; the multilingual encoder matches a question in any of them,
    so without this the Chinese and English versions of one entry would compete (a "did you mean" between an
    entry and its own translation) and an English customer could be answered in Chinese. A group keeps its best
    score and is answered with the version in ``language`` when the tenant has one.
    """
    if not len(brain.index):
        return []
    wanted = _base_language(language)
    best: dict[str, FaqMatch] = {}
    for match in brain.index.search(text, k=3 * k):
        item = brain.faq.get(match.entry_id)
        if item is None:
            continue
        local = brain.translations.get((item.id, wanted), item)
        if local is not item:
            match = replace(match, entry_id=local.key, question=local.question)
        previous = best.get(item.id)
        if previous is None or match.score > previous.score:
            best[item.id] = match
    return sorted(best.values(), key=lambda m: -m.score)[:k]


class Assistant:
    """Everything it calls outside (connectors, the LLM) goes through ``policy``, the platform's outbound policy."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.connectors = ConnectorRunner(policy)
        self.outbound = OutboundClient(policy)

    def llm(self, brain: Brain) -> LlmClient:
        return LlmClient(brain.settings.llm, brain.llm_api_key, self.outbound)

    def reply(
        self,
        brain: Brain,
        text: str,
        *,
        tenant_key: str,
        state: dict[str, Any] | None = None,
        language: str | None = None,
        customer_tags: list[str] | None = None,
        today: dt.date | None = None,
    ) -> Reply:
        state = dict(state or {})
        settings = brain.settings
        # Inside a flow the conversation keeps its language ("SO20261118001" alone says nothing about it), until the
        # customer clearly writes in the other one: then the answer, and any hand-over, follows them.
        lang = language or _clear_language(text) or state.get("lang") or _language_of(text, brain.default_language)
        entities = extract_entities(text, reference=today, tenant_patterns=brain.patterns)
        sentiment = analyze_sentiment(text, urgent_words=tuple(settings.urgent_words))
        understood: dict[str, Any] = {
            "entities": [{"kind": e.kind, "text": e.text, "value": _jsonable(e.value)} for e in entities],
            "sentiment": {
                "label": sentiment.label,
                "score": round(sentiment.score, 3),
                "complaint": sentiment.complaint,
            },
        }
        policy = settings.policy(brain.default_language)
        bot_state = BotState(low_confidence_turns=int(state.get("low", 0)))
        tags = customer_tags or []
        norm = normalize(text)
        # Keywords match the text with entities and spaces taken out: "快递 SF123 到哪了" → "快递到哪了".
        bare = _without_entities(norm, normalize, entities, text)

        # Safety and escalation rules come first, even in the middle of a flow.
        safety = decide(text, sentiment=sentiment, state=BotState(), customer_tags=[], settings=policy, language=lang)
        if safety.kind == "hand_over" or (safety.kind == "decline" and safety.reason.startswith("forbidden_topic")):
            return self._finish(Reply(safety.kind, safety.message or "", lang, safety.reason, priority=safety.priority,
                                      **understood), state={})  # fmt: skip

        running = state.get("flow")
        if running:
            flow = _flow(settings, running["flow"])
            if flow is not None:
                return self._continue_flow(brain, flow, flows.FlowState.from_json(running), state, text, entities,
                                           lang, tenant_key, understood)  # fmt: skip

        for rule in settings.special_goods:
            if any(k.lower() in norm or k.lower().replace(" ", "") in bare for k in rule.keywords):
                return self._finish(Reply("answer", rule.answer.get(lang), lang, f"rule:{rule.name}", confidence=1.0,
                                          **understood), state={})  # fmt: skip

        prediction = brain.model.predict(text) if brain.model is not None else None
        intent_label = prediction.label if prediction and not prediction.out_of_scope else None
        if prediction is not None:
            understood["intent"] = {
                "label": prediction.label,
                "confidence": round(prediction.confidence, 3),
                "out_of_scope": prediction.out_of_scope,
            }
        for flow in settings.flows:
            keyword_start = flows.starts(flow, norm, None) or flows.starts(flow, bare, None)
            intent_start = (
                intent_label in flow.intents
                and prediction is not None
                and prediction.confidence >= policy.intent_threshold
            )
            if keyword_start or intent_start:
                return self._start_flow(brain, flow, state, text, entities, lang, tenant_key, understood)

        exact = brain.exact.get(exact_key(text[:ASSISTANT_MATCH_CHARS]))
        if exact is not None:
            # The customer typed one of the entry's own phrasings: the tenant has said what it means, so answer
            # it instead of weighing it against look-alikes ("which did you mean?" for the FAQ's own question).
            item = brain.translations.get((brain.faq[exact].id, _base_language(lang)), brain.faq[exact])
            answer_text = item.answer
            if settings.llm.enabled:
                answer_text = self.llm(brain).rephrase(text, item.answer, item.id, lang) or item.answer
            return self._finish(Reply("answer", answer_text, lang, "exact_question", knowledge_id=item.id,
                                      confidence=1.0, **understood), state={"low": 0})  # fmt: skip

        matches = search_faq(brain, text, lang, k=5)
        judgement = judge(brain, prediction, lang)
        if judgement is not None:  # the model decides; retrieval only for entries published since it was trained
            matches = [m for m in matches if _knowledge_id(brain, m.entry_id) not in brain.learnt]
        decision = decide(
            text,
            faq=matches,
            intent=prediction,
            sentiment=sentiment,
            entities=entities,
            state=bot_state,
            customer_tags=tags,
            settings=policy,
            language=lang,
            judgement=judgement,
            point=brain.point,
        )
        new_state = {"low": decision.state.low_confidence_turns}
        if (
            decision.kind == "clarify"
            and prediction is not None
            and prediction.out_of_scope
            and prediction.reason == "oos_class"
        ):
            # The tenant's own out-of-scope examples outrank a weak lexical look-alike: decline, don't guess.
            decision = decide(text, faq=[], intent=prediction, sentiment=sentiment, state=bot_state,
                              customer_tags=tags, settings=policy, language=lang)  # fmt: skip
            new_state = {"low": decision.state.low_confidence_turns}
        if decision.kind == "flow" and decision.flow_id:
            flow = _flow(settings, decision.flow_id)
            if flow is not None:
                return self._start_flow(brain, flow, state, text, entities, lang, tenant_key, understood)
        if decision.kind == "answer" and decision.entry_id in brain.faq:
            item = brain.faq[decision.entry_id]
            answer_text = item.answer
            if settings.llm.enabled:
                answer_text = self.llm(brain).rephrase(text, item.answer, item.id, lang) or item.answer
            return self._finish(Reply("answer", answer_text, lang, decision.reason, knowledge_id=item.id,
                                      confidence=decision.confidence, **understood), state=new_state)  # fmt: skip
        if decision.kind == "clarify":
            buttons = [
                {"label": question, "value": question, "knowledge_id": _knowledge_id(brain, key)}
                for key, question in decision.options
            ]
            return self._finish(Reply("clarify", decision.message or "", lang, decision.reason, buttons=buttons,
                                      knowledge_id=_knowledge_id(brain, decision.options[0][0]) if decision.options else None,
                                      confidence=decision.confidence, **understood), state=new_state)  # fmt: skip
        return self._finish(Reply(decision.kind, decision.message or "", lang, decision.reason,
                                  priority=decision.priority, confidence=decision.confidence, **understood),
                            state=new_state if decision.kind != "hand_over" else {})  # fmt: skip

    # -- flows ----------------------------------------------------------------------------------------------
    def _start_flow(
        self, brain: Brain, flow: FlowSpec, state: dict[str, Any], text: str, entities: list[Entity], lang: str,
        tenant_key: str, understood: dict[str, Any],
    ) -> Reply:  # fmt: skip
        fstate = flows.FlowState(flow=flow.name)
        flows.fill(flow, fstate, text, entities, asked_slot=None)
        return self._advance(brain, flow, fstate, lang, tenant_key, understood, prefix="")

    def _continue_flow(
        self, brain: Brain, flow: FlowSpec, fstate: flows.FlowState, state: dict[str, Any], text: str,
        entities: list[Entity], lang: str, tenant_key: str, understood: dict[str, Any],
    ) -> Reply:  # fmt: skip
        asked = state.get("asked")
        filled = flows.fill(flow, fstate, text, entities, asked_slot=asked)
        if not filled:
            bare = "".join(normalize(text).split())
            other = next((f for f in brain.settings.flows if f.name != flow.name and flows.starts(f, bare, None)), None)
            if other is not None:  # the customer changed the subject to another task
                return self._start_flow(brain, other, state, text, entities, lang, tenant_key, understood)
        if not filled and brain.faq:
            # An interruption: answer a confident FAQ question, then come back to the flow.
            key = self._confident_entry(brain, text, lang)
            if key is not None:
                item = brain.faq[key]
                slot = flows.next_missing(flow, fstate)
                prompt = f"\n\n{TEXTS[lang]['resume']} {slot.prompt.get(lang)}" if slot else ""
                return self._finish(Reply("answer", item.answer + prompt, lang, "faq_interruption",
                                          knowledge_id=item.id, confidence=1.0, flow=flow.name,
                                          **understood),
                                    state={"flow": fstate.to_json(), "asked": slot.name if slot else None})  # fmt: skip
        return self._advance(brain, flow, fstate, lang, tenant_key, understood, prefix="")

    def _advance(
        self, brain: Brain, flow: FlowSpec, fstate: flows.FlowState, lang: str, tenant_key: str,
        understood: dict[str, Any], prefix: str,
    ) -> Reply:  # fmt: skip
        slot = flows.next_missing(flow, fstate)
        if slot is not None:
            if not flows.record_attempt(fstate, slot):
                return self._finish(Reply("hand_over", TEXTS[lang]["flow_gave_up"], lang, f"flow_failed:{flow.name}",
                                          flow=flow.name, **understood), state={})  # fmt: skip
            buttons = [{"label": c, "value": c} for c in slot.choices]
            return self._finish(Reply("flow", prefix + slot.prompt.get(lang), lang, f"flow_ask:{slot.name}",
                                      buttons=buttons, flow=flow.name, confidence=1.0, **understood),
                                state={"flow": fstate.to_json(), "asked": slot.name})  # fmt: skip
        values: dict[str, Any] = dict(fstate.slots)
        settings = brain.settings
        if flow.connector:
            spec = settings.connectors[flow.connector]
            try:
                values.update(
                    self.connectors.call(tenant_key, flow.connector, spec, settings.allowed_hosts, fstate.slots)
                )
            except ConnectorFailure as failure:
                if failure.status is not None and 400 <= failure.status < 500 and flow.not_found is not None:
                    text = flows.render(flow.not_found.get(lang), values)
                    return self._finish(Reply("flow", text, lang, f"flow_not_found:{flow.name}", flow=flow.name,
                                              confidence=1.0, **understood), state={})  # fmt: skip
                return self._finish(Reply("flow", TEXTS[lang]["connector_down"], lang,
                                          f"connector_failed:{flow.connector}", flow=flow.name,
                                          buttons=[{"label": TEXTS[lang]["human"], "value": TEXTS[lang]["human"]}],
                                          **understood), state={})  # fmt: skip
        if flow.rule == "shipping_fee":
            try:
                weight = float(fstate.slots.get("weight", next(v for k, v in fstate.slots.items() if k != "zone")))
            except (StopIteration, ValueError):
                weight = 1.0
            quote = flows.shipping_fee(settings.shipping_zones, fstate.slots.get("zone", ""), weight)
            if quote is None:
                fstate.slots.pop("zone", None)
                return self._advance(brain, flow, fstate, lang, tenant_key, understood, prefix)
            fee, zone = quote
            values.update({"fee": f"{fee:.2f}", "zone_label": zone.label.get(lang), "weight": f"{weight:g}"})
        localized = {k: v for k, v in values.items() if not k.endswith("_zh")}
        if lang.startswith("zh"):
            localized.update({k[:-3]: v for k, v in values.items() if k.endswith("_zh")})
        return self._finish(Reply("flow", flows.render(flow.answer.get(lang), localized), lang, f"flow_done:{flow.name}",
                                  flow=flow.name, confidence=1.0, **understood), state={})  # fmt: skip

    @staticmethod
    def _confident_entry(brain: Brain, text: str, lang: str) -> str | None:
        """The FAQ entry to answer ``text`` with, only when sure: the model at its operating point, else (or for
        entries it has not learnt) retrieval at the tenant's answer threshold."""
        point = brain.point
        if brain.model is not None and point is not None:
            judgement = judge(brain, brain.model.predict(text), lang)
            if (
                judgement is not None
                and judgement.candidates
                and not judgement.out_of_scope
                and judgement.similarity >= point.similarity
                and judgement.confidence >= point.answer
            ):
                return judgement.candidates[0][0]
        matches = search_faq(brain, text, lang, k=2)
        if matches and matches[0].score >= brain.settings.thresholds.answer and matches[0].entry_id in brain.faq:
            return matches[0].entry_id
        return None

    @staticmethod
    def _finish(reply: Reply, *, state: dict[str, Any]) -> Reply:
        reply.state = {**state, "lang": reply.language} if state.get("flow") else state
        return reply


def _without_entities(norm: str, normalizer: Any, entities: list[Entity], text: str) -> str:
    stripped = text
    for entity in sorted(entities, key=lambda e: e.span[0], reverse=True):
        stripped = stripped[: entity.span[0]] + stripped[entity.span[1] :]
    return "".join(normalizer(stripped).split())


def _flow(settings: BotSettings, name: str) -> FlowSpec | None:
    return next((f for f in settings.flows if f.name == name), None)


def _knowledge_id(brain: Brain, key: str) -> str:
    item = brain.faq.get(key)
    return item.id if item is not None else key


_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def _clear_language(text: str) -> str | None:
    """The language a message is unmistakably written in: any Chinese character, or two Latin words and none;
    None for codes, numbers and one-word answers ("SO20261118001", "North", "3")."""
    if _CJK.search(text):
        return "zh-CN"
    if len(_LATIN_WORD.findall(text)) >= 2:
        return "en"
    return None


def _language_of(text: str, default: str) -> str:
    detected = detect_language(text, default="")
    if detected == "zh":
        return "zh-CN"
    if detected == "en":
        return "en"
    return default if default in MESSAGES else "zh-CN"


def _jsonable(value: object) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
