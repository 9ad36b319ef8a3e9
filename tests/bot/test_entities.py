import datetime as dt

import pytest

from omnidesk.bot.nlu import InvalidPatternError, compile_tenant_pattern, extract_entities
from omnidesk.bot.nlu.entities import MAX_INPUT_CHARS

REF = dt.date(2026, 11, 25)  # a Wednesday


def kinds(text: str, **kw: object) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for e in extract_entities(text, reference=REF, **kw):  # type: ignore[arg-type]
        assert text[e.span[0] : e.span[1]] == e.text
        out.setdefault(e.kind, []).append(e.value)
    return out


def test_tracking_numbers() -> None:
    got = kinds("顺丰 SF1234567890123，圆通YT1234567890，京东 JDV001234567890 和 sf 123456789012")
    assert got["tracking_number"] == ["SF1234567890123", "YT1234567890", "JDV001234567890", "SF123456789012"]


def test_order_numbers() -> None:
    assert kinds("订单号：2026112512345678")["order_number"] == ["2026112512345678"]
    assert kinds("order #AB12345678")["order_number"] == ["AB12345678"]
    assert "order_number" not in kinds("订单 12345")  # too few digits


def test_phones() -> None:
    assert kinds("电话 13800138000")["phone"] == ["+8613800138000"]
    assert kinds("call +86 138 0013 8000")["phone"] == ["+8613800138000"]
    assert kinds("call +1 (415) 555-2671 now")["phone"] == ["+14155552671"]
    assert "phone" not in kinds("12800138000")  # not a mobile prefix


def test_full_width_digits_keep_spans() -> None:
    got = extract_entities("手机１３８００１３８０００", reference=REF)
    assert got[0].kind == "phone" and got[0].value == "+8613800138000" and got[0].span == (2, 13)


def test_email() -> None:
    assert kinds("mail Foo.Bar+x@Example.co.uk.")["email"] == ["foo.bar+x@example.co.uk"]


def test_amounts() -> None:
    got = kinds("付了¥1,299.50和30元，另外 $12 和 100 USD，1.5万元，50块钱")["amount"]
    assert got == [
        {"amount": "1299.5", "currency": "CNY"},
        {"amount": "30", "currency": "CNY"},
        {"amount": "12", "currency": "USD"},
        {"amount": "100", "currency": "USD"},
        {"amount": "15000", "currency": "CNY"},
        {"amount": "50", "currency": "CNY"},
    ]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("明天", "2026-11-26"),
        ("后天", "2026-11-27"),
        ("大后天", "2026-11-28"),
        ("昨天", "2026-11-24"),
        ("下周一", "2026-11-30"),
        ("这周五", "2026-11-27"),
        ("周一", "2026-11-30"),
        ("3天后", "2026-11-28"),
        ("today", "2026-11-25"),
        ("tomorrow", "2026-11-26"),
        ("the day after tomorrow", "2026-11-27"),
        ("next Monday", "2026-11-30"),
        ("this Friday", "2026-11-27"),
        ("in 2 weeks", "2026-12-09"),
        ("2026-11-30", "2026-11-30"),
        ("2026/12/01", "2026-12-01"),
        ("2027年1月5日", "2027-01-05"),
        ("11月30日", "2026-11-30"),
        ("1月3号", "2027-01-03"),  # already passed this year → next year
        ("Nov 30", "2026-11-30"),
        ("30 November 2025", "2025-11-30"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    assert kinds(text)["date"] == [iso]


def test_invalid_date_ignored() -> None:
    assert "date" not in kinds("2026-02-30")


def test_tenant_pattern() -> None:
    pat = compile_tenant_pattern("member_id", r"VIP-\d{6}")
    got = kinds("my id is VIP-123456", tenant_patterns=[pat])
    assert got["member_id"] == ["VIP-123456"]


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(\w*)*x", r"(x+){2,}", r"(a)\1", "[", "a" * 301, "", r"a*"],
)
def test_bad_tenant_patterns_rejected(pattern: str) -> None:
    with pytest.raises(InvalidPatternError):
        compile_tenant_pattern("code", pattern)


def test_bad_kind_rejected() -> None:
    with pytest.raises(InvalidPatternError, match="kind"):
        compile_tenant_pattern("Bad Kind", r"\d+")


def test_long_input_truncated() -> None:
    text = "x" * (MAX_INPUT_CHARS + 10) + " 13800138000"
    assert extract_entities(text, reference=REF) == []
