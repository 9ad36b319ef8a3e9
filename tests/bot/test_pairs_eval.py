import csv
from pathlib import Path

import numpy as np
import pytest

from omnidesk.bot.nlu import HashingEncoder, PairClassifier, evaluate_intents, evaluate_pairs
from omnidesk.bot.nlu.evaluate import cross_validate_intents
from omnidesk.bot.nlu.pairs import best_threshold, pair_features

POS = [
    ("怎么退货", "如何退货"),
    ("花呗怎么还款", "花呗如何还钱"),
    ("密码忘了怎么办", "忘记密码怎么办"),
    ("快递什么时候到", "快递多久能到"),
    ("怎么开发票", "如何开具发票"),
    ("借款能提前还吗", "可以提前还款吗"),
]
NEG = [("怎么退货", "怎么开发票"), ("花呗怎么还款", "借呗额度多少"), ("密码忘了怎么办", "快递什么时候到"),
       ("快递什么时候到", "怎么注销账户"), ("怎么开发票", "运费谁出"), ("借款能提前还吗", "利息怎么算")]  # fmt: skip


def _pairs(n: int = 4) -> tuple[list[str], list[str], list[int]]:
    a, b, y = [], [], []
    for _ in range(n):
        for x, z in POS:
            a.append(x)
            b.append(z)
            y.append(1)
        for x, z in NEG:
            a.append(x)
            b.append(z)
            y.append(0)
    return a, b, y


def test_best_threshold() -> None:
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    gold = np.array([0, 0, 1, 1])
    th = best_threshold(scores, gold)
    assert 0.2 < th < 0.8


def test_pair_features_shape() -> None:
    f = pair_features(["怎么退货", "a"], ["如何退货", "b"])
    assert f.shape[0] == 2 and np.isfinite(f).all()


def test_pair_classifier(fake_encoder: HashingEncoder) -> None:
    a, b, y = _pairs()
    model = PairClassifier.train(a, b, y, encoder=fake_encoder, folds=3)
    assert model.score("怎么退货", "如何退货") > model.score("怎么退货", "怎么开发票")
    assert 0.0 <= model.score("x", "y") <= 1.0


def _write(path: Path, header: list[str], rows: list[tuple[object, ...]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_evaluate_pairs_json(tmp_path: Path) -> None:
    a, b, y = _pairs()
    valid = _write(tmp_path / "valid.csv", ["text_a", "text_b", "label"], list(zip(a, b, y, strict=True)))
    res = evaluate_pairs(valid, valid)
    assert set(res) >= {"accuracy", "f1", "p50_ms", "p99_ms", "train_seconds", "baseline"}
    assert 0.0 <= res["accuracy"] <= 1.0
    assert set(res["baseline"]) >= {"accuracy", "f1", "p50_ms", "p99_ms", "train_seconds"}


def test_evaluate_intents_json(tmp_path: Path, en_data: tuple[list[str], list[str]], oos_examples: list[str]) -> None:
    rows = list(zip(en_data[0], en_data[1], strict=True)) + [(t, "oos") for t in oos_examples]
    train = _write(tmp_path / "train.csv", ["text", "label"], rows)
    res = evaluate_intents(train, train, oos_label="oos", encoder=HashingEncoder(dim=64))
    for key in ("accuracy", "macro_f1", "oos_recall", "p50_ms", "p99_ms", "train_seconds", "baseline"):
        assert key in res
    assert "oos_recall" in res["baseline"]
    res2 = evaluate_intents(train, train, baseline=False)
    assert "oos_recall" not in res2 and "baseline" not in res2


def test_cross_validation_scores_every_row_once(tmp_path: Path, en_data: tuple[list[str], list[str]]) -> None:
    train = _write(tmp_path / "train.csv", ["text", "label"], list(zip(en_data[0], en_data[1], strict=True)))
    encoder = HashingEncoder(dim=64)
    res = cross_validate_intents(train, 3, encoder=encoder)
    assert len(res["folds"]) == 3 and res["n"] == len(en_data[0]) and res["encoder"] == "hashing"
    assert res["accuracy"] == round(sum(f["accuracy"] for f in res["folds"]) / 3, 4)
    assert res["accuracy"] > 0.5  # the fixture's intents are separable: far above chance on held-out folds
    with pytest.raises(ValueError):
        cross_validate_intents(train, 1)
