"""Out-of-scope detection from in-scope data alone: how many unrelated questions each novelty score flags when the
threshold declines a given share of the tenant's own held-out questions.

Usage::

    PYTHONPATH=src python bench/bench_novelty.py [--datasets ../shared/datasets] [--encoder use+e5+minilm]

SMP2020 is the tenant (train file: 80 % fitted, 20 % held out with the classifier's own
``_stratified_holdout(labels, 0.2, seed=0)`` — the thresholds come from those rows only); its valid file is new
in-scope questions; the unrelated questions are bank customer-service questions from BQ (500 from each half of
``pairs/bq/valid.csv``, the first half being the one ``make_faq_sets.py`` uses). Scores: the cosine to the nearest
training example (the answer policy's default novelty score) and the typicality (``IntentConfig.typicality``:
minus the Mahalanobis distance to the nearest intent mean). No test split is read.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from omnidesk.bot.nlu.encoders import for_language, load_default_encoder
from omnidesk.bot.nlu.evaluate import read_intent_csv, read_pair_csv
from omnidesk.bot.nlu.intents import IntentConfig, _Core, _stratified_holdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="../shared/datasets", type=Path)
    parser.add_argument("--encoder", default="use+e5+minilm")
    args = parser.parse_args()
    texts, labels = read_intent_csv(args.datasets / "intent/smp2020/train.csv")
    valid, _ = read_intent_csv(args.datasets / "intent/smp2020/valid.csv")
    bq, _, _ = read_pair_csv(args.datasets / "pairs/bq/valid.csv")
    first = list(dict.fromkeys(bq[: len(bq) // 2]))
    second = [t for t in dict.fromkeys(bq[len(bq) // 2 :]) if t not in set(first)]
    encoder = for_language(load_default_encoder(args.encoder), "zh")
    assert encoder is not None
    y = np.asarray(labels)
    hold = _stratified_holdout(y, 0.2, 0)
    fit, held = np.flatnonzero(~hold), np.flatnonzero(hold)
    emb = encoder.encode(texts)
    cfg = replace(IntentConfig(), language="zh", svm_c=3.0, embedding_weight=1.5, typicality=True)
    core = _Core(cfg, True)
    core.fit([texts[i] for i in fit], y[fit], emb[fit], np.ones(len(fit), bool))
    sets = {
        "held-out (own)": ([texts[i] for i in held], emb[held]),
        "SMP2020 valid": (valid, encoder.encode(valid)),
        "BQ, first half": (s := random.Random(0).sample(first, 500), encoder.encode(s)),
        "BQ, second half": (s := random.Random(1).sample(second, 500), encoder.encode(s)),
    }
    scores: dict[str, dict[str, np.ndarray]] = {}
    for name, (rows, vectors) in sets.items():
        _, _, nearest = core.neighbours(rows, vectors)
        typ = core.typicality(vectors)
        assert typ is not None
        scores[name] = {"cosine": nearest, "typicality": typ.max(axis=1)}
    for score in ("cosine", "typicality"):
        for share in (0.02, 0.05):
            threshold = np.quantile(scores["held-out (own)"][score], share)
            flagged = {name: float((s[score] < threshold).mean()) for name, s in scores.items() if "own" not in name}
            print(f"{score:10s} {share:.0%} of own held-out declined: " + ", ".join(
                f"{name} {share_:.1%}" for name, share_ in flagged.items()))  # fmt: skip


if __name__ == "__main__":
    main()
