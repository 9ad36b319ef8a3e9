"""Chat-message embedding with the default encoders: parts side by side (the product) against one part at a time.

Usage::

    PYTHONPATH=src python bench/bench_encoders.py --texts ../shared/datasets/intent/banking77/train.csv \
        [--encoder use+e5+minilm] [--n 400] [--concurrency 1 4]

Every message is new to the encoders (their caches are off), as a customer's message is. For each concurrency
(messages embedded at once by that many threads) it prints throughput and p50/p99 per message, first with the
parts side by side (``ConcatEncoder``'s chat path), then with every part one after another (the baseline, run in
the same process on the same messages), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from omnidesk.bot.nlu import encoders
from omnidesk.bot.nlu.evaluate import read_intent_csv


def _run(encoder: encoders.Encoder, texts: list[str], concurrency: int) -> dict[str, float]:
    latencies: list[float] = []

    def one(text: str) -> None:
        start = time.perf_counter()
        encoder.encode([text])
        latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, texts))
    wall = time.perf_counter() - start
    return {
        "per_second": round(len(texts) / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", required=True, help="CSV with a text column (e.g. an intent training file)")
    parser.add_argument("--encoder", default="use+e5+minilm")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    encoder = encoders.load_default_encoder(args.encoder)
    if not isinstance(encoder, encoders.ConcatEncoder):
        raise SystemExit(f"{args.encoder!r} is not a combination of encoders")
    for part in encoder.parts:
        if isinstance(part, encoders.CachedEncoder):
            part.cache_size = 0
    texts = read_intent_csv(args.texts)[0][: args.n]
    for text in texts[:20]:  # warm-up, and each part's timing for the grouping
        encoder.encode([text])
    report: dict[str, object] = {"encoder": encoder.name, "messages": len(texts)}
    limit = encoders._SIDE_BY_SIDE_MAX
    for concurrency in args.concurrency:
        encoders._SIDE_BY_SIDE_MAX = limit
        side = _run(encoder, texts, concurrency)
        encoders._SIDE_BY_SIDE_MAX = 0  # baseline: the batch path, one part after another
        serial = _run(encoder, texts, concurrency)
        encoders._SIDE_BY_SIDE_MAX = limit
        report[f"concurrency_{concurrency}"] = {
            "side_by_side": side,
            "one_part_at_a_time": serial,
            "throughput_ratio": round(side["per_second"] / serial["per_second"], 2),
            "p99_ratio": round(side["p99_ms"] / serial["p99_ms"], 2),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
