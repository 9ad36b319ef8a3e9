"""Golden cases of the rule scorer (pure: no database), in Chinese and English, and the agreement maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnidesk.quality import calibration, scoring, sensitive

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def transcript(*turns: tuple[str, str, int], resolved_after: int | None = None) -> scoring.Transcript:
    return scoring.Transcript(
        [scoring.Turn(f"m{n}", who, body, T0 + timedelta(seconds=at)) for n, (who, body, at) in enumerate(turns)],
        T0,
        T0 + timedelta(seconds=resolved_after) if resolved_after is not None else None,
    )


def by_key(findings: list[scoring.Finding]) -> dict[str, scoring.Finding]:
    return {f.key: f for f in findings}


CRITERIA = scoring.default_criteria()


def test_zh_greeting_missing_fails_with_evidence_and_suggestion() -> None:
    t = transcript(
        ("customer", "我的快递三天了还没到，太慢了！", 0),
        ("agent", "订单号多少？", 30),
        ("customer", "123456", 40),
        ("agent", "已为您催促快递，明天送达。还有其他问题吗？", 70),
        resolved_after=100,
    )
    found = by_key(scoring.score(t, CRITERIA))
    greeting = found["greeting"]
    assert greeting.answer == "fail"
    assert greeting.evidence == [scoring.Span("m1", 0, len("订单号多少？"))]
    assert "问候" in greeting.suggestion["zh-CN"] and "greeting" in greeting.suggestion["en"]
    assert found["closing"].answer == "pass"
    closing = found["closing"].evidence[0]
    assert t.turns[3].body[closing.start : closing.end] == "还有其他"
    assert found["solution"].answer == "pass"
    assert found["first_response"].answer == "pass"
    # the customer was upset ("太慢") and the agent never acknowledged it
    assert found["empathy"].answer == "fail"


def test_en_all_good_passes_and_points_at_the_words() -> None:
    t = transcript(
        ("customer", "My parcel never arrived, this is terrible", 0),
        ("agent", "Hello, I'm sorry about the delay. I understand.", 20),
        ("agent", "I have arranged a replacement. Anything else I can help with?", 60),
        ("customer", "No, thanks", 80),
        resolved_after=90,
    )
    findings = scoring.score(t, CRITERIA)
    found = by_key(findings)
    assert found["greeting"].answer == "pass"
    span = found["greeting"].evidence[0]
    assert t.turns[1].body[span.start : span.end] == "Hello"
    assert found["empathy"].answer == "pass"
    assert found["closing"].answer == "pass"
    assert found["forbidden_phrases"].answer == "pass"
    answers = [{"answer": f.answer, "weight": c["weight"]} for c, f in zip(CRITERIA, findings, strict=True)]
    assert scoring.percent(answers) == 100.0


def test_en_greeting_missing_and_forbidden_phrase() -> None:
    t = transcript(("customer", "where is my order", 0), ("agent", "Calm down, it's not my problem.", 30))
    found = by_key(scoring.score(t, CRITERIA))
    assert found["greeting"].answer == "fail"
    assert found["greeting"].evidence[0].message_id == "m1"
    forbidden = found["forbidden_phrases"]
    assert forbidden.answer == "fail"
    assert {t.turns[1].body[e.start : e.end].lower() for e in forbidden.evidence} <= {"calm down", "not my problem"}
    assert "Avoid" in forbidden.suggestion["en"]


def test_bot_replies_are_not_the_agents_and_first_response_counts_from_hand_over() -> None:
    t = transcript(
        ("customer", "你好", 0),
        ("bot", "您好，欢迎光临！", 1),
        ("bot", "正在为您转接人工", 600),
        ("agent", "请问有什么可以帮您？", 630),
    )
    found = by_key(scoring.score(t, CRITERIA))
    assert found["greeting"].answer == "fail"  # the assistant greeted, the agent did not
    assert found["first_response"].answer == "pass"  # 30 s after the hand-over, not 630 s after the customer


def test_identity_before_account_data() -> None:
    bad = transcript(("customer", "我的余额是多少", 0), ("agent", "您好，您的余额是 300 元", 10))
    finding = by_key(scoring.score(bad, CRITERIA))["identity"]
    assert finding.answer == "fail"
    assert bad.turns[1].body[finding.evidence[0].start : finding.evidence[0].end] == "余额"
    good = transcript(
        ("customer", "what is my balance", 0),
        ("agent", "Hello, please verify the last four digits of your phone.", 10),
        ("customer", "1234", 20),
        ("agent", "Thanks, your balance is 300.", 30),
    )
    assert by_key(scoring.score(good, CRITERIA))["identity"].answer == "pass"


def test_required_phrase_missing_names_it() -> None:
    criteria = [{"key": "risk", "kind": "required_phrases", "weight": 10, "phrases": ["投资有风险"]}]
    t = transcript(("customer", "这个理财收益多少", 0), ("agent", "您好，年化 3%。", 10))
    (finding,) = scoring.score(t, criteria)
    assert finding.answer == "fail" and "投资有风险" in finding.suggestion["zh-CN"]


def test_sensitive_scan_finds_cards_by_luhn_and_id_numbers() -> None:
    hits = sensitive.scan("卡号 6222 0212 3456 7890 128，身份证 11010519491231002X", [], ["card", "id_card"])
    assert [h.kind for h in hits] == ["card", "id_card"]
    assert sensitive.scan("订单号 1234567890123", [], ["card"]) == []  # fails the Luhn check
    masked = sensitive.mask("card 4111111111111111 ok", sensitive.scan("card 4111111111111111 ok", [], ["card"]))
    assert masked == "card ************1111 ok"


def test_alpha_on_a_known_matrix() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the nominal example with missing values.
    nan = None
    matrix = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    assert calibration.alpha(matrix, "nominal") == 0.743
    assert calibration.alpha([[2, 2], [2, 2]]) is None  # no variation: undefined
    perfect = calibration.per_criterion(
        ["greeting"],
        {
            "c1": {"auto": {"greeting": "pass"}, "p1": {"greeting": "pass"}, "p2": {"greeting": "pass"}},  # type: ignore[dict-item]
            "c2": {"auto": {"greeting": "fail"}, "p1": {"greeting": "fail"}, "p2": {"greeting": "fail"}},  # type: ignore[dict-item]
        },
    )
    assert perfect[0]["people"] == 1.0 and perfect[0]["auto_vs_people"] == 1.0
