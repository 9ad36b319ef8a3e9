"""Question-pair matching: "is the customer's question the same as this known question?".

A small trained classifier over pair features (cheap, CPU, explainable):

* lexical: character uni/bigram Jaccard, word Jaccard, containment, normalised edit distance, longest common
  substring, length ratio, TF-IDF (char 1–2) cosine, IDF-weighted word overlap;
* mismatch cues that flip meaning in customer service: different digits, negation words on one side only;
* dense: cosine of each encoder part (e5 and USE separately) when an encoder is given.

On top of these, two interaction models — sparse character TF-IDF ``[a*b, |a-b|]`` and dense embedding
``[u*v, |u-v|]``, each a logistic regression — are stacked by a final logistic regression (see
:class:`PairClassifier`); the output is a probability of "same question". The decision ``threshold`` is chosen
on out-of-fold predictions of the training file (maximising accuracy), so ``score >= threshold`` is the
trained decision.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._threads import _blas_single_thread
from .encoders import Encoder, encoder_parts, for_language, parts_for_model
from .features import dominant_language
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
    """Trained question-pair matcher; ``score`` is P(same question), ``threshold`` the trained cut-off.

    Stacking (measured on BQ, 5,000 training pairs → other 5,000: 80.7 % accuracy; each part alone ≈ 77 %):
      * a logistic model over sparse character TF-IDF interactions ``[a*b, |a-b|]`` (which characters the
        two questions share and which differ);
      * a logistic model over dense interactions ``[u*v, |u-v|]`` of each encoder's embeddings (if any);
      * a final standardised logistic regression over the two models' *out-of-fold* probabilities, the
        scalar lexical features and the per-encoder cosines. (Gradient-boosted trees as the final model were
        3 points worse here.)
    """

    def __init__(self) -> None:
        self.featurizer = _PairFeaturizer()
        self.char_vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
        self.sparse_model: LogisticRegression | None = None
        self.dense_model: LogisticRegression | None = None
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        self.threshold = 0.5
        self.encoder_name: str | None = None
        self._parts: list[Encoder] = []

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_parts"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._parts = []

    def bind_encoder(self, encoder: Encoder | None) -> None:
        """Attach the encoder after unpickling (it must hold the parts used in training)."""
        self._parts = encoder_parts(parts_for_model(encoder, self.encoder_name))

    def _sparse_inter(self, a: Sequence[str], b: Sequence[str]) -> sp.csr_matrix:
        va = self.char_vec.transform([normalize(t, simplified=True) for t in a])
        vb = self.char_vec.transform([normalize(t, simplified=True) for t in b])
        return sp.hstack([va.multiply(vb), abs(va - vb)], format="csr")

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
        """Fit on labelled pairs (1 = same question). Stacked features and the threshold both come from
        ``folds``-fold out-of-fold predictions, so nothing is tuned on rows a model has seen."""
        self = cls()
        encoder = for_language(encoder, dominant_language(list(a)))  # English-only parts only for English pairs
        self.encoder_name = encoder.name if encoder is not None else None
        self._parts = encoder_parts(encoder)
        y = np.asarray(labels, dtype=int)
        if len(set(y.tolist())) < 2:
            raise ValueError("pair training needs both matching and non-matching pairs")
        folds = max(2, min(folds, int(np.bincount(y).min())))
        self.featurizer.fit(list(a) + list(b))
        self.char_vec.fit([normalize(t, simplified=True) for t in list(a) + list(b)])
        lex = self.featurizer.transform(a, b)
        cos, dense = _dense(self._parts, a, b)
        sparse_x = self._sparse_inter(a, b)
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        splits = list(skf.split(lex, y))

        def out_of_fold(make: Callable[[], LogisticRegression], x: np.ndarray | sp.csr_matrix) -> np.ndarray:
            oof = np.zeros(len(y))
            for tr, te in splits:
                oof[te] = make().fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
            return oof

        def sparse_lr() -> LogisticRegression:
            return LogisticRegression(C=3.0, max_iter=2000)

        def dense_lr() -> LogisticRegression:
            return LogisticRegression(C=1.0, max_iter=1000)

        stacked = [lex, cos, out_of_fold(sparse_lr, sparse_x)[:, None]]
        self.sparse_model = sparse_lr().fit(sparse_x, y)
        if dense.shape[1]:
            stacked.append(out_of_fold(dense_lr, dense)[:, None])
            self.dense_model = dense_lr().fit(dense, y)
        x = np.hstack(stacked)
        oof = np.zeros(len(y))
        for tr, te in splits:
            final = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
            oof[te] = final.fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
        self.threshold = best_threshold(oof, y)
        self.model.fit(x, y)
        return self

    def score_many(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """P(same question) for each pair."""
        if len(a) <= 8:  # chat path: single-threaded BLAS/OpenMP has far better tail latency
            with _blas_single_thread(None):
                return self._score(a, b)
        return self._score(a, b)

    def _score(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        if self.sparse_model is None:
            raise RuntimeError("pair classifier is not trained")
        if self.encoder_name is not None and not self._parts:
            raise RuntimeError("pair model needs its encoder: call bind_encoder()")
        lex = self.featurizer.transform(a, b)
        cos, dense = _dense(self._parts, a, b)
        stacked = [lex, cos, self.sparse_model.predict_proba(self._sparse_inter(a, b))[:, 1:2]]
        if self.dense_model is not None:
            stacked.append(self.dense_model.predict_proba(dense)[:, 1:2])
        return np.asarray(self.model.predict_proba(np.hstack(stacked))[:, 1])

    def score(self, a: str, b: str) -> float:
        """P(same question) for one pair."""
        return float(self.score_many([a], [b])[0])

    def matches(self, a: str, b: str) -> bool:
        """The trained decision: ``score >= threshold``."""
        return self.score(a, b) >= self.threshold
