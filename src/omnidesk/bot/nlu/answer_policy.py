"""The answer policy: when the assistant answers, when it asks "which of these did you mean?", when it declines.

One policy with an explicit target. An *operating point* is three thresholds, chosen per tenant at training time
from the tenant's own examples (held out, with cross-fitted calibrators, see :mod:`.intents`):

* **answer** when P(the best entry is right) ≥ ``answer`` — the lowest threshold whose wrong answers stay within
  the point's ``target`` share of in-scope questions (plus one standard error, so that the target holds on new
  questions too), hence as many direct answers as that target allows;
* else **clarify** with the 2–3 best entries when P(the right entry is among them) ≥ ``clarify`` (more likely
  than not: a question whose candidates are all wrong is declined instead of showing irrelevant buttons);
* else **decline**. Before both, a question less similar to every training example than the least similar
  ``novelty`` share of the tenant's own held-out questions is *unrelated* and declined: out-of-scope detection
  from in-scope data alone. When the tenant gave out-of-scope examples, the novelty share is the smallest that
  keeps their held-out share answered ≤ 3 % and clarified ≤ 10 %.

The rates each point is expected to give (answered, of which wrong, clarified, of which with the right entry,
declined; unrelated answered / clarified when out-of-scope examples exist) are measured on the same held-out
rows and stored with the model, so the admin sees them before activating it and can move to a stricter or a
bolder point. Targets: :data:`TARGETS`; :data:`DEFAULT_TARGET` unless the admin chooses.

Pure numpy; no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CLARIFY_COVERAGE",
    "DEFAULT_TARGET",
    "TARGETS",
    "HeldOut",
    "OperatingPoint",
    "choose_points",
    "default_points",
    "point_for",
]

TARGETS: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.08)
"""Wrong answers aimed at, as a share of in-scope questions: from careful to bold."""
DEFAULT_TARGET = 0.03
CLARIFY_COVERAGE = 0.5
NOVELTY: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)
DEFAULT_NOVELTY = 0.02
UNRELATED_ANSWERED = 0.03
UNRELATED_CLARIFIED = 0.10
MIN_ROWS = 30
"""Held-out in-scope questions needed to measure rates at all; fewer: :func:`default_points` without rates."""
CHOOSE_ROWS = 100
"""Held-out in-scope questions needed to choose thresholds from them; fewer: the default thresholds, with the rates
they give on those rows (a few dozen rows cannot tell 1 % wrong answers from 5 %)."""
NO_NOVELTY = -1e9
"""A ``similarity`` threshold no novelty score falls below (cosines are ≥ -1, typicalities are minus squared
distances in whitened units, far above this; finite so that it stays valid JSON)."""
_GRID = np.concatenate([np.linspace(0.05, 0.99, 95), [0.995, 0.999]])


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Thresholds of one point and the rates it is expected to give (fractions; empty when unknown)."""

    target: float
    answer: float
    clarify: float
    similarity: float
    novelty: float
    rates: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatingPoint:
        return cls(
            target=float(data["target"]),
            answer=float(data["answer"]),
            clarify=float(data["clarify"]),
            similarity=float(data["similarity"]),
            novelty=float(data.get("novelty", 0.0)),
            rates={str(k): float(v) for k, v in dict(data.get("rates", {})).items()},
        )


@dataclass(frozen=True, slots=True)
class HeldOut:
    """Held-out questions as the policy sees them (one row each).

    ``confidence`` and ``coverage`` must be out-of-sample for their own calibrators (cross-fitted), or the
    thresholds chosen on them are optimistic.
    """

    confidence: np.ndarray  # P(best entry right)
    coverage: np.ndarray  # P(right entry among the offered ones)
    nearest: np.ndarray  # novelty score: typicality (``IntentConfig.typicality``) or cosine to the nearest example
    correct: np.ndarray  # the best entry is right
    covered: np.ndarray  # the right entry is among the offered ones
    in_scope: np.ndarray  # False: one of the tenant's out-of-scope examples
    declined: np.ndarray  # declined whatever the thresholds (the out-of-scope class won)


def _rates(rows: HeldOut, answer: float, clarify: float, similarity: float) -> dict[str, float]:
    passes = (rows.nearest >= similarity) & ~rows.declined
    answered = passes & (rows.confidence >= answer)
    clarified = passes & ~answered & (rows.coverage >= clarify)
    ins = rows.in_scope
    out: dict[str, float] = {
        "answered": float(answered[ins].mean()),
        "answered_right": float((answered & rows.correct)[ins].mean()),
        "answered_wrong": float((answered & ~rows.correct)[ins].mean()),
        "clarified": float(clarified[ins].mean()),
        "clarified_right": float((clarified & rows.covered)[ins].mean()),
        "declined": float((~answered & ~clarified)[ins].mean()),
    }
    if (~ins).any():
        out["unrelated_answered"] = float(answered[~ins].mean())
        out["unrelated_clarified"] = float(clarified[~ins].mean())
    return {k: round(v, 4) for k, v in out.items()}


def _answer_threshold(rows: HeldOut, target: float, similarity: float) -> float:
    """The lowest threshold whose wrong answers, plus one standard error, stay within ``target``."""
    ins = rows.in_scope
    n = int(ins.sum())
    passes = ((rows.nearest >= similarity) & ~rows.declined)[ins]
    conf, correct = rows.confidence[ins], rows.correct[ins]
    for t in _GRID:
        wrong = float((passes & (conf >= t) & ~correct).sum()) / n
        if wrong + np.sqrt(wrong * (1.0 - wrong) / n) <= target:
            return float(t)
    return 1.0


def choose_points(rows: HeldOut, targets: tuple[float, ...] = TARGETS) -> list[OperatingPoint]:
    """One operating point per target (see the module docstring); :func:`default_points` with too few rows."""
    ins = rows.in_scope
    if int(ins.sum()) < MIN_ROWS:
        return default_points()
    if int(ins.sum()) < CHOOSE_ROWS:
        similarity = float(np.quantile(rows.nearest[ins], DEFAULT_NOVELTY))
        rated = []
        for p in default_points(targets):
            rates = _rates(rows, p.answer, p.clarify, similarity)
            rated.append(OperatingPoint(p.target, p.answer, p.clarify, round(similarity, 4), DEFAULT_NOVELTY, rates))
        return rated
    unrelated = int((~ins).sum())
    points = []
    for target in targets:
        chosen: tuple[float, float, float, dict[str, float]] | None = None
        for novelty in NOVELTY if unrelated >= 20 else (DEFAULT_NOVELTY,):
            similarity = float(np.quantile(rows.nearest[ins], novelty)) if novelty > 0 else NO_NOVELTY
            answer = _answer_threshold(rows, target, similarity)
            rates = _rates(rows, answer, CLARIFY_COVERAGE, similarity)
            chosen = (novelty, similarity, answer, rates)
            if unrelated < 20 or (
                rates["unrelated_answered"] <= UNRELATED_ANSWERED
                and rates["unrelated_clarified"] <= UNRELATED_CLARIFIED
            ):
                break
        assert chosen is not None
        novelty, similarity, answer, rates = chosen
        points.append(OperatingPoint(target, round(answer, 4), CLARIFY_COVERAGE, round(similarity, 4), novelty, rates))
    return points


def default_points(targets: tuple[float, ...] = TARGETS) -> list[OperatingPoint]:
    """Points for a tenant with too few examples to measure anything: careful fixed thresholds, no rates."""
    answer = {0.01: 0.95, 0.02: 0.9, 0.03: 0.85, 0.05: 0.8, 0.08: 0.7}
    return [OperatingPoint(t, answer.get(t, 0.85), CLARIFY_COVERAGE, NO_NOVELTY, 0.0) for t in targets]


def point_for(points: list[OperatingPoint], target: float | None) -> OperatingPoint | None:
    """The point aiming at ``target`` (the default target when None), or None without points."""
    if not points:
        return None
    want = DEFAULT_TARGET if target is None else target
    return min(points, key=lambda p: abs(p.target - want))
