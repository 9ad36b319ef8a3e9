import pytest

from omnidesk.bot.nlu import (
    MESSAGES,
    BotState,
    FaqMatch,
    IntentPrediction,
    PolicySettings,
    analyze_sentiment,
    decide,
    is_human_request,
    smalltalk_kind,
)


def m(entry: str, score: float, question: str = "q") -> FaqMatch:
    return FaqMatch(entry_id=entry, question=question, score=score, bm25=1.0, dense=None, overlap=0.5)


def test_answer_when_confident_and_clear() -> None:
    d = decide("怎么退货", faq=[m("return", 0.9), m("refund", 0.3)], state=BotState(low_confidence_turns=1))
    assert d.kind == "answer" and d.entry_id == "return" and d.reason == "faq"
    assert d.state.low_confidence_turns == 0
    assert d.language == "zh-CN" and d.message is None


def test_clarify_with_two_buttons_when_close() -> None:
    d = decide("退款", faq=[m("return", 0.8, "怎么退货"), m("refund", 0.75, "退款多久到账")])
    assert d.kind == "clarify" and d.reason == "close_candidates"
    assert d.options == (("return", "怎么退货"), ("refund", "退款多久到账"))
    assert d.state.low_confidence_turns == 1
    assert d.message == MESSAGES["zh-CN"]["clarify"]


def test_clarify_single_when_medium_confidence() -> None:
    d = decide("refund?", faq=[m("refund", 0.55), m("other", 0.1)])
    assert d.kind == "clarify" and len(d.options) == 1 and d.language == "en"


def test_decline_when_nothing_matches() -> None:
    d = decide("what's the meaning of life", faq=[m("x", 0.1)])
    assert d.kind == "decline" and d.message == MESSAGES["en"]["decline"]
    assert d.state.low_confidence_turns == 1


def test_decline_out_of_scope_intent() -> None:
    oos = IntentPrediction(label=None, confidence=0.1, out_of_scope=True, reason="oos_class")
    d = decide("tell me a joke", intent=oos)
    assert d.kind == "decline" and d.reason == "out_of_scope"


def test_second_low_confidence_turn_hands_over() -> None:
    d = decide("嗯那个东西", faq=[m("x", 0.2)], state=BotState(low_confidence_turns=1))
    assert d.kind == "hand_over" and d.reason == "repeated_low_confidence"
    assert d.state.low_confidence_turns == 0


@pytest.mark.parametrize("text", ["转人工", "我要人工客服", "人工", "找真人", "human please", "let me talk to an agent",
                                  "I want a real person"])  # fmt: skip
def test_explicit_human_request(text: str) -> None:
    assert is_human_request(text)
    d = decide(text, faq=[m("x", 0.95)])
    assert d.kind == "hand_over" and d.reason == "requested_human"


def test_no_false_human_request() -> None:
    assert not is_human_request("人工智能是什么")
    assert not is_human_request("what is human resources")


def test_complaint_hands_over() -> None:
    text = "我要投诉"
    d = decide(text, sentiment=analyze_sentiment(text), faq=[m("x", 0.95)])
    assert d.kind == "hand_over" and d.reason == "complaint" and d.priority == "high"


def test_anger_hands_over() -> None:
    text = "什么破服务！！！气死我了"
    d = decide(text, sentiment=analyze_sentiment(text))
    assert d.kind == "hand_over" and d.reason.startswith("negative_emotion")


def test_anger_handover_can_be_disabled() -> None:
    text = "什么破服务！！！气死我了"
    cfg = PolicySettings(handover_on_anger=False)
    assert decide(text, sentiment=analyze_sentiment(text), settings=cfg, faq=[m("x", 0.9)]).kind == "answer"


@pytest.mark.parametrize("tag", ["vip", "VIP", "elderly"])
def test_tagged_customers_go_to_a_person_when_unsure(tag: str) -> None:
    d = decide("那个怎么弄", faq=[m("x", 0.5)], customer_tags=[tag])
    assert d.kind == "hand_over" and d.reason == f"customer_tag:{tag.lower()}"
    # but a confident answer is still given directly
    assert decide("怎么退货", faq=[m("return", 0.95)], customer_tags=[tag]).kind == "answer"


def test_urgent_word_has_top_priority() -> None:
    text = "我要投诉，胸痛得厉害，转人工"
    d = decide(text, sentiment=analyze_sentiment(text), faq=[m("x", 0.99)])
    assert d.kind == "hand_over" and d.priority == "urgent" and d.reason == "urgent_word:胸痛"
    assert d.message == MESSAGES["zh-CN"]["hand_over_urgent"]


def test_tenant_urgent_words() -> None:
    cfg = PolicySettings(urgent_words=("漏气",))
    assert decide("燃气漏气了", settings=cfg).priority == "urgent"
    assert decide("胸痛", settings=cfg).kind != "hand_over"


@pytest.mark.parametrize(
    ("text", "topic"),
    [("我这是什么病", "medical_diagnosis"), ("感冒吃什么药", "medication"), ("推荐股票吧", "investment_advice"),
     ("what dosage should I take", "medication"), ("should I invest in bitcoin", "investment_advice")],
)  # fmt: skip
def test_forbidden_topics_declined(text: str, topic: str) -> None:
    d = decide(text, faq=[m("x", 0.99)])
    assert d.kind == "decline" and d.reason == f"forbidden_topic:{topic}"
    assert d.message is not None and ("{" not in d.message)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("你好", "greeting"), ("您好！", "greeting"), ("hello", "greeting"), ("谢谢", "thanks"),
     ("thank you so much", "thanks"), ("再见", "goodbye"), ("bye!", "goodbye")],
)  # fmt: skip
def test_smalltalk(text: str, kind: str) -> None:
    assert smalltalk_kind(text) == kind
    d = decide(text)
    assert d.kind == "smalltalk" and d.reason == kind and d.message


def test_greeting_with_question_is_not_smalltalk() -> None:
    assert smalltalk_kind("你好，我的快递还没到") is None
    assert decide("你好，怎么退货", faq=[m("return", 0.9)]).kind == "answer"


def test_flow_for_confident_intent() -> None:
    cfg = PolicySettings(flows={"track_order": "flow-track"})
    intent = IntentPrediction(label="track_order", confidence=0.9, out_of_scope=False)
    d = decide("我的快递到哪了", intent=intent, settings=cfg)
    assert d.kind == "flow" and d.flow_id == "flow-track" and d.intent == "track_order"
    weak = IntentPrediction(label="track_order", confidence=0.3, out_of_scope=False)
    assert decide("我的快递到哪了", intent=weak, settings=cfg).kind != "flow"


def test_language_override_and_default() -> None:
    assert decide("hello", language="zh-CN").message == MESSAGES["zh-CN"]["greeting"]
    assert decide("12345", settings=PolicySettings(default_language="en")).language == "en"


def test_messages_are_bilingual() -> None:
    assert set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])
