"""Every workforce text exists in Chinese and English, including each key the templates and pages ask for."""

from __future__ import annotations

import re
from pathlib import Path

from omnidesk.i18n import catalogue

ROOT = Path(__file__).resolve().parents[2] / "src" / "omnidesk"


def test_wfm_texts_in_both_languages() -> None:
    zh = {k for k in catalogue("zh-CN") if k.startswith("wfm.")}
    en = {k for k in catalogue("en") if k.startswith("wfm.")}
    assert zh == en
    used: set[str] = set()
    for path in [
        *(ROOT / "web" / "templates" / "wfm").glob("*.html"),
        ROOT / "web" / "templates" / "workspace" / "_nav.html",
    ]:
        used |= set(re.findall(r't\("(wfm\.[a-z_.]+)"', path.read_text(encoding="utf-8")))
    prefixes = {"wfm.method.", "wfm.colour.", "wfm.roster_status.", "wfm.runbook.", "wfm.bad."}
    assert {k for k in used if k not in prefixes} <= en
    for prefix, names in {
        "wfm.method.": ("holt_winters", "seasonal_naive"),
        "wfm.colour.": ("blue", "yellow", "orange", "red"),
        "wfm.runbook.": ("blue", "yellow", "orange", "red"),
        "wfm.roster_status.": ("optimal", "feasible", "infeasible", "unknown"),
        "wfm.bad.": ("aht", "patience", "target", "within", "days", "event_date", "event_factor"),
    }.items():
        assert {prefix + n for n in names} <= en
