import pytest

from omnidesk.bot.nlu import analyze_sentiment


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("我的快递到哪了", "neutral"),
        ("where is my parcel?", "neutral"),
        ("你们的服务太差了，很失望", "negative"),
        ("I'm really disappointed, this is terrible", "negative"),
        ("什么破服务！！！气死我了", "angry"),
        ("THIS IS RIDICULOUS!!! WORST SERVICE", "angry"),
        ("紧急！卡被盗刷了", "urgent"),
        ("this is urgent, please help asap", "urgent"),
    ],
)
def test_labels(text: str, label: str) -> None:
    assert analyze_sentiment(text).label == label


def test_negation() -> None:
    assert analyze_sentiment("我没有不满意").label == "neutral"
    assert analyze_sentiment("I'm not angry, just asking").label == "neutral"
    assert analyze_sentiment("不太差").label == "neutral"


def test_intensity_raises_score() -> None:
    calm = analyze_sentiment("this is bad").score
    loud = analyze_sentiment("this is bad!!! ???").score
    assert 0 <= calm < loud <= 1


def test_complaint_cues() -> None:
    for text in ("我要投诉你们", "再不处理我就打12315", "I want to file a complaint"):
        result = analyze_sentiment(text)
        assert result.complaint, text
        assert result.label != "neutral"


def test_tenant_urgent_words() -> None:
    assert analyze_sentiment("伤口出血了").label == "neutral"
    assert analyze_sentiment("伤口出血了", urgent_words=("出血",)).label == "urgent"
