"""Question-pair matching: "is the customer's question the same as this known question?".

A small trained classifier over pair features (cheap, CPU, explainable):

* lexical: character uni/bigram Jaccard, word Jaccard, containment, normalised edit distance, longest common
  substring, length ratio, TF-IDF (char 1–2) cosine, IDF-weighted word overlap;
* mismatch cues that flip meaning in customer service: different digits, negation words on one side only;
* dense: cosine of each encoder part (e5 and USE separately) when an encoder is given, and an out-of-fold
  logistic model over the element-wise product ``u*v`` and difference ``|u-v|`` of the embeddings.

The model is a gradient-boosted tree ensemble (scikit-learn ``HistGradientBoostingClassifier``); its output is
a probability of "same question". The decision ``threshold`` is chosen on out-of-fold predictions of the
training file (maximising accuracy), so ``score >= threshold`` is the trained decision.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from ._threads import _blas_single_thread
from .encoders import ConcatEncoder, Encoder
from .normalize import normalize
from .tokenize import get_tokenizer

__all__ = ["PairClassifier", "best_threshold", "pair_features"]

_NEGATIONS = ("不", "没", "无", "未", "别", "非", "not", "no", "never", "n't")
_MAX_EDIT = 64


def best_threshold(scores: np.ndarray, gold: np.ndarray) -> float:
    """Threshold on ``scores`` maximising accuracy against binary ``gold`` (midpoint between scores)."""
    order = np.argsort(scores)
    s = scores[order]
    g = gold[order].astype(int)
    # predicting positive for s >= s[k]: correct = negatives below k + positives from k on
    neg_below = np.concatenate([[0], np.cumsum(1 - g)])
    pos_from = g.sum() - np.concatenate([[0], np.cumsum(g)])
    correct = neg_below + pos_from
    k = int(np.argmax(correct))
    if k == 0:
        return float(s[0]) - 1e-9
    if k == len(s):
        return float(s[-1]) + 1e-9
    return float((s[k - 1] + s[k]) / 2)


def _edit_ratio(a: str, b: str) -> float:
    a, b = a[:_MAX_EDIT], b[:_MAX_EDIT]
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def _lcs_substring(a: str, b: str) -> int:
    a, b = a[:_MAX_EDIT], b[:_MAX_EDIT]
    best = 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def _jaccard(x: set[str], y: set[str]) -> float:
    return len(x & y) / len(x | y) if x or y else 1.0


class _PairFeaturizer:
    """Scalar lexical features of a pair; IDF statistics come from the training texts."""

    def __init__(self) -> None:
        self.tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
        self.idf: dict[str, float] = {}
        self.default_idf = 1.0

    def fit(self, texts: Sequence[str]) -> _PairFeaturizer:
        norm = [normalize(t, simplified=True) for t in texts]
        self.tfidf.fit(norm)
        tok = get_tokenizer()
        df: Counter[str] = Counter()
        for t in norm:
            df.update(set(tok.words(t)))
        n = len(norm)
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.default_idf = math.log(1 + n)
        return self

    def transform(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        tok = get_tokenizer()
        na = [normalize(t, simplified=True) for t in a]
        nb = [normalize(t, simplified=True) for t in b]
        va, vb = self.tfidf.transform(na), self.tfidf.transform(nb)
        cos = np.asarray(va.multiply(vb).sum(axis=1)).ravel()
        rows = []
        for x, y, c in zip(na, nb, cos, strict=True):
            cx, cy = x.replace(" ", ""), y.replace(" ", "")
            c1x, c1y = set(cx), set(cy)
            c2x = {cx[i : i + 2] for i in range(len(cx) - 1)}
            c2y = {cy[i : i + 2] for i in range(len(cy) - 1)}
            wx, wy = set(tok.words(x)), set(tok.words(y))
            idf_shared = sum(self.idf.get(w, self.default_idf) for w in wx & wy)
            idf_all = sum(self.idf.get(w, self.default_idf) for w in wx | wy) or 1.0
            lx, ly = len(cx), len(cy)
            dx = "".join(ch for ch in cx if ch.isdigit())
            dy = "".join(ch for ch in cy if ch.isdigit())
            negx = sum(x.count(n) for n in _NEGATIONS)
            negy = sum(y.count(n) for n in _NEGATIONS)
            rows.append(
                [
                    _jaccard(c1x, c1y),
                    _jaccard(c2x, c2y),
                    _jaccard(wx, wy),
                    len(c1x & c1y) / max(1, min(len(c1x), len(c1y))),
                    len(c2x & c2y) / max(1, min(len(c2x), len(c2y))),
                    _edit_ratio(cx, cy),
                    _lcs_substring(cx, cy) / max(1, min(lx, ly)),
                    min(lx, ly) / max(1, lx, ly),
                    math.log1p(abs(lx - ly)),
                    float(c),
                    idf_shared / idf_all,
                    float(dx != dy),
                    float(negx != negy),
                    float(min(lx, ly)),
                ]
            )
        return np.asarray(rows, dtype=np.float64)


def _parts(encoder: Encoder | None) -> list[Encoder]:
    if encoder is None:
        return []
    return list(encoder.parts) if isinstance(encoder, ConcatEncoder) else [encoder]


def _dense(parts: list[Encoder], a: Sequence[str], b: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-part cosines ``(n, k)`` and interaction vectors ``[u*v, |u-v|]`` ``(n, 2*dim)``."""
    if not parts:
        return np.zeros((len(a), 0)), np.zeros((len(a), 0))
    texts = list(a) + list(b)
    cosines, inter = [], []
    for p in parts:
        e = p.encode(texts)
        u, v = e[: len(a)], e[len(a) :]
        cosines.append((u * v).sum(axis=1))
        inter.extend([u * v, np.abs(u - v)])
    return np.column_stack(cosines), np.hstack(inter)


def pair_features(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Lexical pair features with IDF fitted on the pair texts themselves (for inspection and tests)."""
    return _PairFeaturizer().fit(list(a) + list(b)).transform(a, b)


class PairClassifier:
    """Trained question-pair matcher; ``score`` is P(same question), ``threshold`` the trained cut-off."""

    def __init__(self) -> None:
        self.featurizer = _PairFeaturizer()
        self.inter_model: LogisticRegression | None = None
        self.model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0)
        self.threshold = 0.5
        self.encoder_name: str | None = None
        self._parts: list[Encoder] = []

    def _inter_features(self, a: Sequence[str], b: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        lex = self.featurizer.transform(a, b)
        cos, inter = _dense(self._parts, a, b)
        return np.hstack([lex, cos]), inter

    @classmethod
    def train(
        cls,
        a: Sequence[str],
        b: Sequence[str],
        labels: Sequence[int],
        *,
        encoder: Encoder | None = None,
        folds: int = 5,
    ) -> PairClassifier:
        """Fit on labelled pairs (1 = same question); the threshold comes from ``folds``-fold out-of-fold
        predictions so it is not tuned on rows the model has seen."""
        self = cls()
        self.encoder_name = encoder.name if encoder is not None else None
        self._parts = _parts(encoder)
        y = np.asarray(labels, dtype=int)
        self.featurizer.fit(list(a) + list(b))
        base, inter = self._inter_features(a, b)
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        if inter.shape[1]:
            oof_inter = np.zeros(len(y))
            for tr, te in skf.split(base, y):
                m = LogisticRegression(C=1.0, max_iter=1000).fit(inter[tr], y[tr])
                oof_inter[te] = m.predict_proba(inter[te])[:, 1]
            self.inter_model = LogisticRegression(C=1.0, max_iter=1000).fit(inter, y)
            base = np.column_stack([base, oof_inter])
        oof = np.zeros(len(y))
        for tr, te in skf.split(base, y):
            m = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0)
            oof[te] = m.fit(base[tr], y[tr]).predict_proba(base[te])[:, 1]
        self.threshold = best_threshold(oof, y)
        self.model.fit(base, y)
        return self

    def score_many(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """P(same question) for each pair."""
        if len(a) <= 8:  # chat path: single-threaded BLAS/OpenMP has far better tail latency
            with _blas_single_thread(None):
                return self._score(a, b)
        return self._score(a, b)

    def _score(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        base, inter = self._inter_features(a, b)
        if self.inter_model is not None:
            base = np.column_stack([base, self.inter_model.predict_proba(inter)[:, 1]])
        return np.asarray(self.model.predict_proba(base)[:, 1])

    def score(self, a: str, b: str) -> float:
        """P(same question) for one pair."""
        return float(self.score_many([a], [b])[0])

    def matches(self, a: str, b: str) -> bool:
        """The trained decision: ``score >= threshold``."""
        return self.score(a, b) >= self.threshold
