"""Analytics pages: the metric catalogue with the figures from the interval tables (``/reports/metrics``), the
conversations behind any figure (``/reports/metrics/drill``), CSV of both, the analytics settings and agents'
goals (supervisors and admins), the live wallboard for a TV (``/wallboard``) and the agent's own dashboard
(``/me/dashboard``, everyone signed in, their own figures only). Charts are SVG drawn on the server."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from omnidesk.accounts import auth
from omnidesk.accounts.models import StaffUser
from omnidesk.analytics import actions, intervals, live, metrics, reports, rollup
from omnidesk.core.errors import InvalidInput, NotFound
from omnidesk.i18n import translate
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.reports import _date, _forbidden, _lang, duration
from omnidesk.web.ui import render

router = APIRouter(include_in_schema=False)

DIMENSIONS = rollup.DIMENSIONS


def _span(info: auth.SessionInfo, start: str, end: str) -> tuple[reports.Period, bool]:
    try:
        return reports.period(info.tenant.time_zone, _date(start[:10]), _date(end[:10])), False
    except InvalidInput:
        return reports.period(info.tenant.time_zone, None, None), True


def _names(request: Request, tenant_id: uuid.UUID) -> dict[str, str]:
    with get_db(request).tenant_read(tenant_id) as s:
        return {str(i): n for i, n in s.execute(select(StaffUser.id, StaffUser.display_name))}


def _label(dimension: str, value: str, lang: str, staff: dict[str, str], teams: dict[str, str]) -> str:
    if dimension == "tenant":
        return translate("analytics.all", lang)
    if dimension == "channel":
        key = f"reports.channel.{value}"
        text = translate(key, lang)
        return value if text == key else text
    if dimension == "agent":
        return staff.get(value, value[:8])
    if dimension == "team":
        return teams.get(value, value[:8])
    return value


def _teams(request: Request, tenant_id: uuid.UUID) -> dict[str, str]:
    from omnidesk.accounts.models import Team

    with get_db(request).tenant_read(tenant_id) as s:
        return {str(i): n for i, n in s.execute(select(Team.id, Team.name))}


def _fmt(metric: metrics.Metric, value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    if metric.kind == "percent":
        return f"{value}%"
    if metric.kind == "duration":
        return duration(value, lang)
    return str(int(value))


def figures_table(request: Request, info: auth.SessionInfo, span: reports.Period, dimension: str,
                  lang: str) -> tuple[list[str], list[list[Any]], list[str], list[metrics.Counters]]:  # fmt: skip
    """Header, rows (label + each metric's figure, raw numbers for CSV), the dimension values and their counters."""
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        by_value = intervals.totals(s, info.actor.tenant_id, span.start, span.end, dimension)
    staff, teams = _names(request, info.actor.tenant_id), _teams(request, info.actor.tenant_id)
    header = [translate(f"analytics.dim.{dimension}", lang)] + [m.name(lang) for m in metrics.CATALOGUE]
    rows, values, counters = [], [], []
    for value, c in by_value.items():
        figures = metrics.summarize(c)
        rows.append([_label(dimension, value, lang, staff, teams)] + [figures[m.id] for m in metrics.CATALOGUE])
        values.append(value)
        counters.append(c)
    return header, rows, values, counters


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"},
    )


def _supervisor(request: Request) -> tuple[auth.SessionInfo | None, Response | None]:
    info = _session(request)
    if info is None:
        return None, RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.TICKETS_REPORTS):
        return None, _forbidden(request, info)
    return info, None


@router.get("/reports/metrics")
def metrics_page(request: Request, start: str = "", end: str = "", dimension: str = "tenant",
                 saved: str = "", error: str = "") -> Response:  # fmt: skip
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    lang = _lang(request, info)
    if dimension not in DIMENSIONS:
        dimension = "tenant"
    span, bad = _span(info, start, end)
    header, rows, values, _ = figures_table(request, info, span, dimension, lang)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        daily = intervals.series(s, info.actor.tenant_id, span.start, span.end, "1d")
        settings_row = rollup.settings_of(s, info.actor.tenant_id)
        staff = list(s.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.is_active.is_(True))
                               .order_by(StaffUser.display_name)))  # fmt: skip
    zone = ZoneInfo(info.tenant.time_zone)
    query = f"start={span.first.isoformat()}&end={span.last.isoformat()}"
    context = {
        "user": info.user, "tenant": info.tenant, "csrf": info.csrf_token, "lang": lang,
        "catalogue": metrics.CATALOGUE, "span": span, "query": query, "dimension": dimension,
        "dimensions": DIMENSIONS, "header": header, "rows": rows, "values": values,
        "fmt": lambda m, v: _fmt(m, v, lang),
        "error": translate("reports.bad_range", lang, days=reports.MAX_DAYS) if bad else error,
        "saved": saved, "settings": settings_row, "staff": staff, "goal_metrics": actions.GOAL_METRICS,
        "month": datetime.now(zone).strftime("%Y-%m"),
        "daily_bars": [(b.astimezone(zone).strftime("%m-%d"), c.conversations) for b, c in daily],
    }  # fmt: skip
    return render(request, "reports/metrics.html", context)


@router.get("/reports/metrics/figures.csv")
def metrics_csv(request: Request, start: str = "", end: str = "", dimension: str = "tenant") -> Response:
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    if dimension not in DIMENSIONS:
        return Response(status_code=404)
    span, _ = _span(info, start, end)
    header, rows, _, _ = figures_table(request, info, span, dimension, _lang(request, info))
    return _csv(f"metrics_{dimension}_{span.first.isoformat()}_{span.last.isoformat()}", header, rows)


def _drill(request: Request, info: auth.SessionInfo, metric: str, part: str, start: str, end: str,
           dimension: str, value: str) -> tuple[reports.Period, int, list[Any]]:  # fmt: skip
    span, _ = _span(info, start, end)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        count, rows = intervals.drill(s, info.actor.tenant_id, metric, part, span.start, span.end, dimension, value)
    return span, count, rows


def _drill_table(
    rows: list[Any], lang: str, zone: ZoneInfo, staff: dict[str, str]
) -> tuple[list[str], list[list[Any]]]:
    def t(key: str) -> str:
        return translate(f"analytics.col.{key}", lang)

    header = [t("conversation"), t("started"), t("channel"), t("agent"), t("intent"), t("first_response_s"),
              t("resolution_s"), t("csat")]  # fmt: skip
    out = []
    for r in rows:
        out.append([str(r.conversation_id), r.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), r.channel,
                    staff.get(r.agent, r.agent[:8]), r.intent,
                    round(r.first_response_seconds, 1) if r.first_responses else None,
                    round(r.resolution_seconds, 1) if r.resolved else None,
                    (r.csat_satisfied if r.csat_ratings else None)])  # fmt: skip
    return header, out


@router.get("/reports/metrics/drill")
def drill_page(request: Request, metric: str = "conversations", part: str = "numerator", start: str = "",
               end: str = "", dimension: str = "tenant", value: str = "") -> Response:  # fmt: skip
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    lang = _lang(request, info)
    try:
        span, count, rows = _drill(request, info, metric, part, start, end, dimension, value)
    except InvalidInput:
        return Response(status_code=404)
    zone = ZoneInfo(info.tenant.time_zone)
    header, table = _drill_table(rows, lang, zone, _names(request, info.actor.tenant_id))
    m = metrics.BY_ID[metric]
    query = (f"metric={metric}&part={part}&start={span.first.isoformat()}&end={span.last.isoformat()}"
             f"&dimension={dimension}&value={value}")  # fmt: skip
    context = {
        "user": info.user, "tenant": info.tenant, "csrf": info.csrf_token, "lang": lang, "metric": m,
        "part": part, "count": count, "header": header, "rows": table, "span": span, "query": query,
        "limit": intervals.DRILL_LIMIT,
        "what": _label(dimension, value, lang, _names(request, info.actor.tenant_id),
                       _teams(request, info.actor.tenant_id)),
    }  # fmt: skip
    return render(request, "reports/drill.html", context)


@router.get("/reports/metrics/drill.csv")
def drill_csv(request: Request, metric: str = "conversations", part: str = "numerator", start: str = "",
              end: str = "", dimension: str = "tenant", value: str = "") -> Response:  # fmt: skip
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    try:
        span, _, rows = _drill(request, info, metric, part, start, end, dimension, value)
    except InvalidInput:
        return Response(status_code=404)
    header, table = _drill_table(rows, _lang(request, info), ZoneInfo(info.tenant.time_zone),
                                 _names(request, info.actor.tenant_id))  # fmt: skip
    return _csv(f"drill_{metric}_{part}_{span.first.isoformat()}_{span.last.isoformat()}", header, table)


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise InvalidInput("not a whole number") from exc


@router.post("/reports/metrics/settings")
def save_settings(request: Request, csrf: str = Form(""), fcr_hours: str = Form(""),
                  service_level_seconds: str = Form(""), service_level_target: str = Form(""),
                  alert_waiting: str = Form(""), alert_wait_seconds: str = Form(""),
                  ranking_enabled: str = Form("")) -> Response:  # fmt: skip
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    check_form_csrf(info, csrf)
    try:
        values: dict[str, int | bool] = {
            "fcr_hours": _int(fcr_hours), "service_level_seconds": _int(service_level_seconds),
            "service_level_target": _int(service_level_target), "alert_waiting": _int(alert_waiting),
            "alert_wait_seconds": _int(alert_wait_seconds), "ranking_enabled": ranking_enabled == "on",
        }  # fmt: skip
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.update_settings(s, info.actor, values)
    except InvalidInput as exc:
        return RedirectResponse(f"/reports/metrics?error={_q(str(exc))}#settings", status_code=303)
    return RedirectResponse("/reports/metrics?saved=settings#settings", status_code=303)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:200])


@router.post("/reports/metrics/goals")
def save_goal(request: Request, csrf: str = Form(""), staff_id: str = Form(""), metric: str = Form(""),
              month: str = Form(""), target: str = Form("")) -> Response:  # fmt: skip
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    check_form_csrf(info, csrf)
    try:
        try:
            staff = uuid.UUID(staff_id)
            amount = float(target)
        except ValueError as exc:
            raise InvalidInput("choose an agent and a numeric target") from exc
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            actions.set_goal(s, info.actor, staff, metric, month.strip(), amount)
    except (InvalidInput, NotFound) as exc:
        return RedirectResponse(f"/reports/metrics?error={_q(str(exc))}#goals", status_code=303)
    return RedirectResponse("/reports/metrics?saved=goal#goals", status_code=303)


@router.get("/wallboard")
def wallboard_page(request: Request) -> Response:
    info, denied = _supervisor(request)
    if info is None:
        return denied or Response(status_code=403)
    lang = _lang(request, info)
    tenant_id = info.actor.tenant_id
    zone = ZoneInfo(info.tenant.time_zone)

    def compute() -> live.Wallboard:
        with get_db(request).tenant_read(tenant_id) as s:
            return live.wallboard(s, tenant_id, datetime.now(UTC), zone)

    board = live.WALLBOARDS.get(tenant_id, compute)
    context = {"user": info.user, "tenant": info.tenant, "csrf": info.csrf_token, "lang": lang, "b": board,
               "duration": lambda v: duration(v, lang), "local": board.computed_at.astimezone(zone).strftime("%H:%M:%S"),
               "refresh": int(live.TTL) * 2}  # fmt: skip
    return render(request, "reports/wallboard.html", context)


@router.get("/me/dashboard")
def my_dashboard(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    lang = _lang(request, info)
    zone = ZoneInfo(info.tenant.time_zone)
    staff_id = info.actor.staff_id
    if staff_id is None:
        return _forbidden(request, info)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        board = live.dashboard(s, info.actor.tenant_id, staff_id, datetime.now(UTC), zone)
    names = _names(request, info.actor.tenant_id)
    ranking = [(names.get(a, a[:8]), n, a == str(staff_id)) for a, n in board.ranking] if board.ranking else None
    context = {"user": info.user, "tenant": info.tenant, "csrf": info.csrf_token, "lang": lang, "d": board,
               "catalogue": [metrics.BY_ID[k] for k in ("conversations", "first_response", "handle_time", "fcr",
                                                        "csat")],
               "fmt": lambda m, v: _fmt(m, v, lang), "ranking": ranking,
               "goal_bars": [(translate(f"analytics.goal.{g['metric']}", lang), g["today"]) for g in board.goals]}  # fmt: skip
    return render(request, "reports/dashboard.html", context)
