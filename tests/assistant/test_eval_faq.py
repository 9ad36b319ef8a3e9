"""``omnidesk bot eval-faq``: an FAQ and real questions through the same answer path as ``POST /bot/answer``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from omnidesk.bot.faq_eval import score
from omnidesk.cli import main

FAQ = {
    "card-lost": ("I lost my card", ["my card is lost", "lost card what now", "card missing", "can't find my card"]),
    "card-arrival": (
        "When will my card arrive?",
        ["card not arrived yet", "where is my new card", "card delivery time", "how long until my card comes"],
    ),
    "top-up": ("How do I top up?", ["add money to my account", "top up with a bank transfer", "top-up methods"]),
    "exchange-rate": ("What exchange rate do you use?", ["currency exchange rate", "rate for converting money"]),
    "pin": ("How do I change my PIN?", ["change pin", "reset my pin code", "new pin number"]),
    "fees": ("What fees do you charge?", ["are there any fees", "monthly fee", "charges for transfers"]),
}
QUERIES = [
    ("I think I lost my card", "card-lost"),
    ("my card is missing", "card-lost"),
    ("when does my new card arrive", "card-arrival"),
    ("how do I top up my account", "top-up"),
    ("what is your exchange rate", "exchange-rate"),
    ("change my pin please", "pin"),
    ("what fees are there", "fees"),
    ("What's the weather like in Paris tomorrow?", ""),
    ("play some jazz music", "oos"),
]


def test_eval_faq_reports_what_a_tenant_would_see(tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text(
        "id,question,variants,answer,language\n"
        + "".join(f'{key},{q},"{"|".join(v)}",Answer of {key}.,en\n' for key, (q, v) in FAQ.items()),
        encoding="utf-8",
    )
    queries = tmp_path / "queries.csv"
    queries.write_text("text,id\n" + "".join(f'"{t}",{i}\n' for t, i in QUERIES), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["bot", "eval-faq", "--faq", str(faq), "--queries", str(queries), "--encoder", "none"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["entries"], figures["in_scope"], figures["out_of_scope"]) == (6, 7, 2)
    inside = ("answered_right", "answered_wrong", "clarified_right", "clarified_wrong", "declined")
    assert abs(sum(figures[k] for k in inside) - 1) < 1e-3
    assert abs(sum(figures[f"oos_{k}"] for k in ("answered", "clarified", "declined")) - 1) < 1e-3
    assert figures["answered_right"] + figures["clarified_right"] >= 5 / 7
    assert figures["p99_ms"] >= figures["p50_ms"] > 0 and figures["examples"] >= 6 * 3
    assert figures["expected"]["target"] == 0.03


def test_scoring_counts_a_clarification_by_its_buttons() -> None:
    replies = [
        {"kind": "answer", "knowledge_id": "a", "buttons": []},
        {"kind": "answer", "knowledge_id": "b", "buttons": []},
        {"kind": "clarify", "knowledge_id": "b", "buttons": [{"knowledge_id": "b"}, {"knowledge_id": "a"}]},
        {"kind": "decline", "knowledge_id": None, "buttons": []},
        {"kind": "clarify", "knowledge_id": "a", "buttons": [{"knowledge_id": "a"}]},
        {"kind": "hand_over", "knowledge_id": None, "buttons": []},
    ]
    figures = score(replies, ["a", "a", "a", "a", "", "oos"])
    assert figures["answered_right"] == figures["answered_wrong"] == figures["clarified_right"] == 0.25
    assert figures["declined"] == 0.25 and figures["oos_clarified"] == figures["oos_declined"] == 0.5
