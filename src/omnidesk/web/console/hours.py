"""``/settings/hours``: the business calendar SLA clocks count in (working ranges per weekday, its time zone) and
the holidays. Saved through ``tickets.admin.update_settings`` (``tickets.admin``, as ``PATCH /ticket-settings``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.core.errors import InvalidInput
from omnidesk.security.permissions import Perm
from omnidesk.tickets import admin, queries, sla
from omnidesk.tickets.schemas import SettingsIn
from omnidesk.web.forms import Failure, Visit, attempt, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/hours"
NOTICES = ("saved", "holiday_added", "holiday_removed")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})\s*$")
_ZONES = sorted(available_timezones())


def current_spec(s: Session, actor: Actor) -> dict[str, Any]:
    """The stored calendar, or what the clocks use without one: 24 × 7 in the tenant's time zone."""
    spec = queries.ticket_settings(s, actor.tenant_id).calendar
    if spec:
        return sla.calendar_spec(sla.parse_calendar(spec))
    return sla.calendar_spec(sla.always(queries.tenant_time_zone(s, actor.tenant_id)))


def _as_text(ranges: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in ranges)


def parse_ranges(day: str, text: str, t: Callable[..., str]) -> list[list[str]]:
    """``"09:00-12:00, 13:00-18:00"`` → ``[["09:00", "12:00"], ["13:00", "18:00"]]``; empty is a day off.
    ``t`` words the error in the page's language."""
    out = []
    for part in (p for p in text.replace("，", ",").split(",") if p.strip()):
        m = _RANGE.match(part)
        if not m:
            raise InvalidInput(t("console.err.range", day=t(f"console.day.{day}"), text=part.strip()))
        out.append([m.group(1).zfill(5), m.group(2).zfill(5)])
    return out


@router.get(PAGE)
def hours_page(request: Request, done: str = "") -> Response:
    v = visit(request, Perm.TICKETS_ADMIN)
    if not isinstance(v, Visit):
        return v
    with v.read() as s:
        spec = current_spec(s, v.actor)
    form = {d: _as_text(spec["hours"].get(d, [])) for d in sla.DAYS}
    return _render(v, spec, form, spec["time_zone"], notice=done if done in NOTICES else "")


def _render(
    v: Visit, spec: dict[str, Any], form: dict[str, str], zone: str, *, notice: str = "", error: str = "",
    holiday_error: str = "", holiday: str = "", status_code: int = 200,
) -> Response:  # fmt: skip
    return v.render(
        "console/hours.html",
        {
            "section": "hours",
            "days": sla.DAYS,
            "form": form,
            "zone": zone,
            "zones": _ZONES,
            "holidays": spec["holidays"],
            "notice": notice,
            "error": error,
            "holiday_error": holiday_error,
            "holiday": holiday,
        },
        status_code=status_code,
    )


@router.post(PAGE)
def save_hours(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    time_zone: Annotated[str, Form(max_length=64)] = "",
    mon: Annotated[str, Form(max_length=200)] = "",
    tue: Annotated[str, Form(max_length=200)] = "",
    wed: Annotated[str, Form(max_length=200)] = "",
    thu: Annotated[str, Form(max_length=200)] = "",
    fri: Annotated[str, Form(max_length=200)] = "",
    sat: Annotated[str, Form(max_length=200)] = "",
    sun: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN, csrf=csrf)
    if not isinstance(v, Visit):
        return v
    form = {"mon": mon, "tue": tue, "wed": wed, "thu": thu, "fri": fri, "sat": sat, "sun": sun}

    def save(s: Session, actor: Actor) -> None:
        spec = current_spec(s, actor)
        hours = {d: parse_ranges(d, form[d], v.t) for d in sla.DAYS}
        calendar = {"time_zone": time_zone.strip(), "hours": {d: r for d, r in hours.items() if r}}
        admin.update_settings(s, actor, SettingsIn(calendar={**calendar, "holidays": spec["holidays"]}))

    def failed(v: Visit, why: Failure) -> Response:
        with v.read() as s:
            spec = current_spec(s, v.actor)
        return _render(v, spec, form, time_zone, error=why.message, status_code=422)

    return attempt(v, save, to=PAGE, notice="saved", failed=failed)


def _holiday(request: Request, csrf: str, day: str, add: bool) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN, csrf=csrf)
    if not isinstance(v, Visit):
        return v

    def change(s: Session, actor: Actor) -> None:
        try:
            when = date.fromisoformat(day.strip())
        except ValueError:
            raise InvalidInput(v.t("console.err.date", text=day.strip())) from None
        spec = current_spec(s, actor)
        days = set(spec["holidays"])
        if add and when.isoformat() in days:
            raise InvalidInput(v.t("console.err.holiday_exists", day=when.isoformat()))
        days = days | {when.isoformat()} if add else days - {when.isoformat()}
        admin.update_settings(s, actor, SettingsIn(calendar={**spec, "holidays": sorted(days)}))

    def failed(v: Visit, why: Failure) -> Response:
        with v.read() as s:
            spec = current_spec(s, v.actor)
        form = {d: _as_text(spec["hours"].get(d, [])) for d in sla.DAYS}
        return _render(v, spec, form, spec["time_zone"], holiday_error=why.message, holiday=day, status_code=422)

    return attempt(v, change, to=PAGE, notice="holiday_added" if add else "holiday_removed", failed=failed)


@router.post(PAGE + "/holidays")
def add_holiday(
    request: Request, csrf: Annotated[str, Form(max_length=100)], day: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    return _holiday(request, csrf, day, add=True)


@router.post(PAGE + "/holidays/remove")
def remove_holiday(
    request: Request, csrf: Annotated[str, Form(max_length=100)], day: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    return _holiday(request, csrf, day, add=False)
