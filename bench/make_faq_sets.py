"""Build FAQ + queries files for ``omnidesk bot eval-faq`` from the shared intent data sets, into a directory
outside the project (the data sets must never be committed).

Usage::

    PYTHONPATH=src python bench/make_faq_sets.py [--datasets ../shared/datasets] [--out /tmp/faq-sets]

Writes, per set, ``<set>-faq.csv`` (``id,question,variants,answer,language``: one entry per intent, its question
the median-length training example, the other training examples its variants) and ``<set>-queries.csv``
(``text,id``; an empty id is a question the FAQ does not cover):

* ``banking77``: a bank's FAQ of 77 entries. BANKING77 has no validation file, so its train file is carved with
  the classifier's own ``_stratified_holdout(labels, 0.2, seed=42)`` (8,005 rows → variants, 1,998 → queries,
  the carve the assistant's docs use). Unrelated questions: CLINC150's out-of-scope rows (train + valid, 200)
  and its valid rows of 40 intents no bank answers (recipes, music, weather …, 800).
* ``smp2020``: a Chinese FAQ of 59 entries (train → variants, valid → queries). Unrelated questions: 500 bank
  customer-service questions from the first half of ``pairs/bq/valid.csv`` (the half ``eval-pairs`` tunes on).
* ``clinc150``: 150 entries (train), queries = valid, its ``oos`` rows unrelated.

The withheld test splits are not read.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from omnidesk.bot.nlu.evaluate import read_intent_csv, read_pair_csv
from omnidesk.bot.nlu.intents import _stratified_holdout

UNRELATED_TO_A_BANK = (
    "alarm", "book_flight", "book_hotel", "calendar", "calories", "carry_on", "change_volume", "cook_time",
    "definition", "directions", "flight_status", "flip_coin", "food_last", "fun_fact", "gas_type",
    "ingredient_substitution", "ingredients_list", "jump_start", "lost_luggage", "meal_suggestion", "mpg",
    "next_song", "nutrition_info", "oil_change_how", "play_music", "plug_type", "recipe", "reminder",
    "restaurant_reservation", "restaurant_reviews", "roll_dice", "shopping_list", "smart_home", "spelling",
    "tell_joke", "timer", "tire_pressure", "traffic", "uber", "weather",
)  # fmt: skip


def _faq_rows(texts: list[str], labels: list[str], language: str) -> list[list[str]]:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in zip(texts, labels, strict=True):
        if text not in by_label[label]:
            by_label[label].append(text)
    rows = []
    for label in sorted(by_label):
        examples = by_label[label]
        question = sorted(examples, key=len)[len(examples) // 2]
        variants = [e.replace("|", "/") for e in examples if e != question]
        answer = f"Answer of {label}." if language == "en" else f"{label} 的答案。"
        rows.append([label, question, "|".join(variants), answer, language])
    return rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def build(datasets: Path, out: Path) -> dict[str, tuple[int, int, int]]:
    """Write the files; returns per set (entries, in-scope queries, unrelated queries)."""
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, tuple[int, int, int]] = {}
    clinc_train = read_intent_csv(datasets / "intent/clinc150/train.csv")
    clinc_valid = read_intent_csv(datasets / "intent/clinc150/valid.csv")

    texts, labels = read_intent_csv(datasets / "intent/banking77/train.csv")
    hold = _stratified_holdout(np.asarray(labels), 0.2, seed=42)
    faq = _faq_rows([t for t, h in zip(texts, hold, strict=True) if not h],
                    [lab for lab, h in zip(labels, hold, strict=True) if not h], "en")  # fmt: skip
    queries = [[t, lab] for t, lab, h in zip(texts, labels, hold, strict=True) if h]
    unrelated = [[t, ""] for t, lab in zip(*clinc_train, strict=True) if lab == "oos"]
    unrelated += [[t, ""] for t, lab in zip(*clinc_valid, strict=True) if lab == "oos" or lab in UNRELATED_TO_A_BANK]
    _write(out / "banking77-faq.csv", ["id", "question", "variants", "answer", "language"], faq)
    _write(out / "banking77-queries.csv", ["text", "id"], queries + unrelated)
    made["banking77"] = (len(faq), len(queries), len(unrelated))

    texts, labels = read_intent_csv(datasets / "intent/smp2020/train.csv")
    faq = _faq_rows(texts, labels, "zh-CN")
    v_texts, v_labels = read_intent_csv(datasets / "intent/smp2020/valid.csv")
    queries = [[t, lab] for t, lab in zip(v_texts, v_labels, strict=True)]
    bq_a, _, _ = read_pair_csv(datasets / "pairs/bq/valid.csv")
    first_half = list(dict.fromkeys(bq_a[: len(bq_a) // 2]))
    unrelated = [[t, ""] for t in random.Random(0).sample(first_half, 500)]
    _write(out / "smp2020-faq.csv", ["id", "question", "variants", "answer", "language"], faq)
    _write(out / "smp2020-queries.csv", ["text", "id"], queries + unrelated)
    made["smp2020"] = (len(faq), len(queries), len(unrelated))

    keep = [lab != "oos" for lab in clinc_train[1]]
    faq = _faq_rows([t for t, k in zip(clinc_train[0], keep, strict=True) if k],
                    [lab for lab, k in zip(clinc_train[1], keep, strict=True) if k], "en")  # fmt: skip
    queries = [[t, "" if lab == "oos" else lab] for t, lab in zip(*clinc_valid, strict=True)]
    _write(out / "clinc150-faq.csv", ["id", "question", "variants", "answer", "language"], faq)
    _write(out / "clinc150-queries.csv", ["text", "id"], queries)
    made["clinc150"] = (len(faq), sum(1 for q in queries if q[1]), sum(1 for q in queries if not q[1]))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="../shared/datasets", type=Path)
    parser.add_argument("--out", default=None, type=Path, help="default: a new temporary directory")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="faq-sets-"))
    for name, (entries, in_scope, unrelated) in build(args.datasets, out).items():
        print(f"{out}/{name}-faq.csv: {entries} entries; {name}-queries.csv: {in_scope} + {unrelated} unrelated")


if __name__ == "__main__":
    main()
