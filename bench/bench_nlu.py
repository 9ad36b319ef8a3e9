"""Per-message latency of the whole NLU turn (entities, sentiment, intent, FAQ search, policy).

Usage::

    PYTHONPATH=src python bench/bench_nlu.py --train ../shared/datasets/intent/smp2020/train.csv \
        [--faq ../shared/datasets/pairs/bq/valid.csv] [--encoder use|e5|use+e5|none] [--n 300]

Messages are timed one at a time after a warm-up; they are held out of training, so the encoder has not
cached them (the intent step pays for the encoding, the FAQ step reuses it), which is how a chat turn is
served. Prints JSON: training seconds, p50/p99 of each stage and of the whole turn.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time

import numpy as np

from omnidesk.bot.nlu import (
    FaqIndex,
    IntentClassifier,
    analyze_sentiment,
    decide,
    extract_entities,
    load_default_encoder,
)
from omnidesk.bot.nlu.evaluate import read_intent_csv


def _percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(values, 50)), 3), "p99_ms": round(float(np.percentile(values, 99)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="intent CSV (text,label)")
    parser.add_argument("--faq", help="pair CSV (text_a,text_b,label); text_b questions become FAQ entries")
    parser.add_argument("--encoder", default="use+e5")
    parser.add_argument("--n", type=int, default=300, help="messages to time")
    args = parser.parse_args()

    encoder = None if args.encoder == "none" else load_default_encoder(args.encoder)
    texts, labels = read_intent_csv(args.train)
    rng = random.Random(0)
    order = list(range(len(texts)))
    rng.shuffle(order)
    n_eval = min(args.n, len(texts) // 5)
    test_idx, train_idx = order[:n_eval], order[n_eval:]
    t0 = time.perf_counter()
    model = IntentClassifier.train([texts[i] for i in train_idx], [labels[i] for i in train_idx], encoder=encoder)
    train_seconds = time.perf_counter() - t0

    index = FaqIndex(encoder=encoder)
    build_seconds = 0.0
    if args.faq:
        with open(args.faq, encoding="utf-8-sig", newline="") as fh:
            questions = sorted({row["text_b"].strip() for row in csv.DictReader(fh)})[:1000]
        t0 = time.perf_counter()
        index.add_many([(f"faq{i}", [q]) for i, q in enumerate(questions)])
        build_seconds = time.perf_counter() - t0

    stages: dict[str, list[float]] = {k: [] for k in ("entities", "sentiment", "intent", "faq", "policy", "turn")}
    messages = [texts[i] for i in test_idx]
    for k, text in enumerate(messages[:10] + messages):
        marks = [time.perf_counter()]
        ents = extract_entities(text)
        marks.append(time.perf_counter())
        senti = analyze_sentiment(text)
        marks.append(time.perf_counter())
        intent = model.predict(text)
        marks.append(time.perf_counter())
        faq = index.search(text) if len(index) else []
        marks.append(time.perf_counter())
        decide(text, faq=faq, intent=intent, sentiment=senti, entities=ents)
        marks.append(time.perf_counter())
        if k < 10:
            continue  # warm-up
        for name, a, b in zip(("entities", "sentiment", "intent", "faq", "policy"), marks, marks[1:], strict=False):
            stages[name].append((b - a) * 1000)
        stages["turn"].append((marks[-1] - marks[0]) * 1000)
    report = {
        "encoder": getattr(encoder, "name", None),
        "train_examples": len(train_idx),
        "train_seconds": round(train_seconds, 2),
        "faq_entries": len(index),
        "faq_build_seconds": round(build_seconds, 3),
        "messages": len(messages),
        **{name: _percentiles(v) for name, v in stages.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
