"""Intraday: forecast against actual per interval, with a four-colour alert and the runbook text for each colour.

The colour is the worst of two drifts: volume (actual ÷ forecast − 1, either way: fewer contacts than planned
means paid idle time) and service (the target's service level minus the measured one, or abandonment):

==========  ========================  ==========================================  ==========================
colour      volume drift              service level below target                abandonment
==========  ========================  ==========================================  ==========================
blue        < 10 %                    not below                                   < 5 %
yellow      10–25 %                   up to 5 points                              5–10 %
orange      25–50 %                   5–15 points                                 10–20 %
red         ≥ 50 %                    more than 15 points                         ≥ 20 %
==========  ========================  ==========================================  ==========================
"""

from __future__ import annotations

from dataclasses import dataclass

COLOURS = ("blue", "yellow", "orange", "red")


@dataclass(frozen=True, slots=True)
class Alert:
    colour: str
    volume_drift: float | None  # actual ÷ forecast − 1
    service_gap: float | None  # target − measured service level (positive: below target)


def _level(value: float, bounds: tuple[float, ...]) -> int:
    return sum(value >= b for b in bounds)


def alert(
    forecast: float, actual: int, service_level: float | None, abandon_rate: float | None, target: float
) -> Alert:
    """The alert of one interval; an interval with neither forecast nor contacts is blue."""
    drift = (actual / forecast - 1.0) if forecast > 0 else (None if actual == 0 else 1.0)
    gap = (target - service_level) if service_level is not None else None
    level = 0
    if drift is not None:
        level = max(level, _level(abs(drift), (0.10, 0.25, 0.50)))
    if gap is not None and gap > 0:
        level = max(level, 1 + _level(gap, (0.05, 0.15)))
    if abandon_rate is not None:
        level = max(level, _level(abandon_rate, (0.05, 0.10, 0.20)))
    return Alert(COLOURS[level], drift, gap)
