"""Forecast back-test on a synthetic seasonal series (daily shape × weekday pattern × Poisson noise), holidays and
调休 from the official calendar, and special-event multipliers."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from omnidesk.wfm import forecast as fc

PER_DAY = 48


def _series(first: date, days: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hours = np.arange(PER_DAY) / 2
    shape = np.exp(-((hours - 11) ** 2) / 8) + 0.8 * np.exp(-((hours - 20) ** 2) / 6) + 0.05
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        level = 4000 if fc.is_working_day(d) else 1500
        out.append(rng.poisson(level * shape / shape.sum() * 1.0 * (1 + 0.002 * i)))
    return np.concatenate(out).astype(float)


def test_calendar_knows_holidays_and_adjusted_working_days() -> None:
    assert not fc.is_working_day(date(2026, 2, 17))  # Spring Festival, a Tuesday
    assert fc.is_working_day(date(2026, 2, 14))  # 调休: a Saturday made a working day
    assert fc.is_working_day(date(2026, 1, 4))  # a Sunday made a working day
    assert not fc.is_working_day(date(2026, 3, 7))  # an ordinary Saturday


def test_backtest_on_synthetic_seasonal_series() -> None:
    first = date(2026, 8, 3)
    history = _series(first, 56)
    scores = fc.backtest(history, first, PER_DAY, days=7)
    by = {a.method: a for a in scores}
    assert set(by) == {"holt_winters", "seasonal_naive"}
    assert by["holt_winters"].wape < 0.15  # Poisson noise alone is ~7 % at these volumes
    assert by["holt_winters"].wape <= by["seasonal_naive"].wape
    f = fc.forecast(history, first, PER_DAY, 7)
    assert f.method == "holt_winters" and len(f.values) == 7 * PER_DAY
    truth = _series(first, 63, seed=6)[-7 * PER_DAY :]
    assert fc.accuracy(truth, np.array(f.values), "x").wape < 0.2


def test_holiday_in_horizon_and_event_multiplier() -> None:
    # History up to the eve of National Day 2026: 1-7 October are rest days (a Thursday first), 8 October is an
    # ordinary Thursday and Saturday 10 October a 调休 working day.
    first = date(2026, 8, 3)
    days = (date(2026, 10, 1) - first).days
    history = _series(first, days)
    plain = fc.forecast(history, first, PER_DAY, 10)
    day_total = [sum(plain.values[i * PER_DAY : (i + 1) * PER_DAY]) for i in range(10)]
    assert plain.first == date(2026, 10, 1)
    assert day_total[0] < 0.6 * day_total[7]  # the holiday is forecast like a rest day
    assert day_total[9] > 2 * day_total[5]  # the 调休 Saturday like a working day, not like a Saturday
    promo = fc.forecast(history, first, PER_DAY, 10, events={date(2026, 10, 9): 3.0})
    assert sum(promo.values[:PER_DAY]) == sum(plain.values[:PER_DAY])
    assert abs(sum(promo.values[8 * PER_DAY : 9 * PER_DAY]) - 3.0 * day_total[8]) < 1e-6
