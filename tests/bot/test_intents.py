import pytest

from omnidesk.bot.nlu import HashingEncoder, IntentClassifier, IntentConfig, TrainingError


def test_zh_without_encoder(zh_data: tuple[list[str], list[str]]) -> None:
    model = IntentClassifier.train(*zh_data)
    pred = model.predict("退款什么时候到账")
    assert pred.top[0][0] == "refund"
    assert 0.0 <= pred.confidence <= 1.0
    assert abs(sum(p for _, p in model.predict("快递", top_k=3).top) - 1.0) < 1e-6
    assert model.predict("我的包裹到哪里了").top[0][0] == "logistics"
    assert model.labels == ["invoice", "logistics", "refund"]


def test_en_with_fake_encoder(en_data: tuple[list[str], list[str]], fake_encoder: HashingEncoder) -> None:
    model = IntentClassifier.train(*en_data, encoder=fake_encoder)
    assert model.encoder_name == "hashing"
    assert model.predict("I lost my credit card").top[0][0] == "card_lost"
    assert model.predict("transfer money to my friend").top[0][0] == "transfer"


def test_oos_class_and_threshold(
    en_data: tuple[list[str], list[str]], oos_examples: list[str], fake_encoder: HashingEncoder
) -> None:
    texts = en_data[0] + oos_examples
    labels = en_data[1] + ["oos"] * len(oos_examples)
    model = IntentClassifier.train(texts, labels, encoder=fake_encoder, oos_label="oos")
    assert "oos" not in model.labels
    pred = model.predict("what's the weather like today")
    assert pred.out_of_scope and pred.label is None and pred.reason is not None
    assert all(label != "oos" for label, _ in pred.top)
    assert model.predict("check my account balance").label == "balance"


def test_fixed_threshold_declines_everything(en_data: tuple[list[str], list[str]]) -> None:
    model = IntentClassifier.train(*en_data, config=IntentConfig(oos_threshold=1.01))
    pred = model.predict("what is my balance")
    assert pred.out_of_scope and pred.reason == "low_confidence"
    assert pred.top[0][0] == "balance"  # the best guess is still reported


def test_serialisation_round_trip(zh_data: tuple[list[str], list[str]], fake_encoder: HashingEncoder) -> None:
    model = IntentClassifier.train(*zh_data, encoder=fake_encoder)
    blob = model.to_bytes()
    assert isinstance(blob, bytes)
    loaded = IntentClassifier.from_bytes(blob, encoder=fake_encoder)
    for text in ("怎么开发票", "退款进度", "快递到哪了"):
        a, b = model.predict(text), loaded.predict(text)
        assert a.top == b.top and a.confidence == pytest.approx(b.confidence)


def test_loaded_model_requires_its_encoder(en_data: tuple[list[str], list[str]], fake_encoder: HashingEncoder) -> None:
    blob = IntentClassifier.train(*en_data, encoder=fake_encoder).to_bytes()
    loaded = IntentClassifier.from_bytes(blob)
    with pytest.raises(RuntimeError, match="encoder"):
        loaded.predict("hi")
    with pytest.raises(ValueError, match="encoder"):
        loaded.bind_encoder(None)


def test_predict_many_matches_predict(en_data: tuple[list[str], list[str]]) -> None:
    model = IntentClassifier.train(*en_data)
    texts = ["lost card", "balance please", "wire money", "what"]
    batch = model.predict_many(texts)
    for text, pred in zip(texts, batch, strict=True):
        single = model.predict(text)
        assert single.top[0][0] == pred.top[0][0]
        assert single.confidence == pytest.approx(pred.confidence, abs=1e-5)


def test_training_errors() -> None:
    with pytest.raises(TrainingError):
        IntentClassifier.train(["a", "b"], ["x", "x"])
    with pytest.raises(TrainingError):
        IntentClassifier.train(["a"], ["x", "y"])


def test_binary_and_tiny_data() -> None:
    model = IntentClassifier.train(["hello", "hi there", "bye", "see you"], ["greet", "greet", "bye", "bye"])
    assert model.predict("hello friend").top[0][0] == "greet"
