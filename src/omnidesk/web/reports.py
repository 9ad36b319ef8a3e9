"""The reports page (supervisors and admins): conversations by channel and by hour, response and resolution
times, CSAT, the assistant's containment and hand-over rates for a date range in the tenant's time zone; charts are
SVG drawn here on the server (each with a title and the same figures as a table), and every report downloads as
CSV. The figures come from ``analytics.reports`` (SQL); this module only parses the range and renders."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from omnidesk.accounts import auth
from omnidesk.analytics import reports
from omnidesk.core.errors import InvalidInput
from omnidesk.i18n import pick_language, translate
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)

NAMES = ("channels", "hours", "times", "csat", "bot")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def duration(seconds: float | None, lang: str) -> str:
    """A duration for people: "45 s", "12 min", "3 h 05 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return translate("reports.seconds", lang, n=s)
    if s < 3600:
        return translate("reports.minutes", lang, n=round(s / 60))
    if s < 86400:
        return translate("reports.hours", lang, h=s // 3600, m=f"{s % 3600 // 60:02d}")
    return translate("reports.days", lang, d=s // 86400, h=s % 86400 // 3600)


def _report(request: Request, info: auth.SessionInfo, first: str, last: str) -> tuple[reports.Report, str]:
    error = ""
    try:
        span = reports.period(info.tenant.time_zone, _date(first), _date(last))
    except InvalidInput:
        error = "range"
        span = reports.period(info.tenant.time_zone, None, None)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        return reports.build(s, info.actor, span), error


def _lang(request: Request, info: auth.SessionInfo) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), info.user.language)


def _forbidden(request: Request, info: auth.SessionInfo) -> Response:
    context = {"user": info.user, "csrf": info.csrf_token, "lang": _lang(request, info)}
    return render(request, "workspace/forbidden.html", context, status_code=403)


@router.get("/reports")
def reports_page(request: Request, start: str = "", end: str = "") -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.TICKETS_REPORTS):
        return _forbidden(request, info)
    lang = _lang(request, info)
    report, error = _report(request, info, start[:10], end[:10])
    query = f"start={report.period.first.isoformat()}&end={report.period.last.isoformat()}"
    tables = {name: table(name, report, lang) for name in NAMES}
    context = {
        "user": info.user,
        "tenant": info.tenant,
        "csrf": info.csrf_token,
        "lang": lang,
        "r": report,
        "error": translate("reports.bad_range", lang, days=reports.MAX_DAYS) if error else "",
        "query": query,
        "tables": tables,
        "duration": lambda seconds: duration(seconds, lang),
        "channel_bars": [(translate(f"reports.channel.{c}", lang), n) for c, n in report.by_channel.items()],
        "hour_bars": [(f"{h:02d}", n) for h, n in enumerate(report.by_hour)],
        "score_bars": [(f"{k}★", n) for k, n in report.csat.by_score.items()],
    }
    return render(request, "reports/index.html", context)


def table(name: str, report: reports.Report, lang: str) -> tuple[list[str], list[list[Any]]]:
    """One report as a header and rows: the page's accessible table and the CSV download are the same figures."""

    def t(key: str) -> str:
        return translate(f"reports.{key}", lang)

    if name == "channels":
        rows: list[list[Any]] = [[translate(f"reports.channel.{c}", lang), n] for c, n in report.by_channel.items()]
        return [t("col.channel"), t("col.conversations")], rows
    if name == "hours":
        return [t("col.hour"), t("col.conversations")], [[f"{h:02d}:00", n] for h, n in enumerate(report.by_hour)]
    if name == "times":
        header = [t("col.measure"), t("col.count"), t("col.median_s"), t("col.p90_s"), t("col.mean_s")]
        rows = [
            [t(key), d.count, d.median, d.p90, d.mean]
            for key, d in (("first_response", report.first_response), ("resolution", report.resolution))
        ]
        return header, rows
    if name == "csat":
        c = report.csat
        rows = [[f"{score}", n] for score, n in c.by_score.items()]
        rows += [[t("col.ratings"), c.ratings], [t("col.satisfied"), c.satisfied],
                 [t("col.csat_percent"), c.percent], [t("col.mean_score"), c.mean_score]]  # fmt: skip
        return [t("col.score"), t("col.value")], rows
    b = report.bot
    rows = [
        [t("col.bot_conversations"), b.conversations],
        [t("col.contained"), b.contained],
        [t("col.handed_over"), b.handed_over],
        [t("col.containment_percent"), b.containment_percent],
        [t("col.handover_percent"), b.handover_percent],
    ]
    return [t("col.measure"), t("col.value")], rows


@router.get("/reports/{name}.csv")
def report_csv(request: Request, name: str, start: str = "", end: str = "") -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.TICKETS_REPORTS):
        return _forbidden(request, info)
    if name not in NAMES:
        return Response(status_code=404)
    report, _ = _report(request, info, start[:10], end[:10])
    header, rows = table(name, report, _lang(request, info))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    filename = f"{name}_{report.period.first.isoformat()}_{report.period.last.isoformat()}.csv"
    # A BOM so spreadsheet programs read the Chinese labels as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
