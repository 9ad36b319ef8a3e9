"""Contacts per interval, forecast top-down and back-tested, with Chinese public holidays and 调休 working days.

Method (Taylor 2008: Holt-Winters wins a few days ahead, and a simple historical average is hard to beat beyond;
so both are shipped and the back-test picks):

* **Daily totals** by Holt-Winters (``statsmodels`` ``ExponentialSmoothing``, additive trend damped, weekly
  multiplicative season). A day whose *type* differs from its weekday's usual one — a public holiday on a
  weekday, a 调休 working Saturday — gets the measured ratio of rest-day to working-day volume instead of the
  weekday's season. Day types come from the ``holidays`` package (``holidays.China``: public holidays, and
  ``is_working_day`` knows the weekend days made working days), maintained monthly, offline.
* **Intraday split** by the average share of each interval on past days of the same type (working / rest day).
* **Seasonal naive** (the same interval a week before) as the baseline.
* **Special events** (a promotion, a repayment day, a storm) are multipliers on dates entered ahead.

``backtest`` holds out the last ``days`` days, forecasts them from the rest and reports WAPE (Σ|a−f| ÷ Σa, robust
at quiet intervals) and MAPE (over intervals with contacts), per method; the best by WAPE is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
import numpy as np


@lru_cache(maxsize=8)
def _calendar(country: str, years: tuple[int, ...]) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=list(years))


def is_working_day(day: date, country: str = "CN") -> bool:
    """Working day by the official calendar: weekdays that are not public holidays, and weekend days made
    working days (调休)."""
    return bool(_calendar(country, (day.year - 1, day.year, day.year + 1)).is_working_day(day))


@dataclass(frozen=True, slots=True)
class Accuracy:
    method: str
    wape: float
    mape: float


@dataclass(frozen=True, slots=True)
class Forecast:
    first: date
    per_day: int  # intervals per day
    values: list[float]  # len = days × per_day
    method: str
    accuracy: list[Accuracy]  # back-test of every method, best first


def _profiles(history: np.ndarray, days: list[date], per_day: int, country: str) -> dict[bool, np.ndarray]:
    """Average share of each interval, per day type; a type never seen borrows the other's."""
    shares: dict[bool, list[np.ndarray]] = {True: [], False: []}
    for row, d in zip(history.reshape(-1, per_day), days, strict=True):
        total = row.sum()
        if total > 0:
            shares[is_working_day(d, country)].append(row / total)
    flat = np.full(per_day, 1.0 / per_day)
    mean: dict[bool, np.ndarray] = {k: np.mean(v, axis=0) for k, v in shares.items() if v}
    return {k: mean.get(k, mean.get(not k, flat)) for k in (True, False)}


def _type_ratio(totals: np.ndarray, days: list[date], country: str) -> float:
    """Measured rest-day ÷ working-day volume."""
    work = [t for t, d in zip(totals, days, strict=True) if is_working_day(d, country)]
    rest = [t for t, d in zip(totals, days, strict=True) if not is_working_day(d, country)]
    return float(np.mean(rest) / np.mean(work)) if work and rest and np.mean(work) > 0 else 1.0


def _unusual(day: date, country: str) -> float:
    """+1 for a 调休 working weekend day, −1 for a public holiday on a weekday, 0 for a usual day."""
    usual, actual = day.weekday() < 5, is_working_day(day, country)
    return 0.0 if usual == actual else (1.0 if actual else -1.0)


def _holt_winters_days(totals: np.ndarray, days: list[date], horizon: list[date], country: str) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    ratio = _type_ratio(totals, days, country)
    # Bring unusual days to their weekday's usual type before fitting, so a holiday does not bend the weekly
    # season or the trend; the horizon's unusual days are moved back afterwards.
    adjusted = np.array([t * ratio ** _unusual(d, country) for t, d in zip(totals, days, strict=True)])
    if len(adjusted) >= 21 and adjusted.min() > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter from the optimiser on short series
            fit = ExponentialSmoothing(
                adjusted,
                trend="add",
                damped_trend=True,
                seasonal="mul",
                seasonal_periods=7,
                initialization_method="estimated",
            ).fit()
            base = np.asarray(fit.forecast(len(horizon)), dtype=float)
    else:
        # Too little (or zero-volume) history for a seasonal model: the weekday mean of what there is.
        base = np.array(
            [
                np.mean(
                    [t for t, d in zip(adjusted, days, strict=True) if d.weekday() == h.weekday()] or [adjusted.mean()]
                )
                for h in horizon
            ]
        )
    base = base / np.array([ratio ** _unusual(h, country) for h in horizon])
    return np.asarray(np.maximum(base, 0.0), dtype=float)


def _forecast(history: np.ndarray, first: date, per_day: int, days_ahead: int, method: str, country: str) -> np.ndarray:
    n_days = len(history) // per_day
    days = [first + timedelta(days=i) for i in range(n_days)]
    horizon = [first + timedelta(days=n_days + i) for i in range(days_ahead)]
    if method == "seasonal_naive":
        week = history[-7 * per_day :] if n_days >= 7 else np.tile(history[-per_day:], 7)
        return np.tile(week, days_ahead // 7 + 1)[: days_ahead * per_day]
    totals = history.reshape(n_days, per_day).sum(axis=1)
    day_totals = _holt_winters_days(totals, days, horizon, country)
    profiles = _profiles(history, days, per_day, country)
    return np.concatenate([t * profiles[is_working_day(h, country)] for t, h in zip(day_totals, horizon, strict=True)])


METHODS = ("holt_winters", "seasonal_naive")


def accuracy(actual: np.ndarray, predicted: np.ndarray, method: str) -> Accuracy:
    total = float(actual.sum())
    wape = float(np.abs(actual - predicted).sum() / total) if total else 0.0
    mask = actual > 0
    mape = float(np.mean(np.abs(actual[mask] - predicted[mask]) / actual[mask])) if mask.any() else 0.0
    return Accuracy(method, wape, mape)


def backtest(
    history: Sequence[float] | np.ndarray, first: date, per_day: int, days: int = 7, country: str = "CN"
) -> list[Accuracy]:
    """Every method's error on the last ``days`` days of ``history``, best (lowest WAPE) first."""
    h = np.asarray(history, dtype=float)
    if len(h) // per_day < days + 7:
        return []
    train, test = h[: -days * per_day], h[-days * per_day :]
    out = [accuracy(test, _forecast(train, first, per_day, days, m, country), m) for m in METHODS]
    return sorted(out, key=lambda a: a.wape)


def forecast(
    history: Sequence[float],
    first: date,
    per_day: int,
    days_ahead: int,
    events: Mapping[date, float] | None = None,
    country: str = "CN",
) -> Forecast:
    """Contacts per interval for ``days_ahead`` days after the history (which starts on local day ``first``, whole
    days of ``per_day`` intervals), by the method that back-tested best, times the special-event multipliers."""
    h = np.asarray(history, dtype=float)
    if len(h) % per_day:
        raise ValueError("history must be whole days")
    scores = backtest(h, first, per_day, 7, country)
    method = scores[0].method if scores else "seasonal_naive"
    values = _forecast(h, first, per_day, days_ahead, method, country) if len(h) else np.zeros(days_ahead * per_day)
    start = first + timedelta(days=len(h) // per_day)
    for day, factor in (events or {}).items():
        i = (day - start).days
        if 0 <= i < days_ahead:
            values[i * per_day : (i + 1) * per_day] *= factor
    return Forecast(start, per_day, [float(v) for v in values], method, scores)
