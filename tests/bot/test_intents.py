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


def test_knn_weight_needs_a_clear_held_out_gain() -> None:
    import numpy as np

    classes = np.array(["a", "b"])
    y = np.array(["a"] * 50 + ["b"] * 50)
    svm = np.zeros((100, 2))
    svm[:, 0] = 1.0  # the SVM alone says "a" everywhere: 50 % right
    knn = np.zeros((100, 2))
    knn[50:, 1] = 1.0  # the neighbour score points at "b" exactly for the "b" rows
    assert IntentClassifier._pick_knn_weight(svm, knn, classes, y, (0.0, 0.5, 2.0, 3.0)) == 2.0
    knn[:, :] = 0.0
    knn[[50, 51], 1] = 2.0  # two rows fixed ...
    knn[0, 1] = 2.0  # ... one broken: a net gain of 1 < sqrt(3) is noise, the plain SVM stays
    assert IntentClassifier._pick_knn_weight(svm, knn, classes, y, (0.0, 1.0, 3.0)) == 0.0


def test_threshold_keeps_a_margin_for_few_oos_rows() -> None:
    import numpy as np

    n_in, n_oos = 200, 50
    conf = np.concatenate([np.full(n_in, 0.9), np.linspace(0.0, 0.99, n_oos)])
    in_hold = np.arange(n_in + n_oos) < n_in
    correct = in_hold.copy()
    th = IntentClassifier._tune_threshold(conf, np.zeros(n_in + n_oos, bool), correct, in_hold, 0.85)
    recall = float((conf[~in_hold] < th).mean())
    assert 0.85 + np.sqrt(0.85 * 0.15 / n_oos) - 0.03 <= recall < 0.95


def test_reference_projection_and_knn_config(
    en_data: tuple[list[str], list[str]], fake_encoder: HashingEncoder
) -> None:
    model = IntentClassifier.train(*en_data, encoder=fake_encoder, config=IntentConfig(ref_dims=8, knn_weight=1.0))
    core = model._core
    assert core is not None and core.ref_proj is not None and core.ref_proj.shape == (128, 8)
    assert model.knn_weight == 1.0
    assert model.predict("I lost my credit card").top[0][0] == "card_lost"
    loaded = IntentClassifier.from_bytes(model.to_bytes(), encoder=fake_encoder)
    for text in ("lost card", "send money", "balance please"):
        a, b = model.predict(text), loaded.predict(text)
        assert a.top == b.top and a.nearest_similarity == pytest.approx(b.nearest_similarity)


def test_model_stored_before_the_per_class_references_still_predicts(zh_data: tuple[list[str], list[str]]) -> None:
    """A pickled core without the new attributes (in-scope references only) predicts as before."""
    model = IntentClassifier.train(*zh_data)
    core = model._core
    assert core is not None
    state = core.__getstate__()
    for key in ("ref_starts", "in_cols", "ref_proj", "knn_weight"):
        state.pop(key)
    legacy = object.__new__(type(core))
    legacy.__setstate__(state)
    model._core = legacy
    model.knn_weight = 0.0
    pred = model.predict("退款什么时候到账")
    assert pred.top[0][0] == "refund" and pred.nearest_similarity > 0
