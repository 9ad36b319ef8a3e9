"""Out-of-scope detection from in-scope data alone (typicality), and the FAQ's own phrasings answered directly."""

from __future__ import annotations

import numpy as np
import pytest
from tests.bot.conftest import ZH_INTENTS

from omnidesk.bot.engine import FAQ_LABEL, Assistant, Brain, FaqItem, build_index, exact_key
from omnidesk.bot.nlu import BotState, HashingEncoder, IntentClassifier, OperatingPoint, decide
from omnidesk.bot.nlu.answer_policy import NO_NOVELTY, point_for
from omnidesk.bot.nlu.intents import IntentConfig
from omnidesk.bot.settings import BotSettings
from omnidesk.security.outbound import OutboundPolicy

UNRELATED_ZH = ["信用卡年费怎么减免", "贷款利率是多少", "明天北京天气怎么样", "给我讲个笑话", "播放周杰伦的歌"]


def _zh_model(encoder: HashingEncoder, *, typicality: bool = True) -> IntentClassifier:
    texts = [t + suffix for examples in ZH_INTENTS.values() for t in examples for suffix in ("", "？", "呢")]
    labels = [FAQ_LABEL + label for label, examples in ZH_INTENTS.items() for _ in examples for _ in range(3)]
    return IntentClassifier.train(texts, labels, encoder=encoder, config=IntentConfig(typicality=typicality))


@pytest.fixture(scope="module")
def zh_model(fake_encoder: HashingEncoder) -> IntentClassifier:
    return _zh_model(fake_encoder)


def test_unrelated_chinese_questions_are_less_typical_than_the_tenants_own(
    zh_model: IntentClassifier, fake_encoder: HashingEncoder
) -> None:
    model = zh_model
    own = [p.novelty_score for p in model.predict_many(["退款多久到账", "物流信息查询", "怎么开发票"])]
    unrelated = [p.novelty_score for p in model.predict_many(UNRELATED_ZH)]
    assert max(unrelated) < min(own)
    point = point_for([OperatingPoint.from_json(p) for p in model.policy_points], None)
    assert point is not None and NO_NOVELTY < point.similarity < min(own)
    # the stored model keeps its detector
    restored = IntentClassifier.from_bytes(model.to_bytes(), encoder=fake_encoder)
    assert restored.predict(UNRELATED_ZH[0]).novelty_score == model.predict(UNRELATED_ZH[0]).novelty_score


def test_without_typicality_the_cosine_to_the_nearest_example_is_the_novelty_score(
    fake_encoder: HashingEncoder,
) -> None:
    model = _zh_model(fake_encoder, typicality=False)
    prediction = model.predict(UNRELATED_ZH[0])
    assert prediction.novelty_score == prediction.nearest_similarity


def _brain(model: IntentClassifier, point: OperatingPoint) -> Brain:
    items = [
        FaqItem(
            "refund", "退款多久到账？", ["钱什么时候退回来", "退款没收到", "怎么查"], "退款 1–3 个工作日到账。", "zh-CN"
        ),
        FaqItem("logistics", "我的快递到哪了？", ["查物流", "包裹到哪了", "怎么查"], "请在订单页查看物流。", "zh-CN"),
        FaqItem("invoice", "怎么开发票？", ["开具发票", "电子发票在哪下载"], "在订单页申请发票。", "zh-CN"),
        FaqItem("refund", "How long does a refund take?", [], "Refunds arrive in 1-3 working days.", "en"),
    ]
    return Brain(
        settings=BotSettings(),
        default_language="zh-CN",
        faq={i.key: i for i in items},
        index=build_index([], None),
        model=model,
        patterns=[],
        point=point,
    )


def test_the_faqs_own_question_is_answered_not_clarified(zh_model: IntentClassifier) -> None:
    model = zh_model
    # a point so careful that the model alone would ask "which did you mean?" for anything
    careful = OperatingPoint(target=0.03, answer=0.9999, clarify=0.0, similarity=NO_NOVELTY, novelty=0.0)
    brain = _brain(model, careful)
    assistant = Assistant(OutboundPolicy())
    reply = assistant.reply(brain, "退款多久到账？", tenant_key="t")
    assert (reply.kind, reply.knowledge_id, reply.text) == ("answer", "refund", "退款 1–3 个工作日到账。")
    # punctuation, width, case and spaces do not matter; the English phrasing gets the English answer
    assert assistant.reply(brain, " 退款多久到账 ", tenant_key="t").kind == "answer"
    english = assistant.reply(brain, "how long does a refund take", tenant_key="t")
    assert (english.kind, english.text) == ("answer", "Refunds arrive in 1-3 working days.")
    assert exact_key("ＨＯＷ long, does?") == exact_key("how long does")
    # a phrasing two entries share is no exact answer: the model weighs it
    assert exact_key("怎么查") not in brain.exact
    assert assistant.reply(brain, "怎么查", tenant_key="t").kind != "answer"
    # a question that only resembles an entry's phrasing goes through the policy as before
    assert assistant.reply(brain, "我的退款多久能到账", tenant_key="t").reason != "exact_question"


def test_an_unrelated_chinese_question_is_declined_through_the_assistant(zh_model: IntentClassifier) -> None:
    model = zh_model
    point = point_for([OperatingPoint.from_json(p) for p in model.policy_points], None)
    assert point is not None
    brain = _brain(model, point)
    assistant = Assistant(OutboundPolicy())
    for question in UNRELATED_ZH[:2]:
        reply = assistant.reply(brain, question, tenant_key="t")
        assert reply.kind == "decline" and reply.buttons == [], question
    assert assistant.reply(brain, "退款多久到账", tenant_key="t").kind == "answer"
    # the same decision from the policy alone: an unrelated judgement declines even when confident
    judged = model.predict(UNRELATED_ZH[1])
    assert judged.novelty_score < point.similarity
    assert np.isfinite(judged.novelty_score)
    assert decide(UNRELATED_ZH[1], state=BotState()).kind != "answer"
