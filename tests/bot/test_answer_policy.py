"""The answer policy: operating points chosen from held-out rows, and the decisions they lead to."""

from __future__ import annotations

import numpy as np
from tests.bot.conftest import EN_INTENTS, ZH_INTENTS

from omnidesk.bot.nlu import BotState, IntentClassifier, Judgement, OperatingPoint, decide
from omnidesk.bot.nlu.answer_policy import DEFAULT_TARGET, TARGETS, HeldOut, choose_points, default_points, point_for


def _held_out(n: int = 2000, unrelated: int = 0, seed: int = 1) -> HeldOut:
    """Calibrated confidences (a question with confidence c is right with probability c), like a good model."""
    rng = np.random.default_rng(seed)
    confidence = rng.beta(6, 1, n)
    correct = rng.random(n) < confidence
    covered = correct | (rng.random(n) < 0.8)
    coverage = np.clip(confidence + 0.2, 0, 1)
    nearest = np.clip(rng.normal(0.85, 0.05, n), -1, 1)
    if unrelated:
        confidence = np.concatenate([confidence, rng.beta(2, 2, unrelated)])
        coverage = np.concatenate([coverage, rng.beta(2, 2, unrelated)])
        nearest = np.concatenate([nearest, np.clip(rng.normal(0.6, 0.08, unrelated), -1, 1)])
        correct = np.concatenate([correct, np.zeros(unrelated, bool)])
        covered = np.concatenate([covered, np.zeros(unrelated, bool)])
    in_scope = np.arange(n + unrelated) < n
    return HeldOut(confidence, coverage, nearest, correct, covered, in_scope, np.zeros(n + unrelated, bool))


def test_each_point_keeps_wrong_answers_within_its_target_and_bolder_points_answer_more() -> None:
    points = choose_points(_held_out())
    assert [p.target for p in points] == list(TARGETS)
    for p in points:
        assert p.rates["answered_wrong"] <= p.target
        total = p.rates["answered"] + p.rates["clarified"] + p.rates["declined"]
        assert abs(total - 1) < 1e-3
    answered = [p.rates["answered"] for p in points]
    assert answered == sorted(answered) and answered[-1] > answered[0]
    # measured on new rows from the same source, the default point holds its promise
    point = point_for(points, None)
    assert point is not None and point.target == DEFAULT_TARGET
    fresh = _held_out(seed=7)
    passes = fresh.nearest >= point.similarity
    wrong = (passes & (fresh.confidence >= point.answer) & ~fresh.correct).mean()
    assert wrong <= DEFAULT_TARGET + 0.005


def test_unrelated_examples_choose_how_unusual_a_question_must_be_to_be_declined() -> None:
    without = point_for(choose_points(_held_out()), None)
    with_oos = point_for(choose_points(_held_out(unrelated=300)), None)
    assert without is not None and with_oos is not None
    assert with_oos.rates["unrelated_answered"] <= 0.03 and with_oos.rates["unrelated_clarified"] <= 0.10
    assert "unrelated_answered" not in without.rates


def test_too_few_rows_give_careful_fixed_points_without_promises() -> None:
    points = choose_points(_held_out(n=10))
    assert points == default_points() and all(p.rates == {} for p in points)
    assert OperatingPoint.from_json(points[2].to_json()) == points[2]


POINT = OperatingPoint(target=0.03, answer=0.8, clarify=0.5, similarity=0.6, novelty=0.02)
CANDIDATES = (("lost", "I lost my card"), ("stolen", "My card was stolen"), ("frozen", "Freeze my card"))


def test_the_model_answers_clarifies_with_real_candidates_or_declines() -> None:
    sure = Judgement(CANDIDATES, confidence=0.93, coverage=0.99, similarity=0.9)
    d = decide("I lost my card", judgement=sure, point=POINT, state=BotState(low_confidence_turns=1))
    assert (d.kind, d.entry_id, d.reason, d.state.low_confidence_turns) == ("answer", "lost", "faq_model", 0)
    unsure = Judgement(CANDIDATES, confidence=0.55, coverage=0.9, similarity=0.9)
    d = decide("my card is gone", judgement=unsure, point=POINT)
    assert d.kind == "clarify" and d.options == CANDIDATES and d.state.low_confidence_turns == 1
    lost = Judgement(CANDIDATES, confidence=0.3, coverage=0.35, similarity=0.9)
    assert decide("card thing", judgement=lost, point=POINT).kind == "decline"  # no irrelevant buttons
    unrelated = Judgement(CANDIDATES, confidence=0.95, coverage=0.99, similarity=0.4)
    d = decide("what's the weather in Paris", judgement=unrelated, point=POINT)
    assert d.kind == "decline" and d.reason == "out_of_scope"
    oos = Judgement(CANDIDATES, confidence=0.9, coverage=0.9, similarity=0.9, out_of_scope=True)
    assert decide("tell me a joke", judgement=oos, point=POINT).reason == "out_of_scope"


def test_a_trained_model_carries_its_points_and_judges_each_message() -> None:
    intents = {**EN_INTENTS, **ZH_INTENTS}
    texts = [t + suffix for examples in intents.values() for t in examples for suffix in ("", "?")]
    labels = [label for label, examples in intents.items() for _ in examples for _ in (0, 1)]
    model = IntentClassifier.train(texts, labels)
    assert [p["target"] for p in model.policy_points] == list(TARGETS)
    # a small tenant: every example held out once (k-fold), so the points come with the rates they promise
    assert model.stats["policy_rows"] == len(texts)
    assert all(set(p["rates"]) >= {"answered", "clarified", "declined"} for p in model.policy_points)
    restored = IntentClassifier.from_bytes(model.to_bytes())
    assert restored.policy_points == model.policy_points
    prediction = restored.predict("I lost my card")
    assert prediction.top[0][0] == "card_lost" and 0 < prediction.answer_confidence <= 1
    assert 0 < prediction.coverage <= 1 and prediction.offered in (2, 3)
