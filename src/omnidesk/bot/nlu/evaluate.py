"""Offline evaluation of the intent classifier and the question-pair matcher on CSV files.

Both functions return plain JSON-able dicts (floats rounded to 4 places, percentages as fractions) and include
a ``baseline`` sub-object: a plain TF-IDF (word 1–2 + char n-grams) → logistic regression run in the same
call, so every report carries its own reference point. Latency is measured per *single* message after a
warm-up, one call at a time, because that is how a chat turn is served.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from .encoders import Encoder, for_language
from .features import LexicalFeaturizer, dominant_language
from .intents import IntentClassifier, IntentConfig
from .pairs import PairClassifier, best_threshold

__all__ = ["cross_validate_intents", "evaluate_intents", "evaluate_pairs", "read_intent_csv", "read_pair_csv"]

_WARMUP = 20
_LATENCY_SAMPLE = 300


def read_intent_csv(path: str | Path) -> tuple[list[str], list[str]]:
    """Rows of a ``text,label`` CSV (UTF-8, BOM tolerated)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"].strip() for r in rows], [r["label"].strip() for r in rows]


def read_pair_csv(path: str | Path) -> tuple[list[str], list[str], list[int]]:
    """Rows of a ``text_a,text_b,label`` CSV."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return (
        [r["text_a"].strip().lstrip("\ufeff") for r in rows],
        [r["text_b"].strip() for r in rows],
        [int(r["label"]) for r in rows],
    )


def _latency(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    """p50 / p99 milliseconds of ``fn(i)`` over a sample of ``i`` in range(n), after a warm-up.

    Call it *before* any batch prediction over the same texts: encoders cache sentences, and a cached
    sentence would make the latency look better than a fresh customer message. The warm-up uses rows that
    are not in the timed sample.
    """
    step = max(1, n // _LATENCY_SAMPLE)
    sample = list(range(0, n, step))[:_LATENCY_SAMPLE]
    rest = [i for i in range(n) if i % step] if step > 1 else []
    for i in (rest or sample)[:_WARMUP]:
        fn(i)
    times = []
    for i in sample:
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _intent_metrics(gold: Sequence[str], pred: Sequence[str], oos_label: str | None) -> dict[str, float]:
    g = np.asarray(gold)
    p = np.asarray(pred)
    out: dict[str, float] = {}
    if oos_label is not None:
        ins = g != oos_label
        out["accuracy"] = round(float((p[ins] == g[ins]).mean()), 4)
        out["oos_recall"] = round(float((p[~ins] == oos_label).mean()), 4) if (~ins).any() else 0.0
    else:
        out["accuracy"] = round(float((p == g).mean()), 4)
    out["macro_f1"] = round(float(f1_score(g, p, average="macro", zero_division=0)), 4)
    return out


def _baseline_intents(
    train: tuple[list[str], list[str]], test: tuple[list[str], list[str]], oos_label: str | None
) -> dict[str, float]:
    t0 = time.perf_counter()
    lex = LexicalFeaturizer()
    x_train = lex.fit_transform(train[0])
    model = LogisticRegression(C=10.0, max_iter=1000)
    model.fit(x_train, train[1])
    train_seconds = time.perf_counter() - t0
    pred = list(model.predict(lex.transform(test[0])))
    res = _intent_metrics(test[1], pred, oos_label)
    p50, p99 = _latency(lambda i: model.predict(lex.transform([test[0][i]])), len(test[0]))
    res.update(p50_ms=round(p50, 3), p99_ms=round(p99, 3), train_seconds=round(train_seconds, 2))
    return res


def evaluate_intents(
    train_csv: str | Path,
    test_csv: str | Path,
    oos_label: str | None = None,
    encoder: Encoder | None = None,
    *,
    config: IntentConfig | None = None,
    baseline: bool = True,
) -> dict[str, Any]:
    """Train on ``train_csv``, score ``test_csv``; see the module docstring for the figures returned.

    With ``oos_label``: ``accuracy`` is in-scope accuracy (an in-scope row declined as out of scope counts as
    wrong) and ``oos_recall`` is the share of ``oos_label`` rows declined.
    """
    train = read_intent_csv(train_csv)
    test = read_intent_csv(test_csv)
    model = IntentClassifier.train(train[0], train[1], encoder=encoder, oos_label=oos_label, config=config)
    oos_out = oos_label if oos_label is not None else "__oos__"
    p50, p99 = _latency(lambda i: model.predict(test[0][i]), len(test[0]))
    preds = model.predict_many(test[0], top_k=1)
    if oos_label is not None:
        labels = [p.label if p.label is not None else oos_out for p in preds]
    else:  # no out-of-scope data: score the best in-scope label (accuracy as in the literature)
        labels = [p.top[0][0] for p in preds]
    res: dict[str, Any] = _intent_metrics(test[1], labels, oos_label)
    res.update(
        p50_ms=round(p50, 3),
        p99_ms=round(p99, 3),
        train_seconds=round(model.train_seconds, 2),
        n_train=len(train[0]),
        n_test=len(test[0]),
        encoder=model.encoder_name,
        oos_threshold=round(model.oos_threshold, 3),
    )
    if baseline:
        res["baseline"] = _baseline_intents(train, test, oos_label)
    return res


class _Precomputed:
    """Embeddings computed once for every fold of a cross-validation (same name as the encoder it stands for)."""

    def __init__(self, encoder: Encoder, texts: Sequence[str]) -> None:
        self.name = encoder.name
        self.dim = encoder.dim
        unique = list(dict.fromkeys(texts))
        self._rows = dict(zip(unique, encoder.encode(unique), strict=True))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._rows[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def cross_validate_intents(
    train_csv: str | Path,
    folds: int = 5,
    oos_label: str | None = None,
    encoder: Encoder | None = None,
    *,
    config: IntentConfig | None = None,
    seed: int = 7,
) -> dict[str, Any]:
    """Stratified ``folds``-fold cross-validation on one file: the mean and per-fold figures of
    :func:`evaluate_intents` (without latency). One 2,000-row split moves by ±0.5 point with the luck of the draw;
    five folds over all rows make a difference between two settings visible."""
    from sklearn.model_selection import StratifiedKFold

    texts, labels = read_intent_csv(train_csv)
    y = np.asarray(labels)
    if encoder is not None:  # the parts the classifier would pick for this language, embedded once
        chosen = for_language(encoder, dominant_language(texts))
        encoder = _Precomputed(chosen, texts) if chosen is not None else None
    runs = []
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, y)
    for train_idx, test_idx in splits:
        model = IntentClassifier.train(
            [texts[i] for i in train_idx], y[train_idx], encoder=encoder, oos_label=oos_label, config=config
        )
        preds = model.predict_many([texts[i] for i in test_idx], top_k=1)
        if oos_label is not None:
            pred = [p.label if p.label is not None else oos_label for p in preds]
        else:
            pred = [p.top[0][0] for p in preds]
        runs.append(_intent_metrics(y[test_idx], pred, oos_label) | {"train_seconds": round(model.train_seconds, 2)})
    res: dict[str, Any] = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in runs[0]}
    res.update(folds=runs, n=len(texts), encoder=encoder.name if encoder is not None else None)
    return res


def _pair_metrics(gold: Sequence[int], scores: np.ndarray, threshold: float) -> dict[str, float]:
    g = np.asarray(gold)
    p = (scores >= threshold).astype(int)
    return {
        "accuracy": round(float((p == g).mean()), 4),
        "f1": round(float(f1_score(g, p, zero_division=0)), 4),
        "threshold": round(float(threshold), 4),
    }


def _baseline_pairs(
    valid: tuple[list[str], list[str], list[int]], test: tuple[list[str], list[str], list[int]]
) -> dict[str, float]:
    """Untrained reference: cosine of char 1–2-gram TF-IDF vectors, threshold chosen on the valid file."""
    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    vec.fit(valid[0] + valid[1])

    def cos(a: list[str], b: list[str]) -> np.ndarray:
        return np.asarray(vec.transform(a).multiply(vec.transform(b)).sum(axis=1)).ravel()

    threshold = best_threshold(cos(valid[0], valid[1]), np.asarray(valid[2]))
    train_seconds = time.perf_counter() - t0
    res = _pair_metrics(test[2], cos(test[0], test[1]), threshold)
    p50, p99 = _latency(lambda i: cos([test[0][i]], [test[1][i]]), len(test[0]))
    res.update(p50_ms=round(p50, 3), p99_ms=round(p99, 3), train_seconds=round(train_seconds, 2))
    return res


def evaluate_pairs(
    valid_csv: str | Path,
    test_csv: str | Path,
    encoder: Encoder | None = None,
    *,
    baseline: bool = True,
) -> dict[str, Any]:
    """Fit the pair matcher (and its decision threshold) on ``valid_csv``, score ``test_csv``."""
    valid = read_pair_csv(valid_csv)
    test = read_pair_csv(test_csv)
    t0 = time.perf_counter()
    model = PairClassifier.train(valid[0], valid[1], valid[2], encoder=encoder)
    train_seconds = time.perf_counter() - t0
    p50, p99 = _latency(lambda i: model.score(test[0][i], test[1][i]), len(test[0]))
    scores = model.score_many(test[0], test[1])
    res: dict[str, Any] = _pair_metrics(test[2], scores, model.threshold)
    res.update(
        p50_ms=round(p50, 3),
        p99_ms=round(p99, 3),
        train_seconds=round(train_seconds, 2),
        n_valid=len(valid[0]),
        n_test=len(test[0]),
        encoder=model.encoder_name,
    )
    if baseline:
        res["baseline"] = _baseline_pairs(valid, test)
    return res
