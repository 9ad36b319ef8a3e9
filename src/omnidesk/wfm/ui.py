"""Workforce-management pages: ``/wfm`` for supervisors and admins (forecast with its back-tested error, staffing
per interval, the roster, intraday alerts and the simulator form) and ``/me/schedule``, every staff member's own
shift. Thin: parse and bound the query, one read transaction, ``wfm.plan`` computes, the template renders (SVG
charts drawn on the server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from omnidesk.accounts import auth
from omnidesk.i18n import pick_language, translate
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import check_form_csrf, get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.ui import LANG_COOKIE, render
from omnidesk.wfm import actions
from omnidesk.wfm import plan as wfm_plan
from omnidesk.wfm.models import WfmShift

router = APIRouter(include_in_schema=False)


def _lang(request: Request, info: auth.SessionInfo) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), info.user.language)


def _float(raw: str | None, default: float, low: float, high: float) -> tuple[float, bool]:
    """A bounded number from the query; (default, False) when missing or out of bounds."""
    if raw is None or raw == "":
        return default, True
    try:
        value = float(raw)
    except ValueError:
        return default, False
    return (value, True) if low <= value <= high else (default, False)


def _params(q: dict[str, str]) -> tuple[wfm_plan.Params, list[str]]:
    errors: list[str] = []

    def num(name: str, default: float, low: float, high: float) -> float:
        value, ok = _float(q.get(name), default, low, high)
        if not ok:
            errors.append(name)
        return value

    interval = 15 if q.get("interval") == "15" else 30
    aht_raw = q.get("aht", "")
    aht = num("aht", 0.0, 1, 36_000) if aht_raw else None
    events: list[tuple[date, float]] = []
    if q.get("event_date"):
        try:
            day = date.fromisoformat(q["event_date"][:10])
            events.append((day, num("event_factor", 1.0, 0.0, 50.0)))
        except ValueError:
            errors.append("event_date")
    params = wfm_plan.Params(
        queue=q.get("queue", wfm_plan.ALL_QUEUES)[:120] or wfm_plan.ALL_QUEUES,
        interval=interval,
        history_days=int(num("days", 28, 14, 112)),
        aht=aht or None,
        patience=num("patience", 300, 1, 36_000),
        target=num("target", 0.8, 0.01, 0.99),
        within=num("within", 20, 0, 3_600),
        events=tuple(events),
    )
    return params, errors


def _build(request: Request, info: auth.SessionInfo, params: wfm_plan.Params) -> wfm_plan.Plan:
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        return wfm_plan.build(s, info.actor.tenant_id, info.tenant.time_zone, params, datetime.now(UTC))


@router.get("/wfm")
def wfm_page(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    lang = _lang(request, info)
    if not info.actor.can(Perm.ROUTING_SUPERVISE):
        denied = {"user": info.user, "csrf": info.csrf_token, "lang": lang}
        return render(request, "workspace/forbidden.html", denied, status_code=403)
    q = dict(request.query_params)
    params, errors = _params(q)
    plan = _build(request, info, params)
    replay = None
    if q.get("simulate"):
        extra = int(_float(q.get("extra_agents"), 0, -1000, 1000)[0])
        seed = int(_float(q.get("seed"), 1, 0, 1_000_000)[0])
        replay = wfm_plan.replay(plan, extra, params.patience, params.within, seed)
    labels = [plan.label(i) for i in range(plan.per_day)]
    context: dict[str, Any] = {
        "user": info.user,
        "tenant": info.tenant,
        "csrf": info.csrf_token,
        "lang": lang,
        "p": params,
        "q": q,
        "plan": plan,
        "labels": labels,
        "errors": [translate(f"wfm.bad.{e}", lang) for e in errors],
        "replay": replay,
        "runbook": {c: translate(f"wfm.runbook.{c}", lang) for c in ("blue", "yellow", "orange", "red")},
        "published": q.get("published") == "1",
        "query": urlencode({k: v for k, v in q.items() if k not in ("simulate", "published")}),
    }
    return render(request, "wfm/index.html", context)


@router.post("/wfm/publish")
def publish(
    request: Request, csrf: Annotated[str, Form(max_length=100)], query: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    """Publish tomorrow's roster as the page computed it for the same settings (sent back as ``query``)."""
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    if not info.actor.can(Perm.ROUTING_SUPERVISE):
        denied = {"user": info.user, "csrf": info.csrf_token, "lang": _lang(request, info)}
        return render(request, "workspace/forbidden.html", denied, status_code=403)
    q = {k: v for k, v in parse_qsl(query) if k not in ("simulate", "published")}
    params, _ = _params(q)
    plan = _build(request, info, params)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        actions.publish_roster(s, info.actor, plan.tomorrow, plan.roster.shifts, params.interval)
    return RedirectResponse("/wfm?" + urlencode({**q, "published": "1"}), status_code=303)


@router.get("/me/schedule")
def my_schedule(request: Request) -> Response:
    """The signed-in person's published shifts from today for two weeks; nobody else's."""
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    today = datetime.now(UTC).astimezone(ZoneInfo(info.tenant.time_zone)).date()
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        shifts = list(
            s.scalars(
                select(WfmShift)
                .where(
                    WfmShift.staff_id == info.user.id, WfmShift.day >= today, WfmShift.day < today + timedelta(days=14)
                )
                .order_by(WfmShift.day, WfmShift.start_minute)
            )
        )
    context = {
        "user": info.user,
        "tenant": info.tenant,
        "csrf": info.csrf_token,
        "lang": _lang(request, info),
        "shifts": shifts,
        "hhmm": lambda m: f"{m // 60:02d}:{m % 60:02d}",
    }
    return render(request, "wfm/me.html", context)
