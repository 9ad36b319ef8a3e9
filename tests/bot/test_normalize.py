from hypothesis import given
from hypothesis import strategies as st

from omnidesk.bot.nlu import detect_language, normalize, to_simplified
from omnidesk.bot.nlu.normalize import to_half_width


def test_full_width_and_case() -> None:
    assert normalize("ＡＢＣ　１２３！") == "abc 123!"
    assert normalize("  Hello   World ") == "hello world"


def test_traditional_to_simplified_optional() -> None:
    assert normalize("這個帳號") == "這個帳號"
    assert normalize("這個帳號", simplified=True) == "这个账号"
    assert to_simplified("已經發貨") == "已经发货"


def test_half_width_preserves_length() -> None:
    text = "订单１２３，ＳＦ"
    assert len(to_half_width(text)) == len(text)


@given(st.text(max_size=50))
def test_normalize_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


def test_detect_language() -> None:
    assert detect_language("我的快递到哪了") == "zh"
    assert detect_language("where is my parcel") == "en"
    assert detect_language("我的 order 到哪了") == "zh"
    assert detect_language("こんにちは") == "ja"
    assert detect_language("안녕하세요") == "ko"
    assert detect_language("12345 !!") == "und"
    assert detect_language("", default="zh") == "zh"
