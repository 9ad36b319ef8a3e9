"""Erlang C and Erlang A figures: the issue's case, textbook values, limits and large systems."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from omnidesk.cli import main
from omnidesk.wfm import erlang

RATE = 100 / 1800  # 100 contacts in 30 minutes


def test_erlang_a_issue_case_at_14_agents() -> None:
    # pyworkforce's published regression vector (N = 14): P(wait) 0.14526, P(abandon) 0.013984, SL(20 s) 0.916792.
    s = erlang.erlang_a_figures(14, RATE, 180, 300, 20)
    assert round(s.p_wait, 5) == 0.14526
    assert round(s.p_abandon, 6) == 0.013984
    assert round(s.service_level, 6) == 0.916792
    assert round(s.occupancy, 3) == 0.704
    # ASA over answered contacts only (the brief's own simulation: 3.88 s).
    assert s.asa == pytest.approx(3.88, abs=0.01)


def test_textbook_erlang_b_and_c() -> None:
    assert erlang.erlang_b(10, 5.0) == pytest.approx(0.018384, abs=1e-6)  # standard Erlang B table
    assert erlang.erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = ρ
    assert erlang.erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2, ρ = 0.5: 2ρ²/(1+ρ)
    c = erlang.erlang_c_figures(14, RATE, 180, 20)
    assert round(c.p_wait, 4) == 0.1741 and round(c.service_level, 4) == 0.8884 and round(c.asa, 2) == 7.84


def test_erlang_a_converges_to_erlang_c() -> None:
    for n in (11, 14, 20):
        a = erlang.erlang_a_figures(n, RATE, 180, 1e9, 20)
        c = erlang.erlang_c_figures(n, RATE, 180, 20)
        assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)
        assert a.service_level == pytest.approx(c.service_level, abs=1e-6)


def test_required_agents_and_large_systems() -> None:
    assert erlang.required_agents(RATE, 180, 0.8, 20).agents == 14  # Erlang C
    assert erlang.required_agents(RATE, 180, 0.8, 20, 300).agents == 13  # Erlang A alone: 0.858 ≥ 0.8
    assert erlang.required_agents(RATE, 180, 0.8, 20, 300, max_abandon=0.02).agents == 14
    big = erlang.required_agents(40_000 / 1800, 180, 0.8, 20, 300)  # 4,000 erlangs
    assert 3_500 < big.agents < 4_100 and big.service_level >= 0.8 and math.isfinite(big.asa)
    c = erlang.required_agents(40_000 / 1800, 180, 0.8, 20)
    assert 4_000 < c.agents < 4_100 and 0.8 <= c.service_level < 0.9


def test_chat_concurrency_counts_slots() -> None:
    agents, slots = erlang.chat_staffing(RATE * 3, 400, 3, 0.8, 20, None)
    assert agents == math.ceil(slots.agents / 3)


def test_cli_staffing_prints_the_figures() -> None:
    args = "wfm staffing --contacts 100 --interval 30 --aht 180 --patience 300 --target 0.8 --within 20"
    out = CliRunner().invoke(main, args.split()).output
    lines = {line.split("  ")[0].strip(): line.split() for line in out.splitlines()}
    # Erlang A's figures at 14 agents (the issue's case): service level 0.917 in 20 s, P(abandon) 0.014.
    assert lines["Erlang A at 14 agents"][-7:] == ["14", "0.917", "3.9", "s", "0.145", "0.014", "0.704"]
    assert lines["Erlang C (no abandonment)"][4] == "14"
    assert "required agents: 13" in out
    capped = CliRunner().invoke(main, [*args.split(), "--max-abandon", "0.02"]).output
    assert "required agents: 14" in capped
    row = next(line for line in capped.splitlines() if line.startswith("Erlang A (abandonment)")).split()
    assert row[3:5] == ["14", "0.917"] and row[8] == "0.014"
