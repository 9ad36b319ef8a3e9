"""Calibration: how far inspectors agree with each other and with the automatic scorer, per criterion.

Krippendorff's alpha (the maintained ``krippendorff`` package) on the ordinal answers fail < partial < pass;
``na`` and a rater who did not score a conversation are missing values. Alpha is 1 for perfect agreement, 0 for
chance; ``None`` when it is undefined (fewer than two raters on any conversation, or every answer the same).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import krippendorff
import numpy as np

CODES = {"fail": 0.0, "partial": 1.0, "pass": 2.0}


def alpha(
    matrix: Sequence[Sequence[float | None]], level: Literal["nominal", "ordinal", "interval"] = "ordinal"
) -> float | None:
    """Alpha of a reliability matrix: one row per rater, one column per conversation; ``None``/NaN = missing."""
    data = np.array([[math.nan if v is None else v for v in row] for row in matrix], dtype=float)
    if data.ndim != 2 or data.shape[0] < 2:
        return None
    paired = (~np.isnan(data)).sum(axis=0) >= 2
    values = data[:, paired]
    if values.size == 0 or len(set(values[~np.isnan(values)].tolist())) < 2:
        return None
    try:
        return round(float(krippendorff.alpha(reliability_data=values, level_of_measurement=level)), 3)
    except (ValueError, ZeroDivisionError):
        return None


def _code(answer: str | None) -> float | None:
    return CODES.get(answer or "")


def per_criterion(
    keys: Sequence[str], sampled: Mapping[uuid.UUID, Mapping[str, Mapping[str, str]]]
) -> list[dict[str, Any]]:
    """For each criterion: alpha among the people, and between the automatic scorer and the people (the
    people's median answer per conversation as the second rater)."""
    conversations = list(sampled)
    people = sorted({r for raters in sampled.values() for r in raters if r != "auto"})
    out = []
    for key in keys:
        among = [[_code(sampled[c].get(p, {}).get(key)) for c in conversations] for p in people]
        auto_row = [_code(sampled[c].get("auto", {}).get(key)) for c in conversations]
        median_row: list[float | None] = []
        for c in conversations:
            given = sorted(v for p in people if (v := _code(sampled[c].get(p, {}).get(key))) is not None)
            median_row.append(given[len(given) // 2] if given else None)
        out.append({"key": key, "people": alpha(among), "auto_vs_people": alpha([auto_row, median_row]),
                    "raters": len(people)})  # fmt: skip
    return out
