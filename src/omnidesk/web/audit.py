"""The audit trail in the browser (``/audit``) and its CSV export (``/audit.csv``), for auditors and admins.

Filters: who (a person or an API key), action (exact, or a family ending in "."), object type and id, and a time
range in the workspace's time zone. The page shows 50 records at a time, newest first, with a cursor to older ones;
the export streams every matching record in batches, each batch in its own short read, so a large trail neither
sits in memory nor holds a transaction open. Both read through ``compliance.queries`` like the API, so a reader
sees exactly what the API would show them (credentials never; customers' contact details masked without
``customers.pii``), and both reads are themselves audited (``audit.read``, ``audit.export``).

This page lives in ``web/`` rather than beside the slice because it names people and keys (``accounts``), which
``compliance`` must not import (accounts writes audit records through it).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from omnidesk.accounts import auth
from omnidesk.accounts import queries as accounts_queries
from omnidesk.compliance import audit, queries
from omnidesk.compliance.schemas import AuditRecordOut
from omnidesk.core.actor import Actor
from omnidesk.core.errors import InvalidInput
from omnidesk.core.pagination import encode_cursor
from omnidesk.i18n import pick_language, translate
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import get_db, page_session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
EXPORT_BATCH = 500
Param = Annotated[str, Query(max_length=200)]


@dataclass
class Filters:
    """The filters as typed (to fill the form again) and as understood (for the query)."""

    raw: dict[str, str]
    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actor_id": self.actor_id,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "since": self.since,
            "until": self.until,
        }

    def described(self) -> dict[str, str]:
        return {k: v for k, v in self.raw.items() if v}


def _moment(value: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date or a local date and time (what ``<input type=date|datetime-local>`` sends) in the workspace's zone.
    A bare date as the end of a range includes that whole day."""
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=zone)
        return datetime.fromisoformat(value).replace(tzinfo=zone)
    except ValueError as exc:
        raise InvalidInput(value) from exc


def parse_filters(lang: str, zone: ZoneInfo, raw: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    f = Filters(raw={k: v.strip() for k, v in raw.items()})
    errors: dict[str, str] = {}
    r = f.raw
    if r["actor"]:
        try:
            f.actor_id = uuid.UUID(r["actor"])
        except ValueError:
            errors["actor"] = translate("audit.invalid.actor", lang)
    for name, limit in (("action", 64), ("target_type", 32), ("target_id", 64)):
        if len(r[name]) > limit or any(ord(c) < 32 for c in r[name]):
            errors[name] = translate("audit.invalid.text", lang, max=limit)
        elif r[name]:
            setattr(f, name, r[name])
    for name in ("since", "until"):
        if r[name]:
            try:
                setattr(f, name, _moment(r[name], zone, end=name == "until"))
            except InvalidInput:
                errors[name] = translate("audit.invalid.time", lang)
    if f.since and f.until and f.since >= f.until and "until" not in errors:
        errors["until"] = translate("audit.invalid.range", lang)
    return f, errors


def _names(request: Request, actor: Actor) -> dict[str, str]:
    """Display names of the workspace's people and keys, by id (records store ids)."""
    with get_db(request).tenant_read(actor.tenant_id) as s:
        people = {str(p.id): f"{p.display_name} <{p.email}>" for p in accounts_queries.list_staff(s)}
        keys = {str(k.id): f"{k.name} ({k.prefix})" for k in accounts_queries.list_api_keys(s)}
    return people | keys


def _signed_in(request: Request) -> tuple[auth.SessionInfo, str] | Response:
    info = page_session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    if not info.actor.can(Perm.AUDIT_READ):
        return render(request, "workspace/forbidden.html", {"lang": lang, "user": info.user}, 403)
    return info, lang


@router.get("/audit")
def audit_page(
    request: Request,
    actor: Param = "",
    action: Param = "",
    target_type: Param = "",
    target_id: Param = "",
    since: Param = "",
    until: Param = "",
    cursor: Param = "",
) -> Response:
    signed = _signed_in(request)
    if isinstance(signed, Response):
        return signed
    info, lang = signed
    zone = ZoneInfo(info.tenant.time_zone)
    raw = {"actor": actor, "action": action, "target_type": target_type, "target_id": target_id}
    filters, errors = parse_filters(lang, zone, raw | {"since": since, "until": until})
    names = _names(request, info.actor)
    people = sorted(((k, v) for k, v in names.items()), key=lambda kv: kv[1].lower())
    ctx: dict[str, Any] = {
        "lang": lang,
        "user": info.user,
        "csrf": info.csrf_token,
        "zone": zone,
        "form": filters.raw,
        "errors": errors,
        "people": people,
        "names": names,
        "records": [],
        "next_cursor": None,
        "first_page": not cursor,
        "as_json": _as_json,
    }
    if errors:
        return render(request, "settings/audit.html", ctx, 422)
    try:
        with get_db(request).tenant_read(info.actor.tenant_id) as s:
            rows, more = queries.list_audit(s, info.actor, cursor=cursor or None, limit=PAGE_SIZE, **filters.query())
            records = [queries.present(info.actor, r) for r in rows]
            next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    except InvalidInput:  # a cursor that is not one of ours
        ctx["errors"] = {"cursor": translate("audit.invalid.cursor", lang)}
        return render(request, "settings/audit.html", ctx, 422)
    audit.record_read(
        get_db(request), info.actor, "audit.read", "audit", "trail", filters.described() | {"count": len(rows)}
    )
    query = urlencode({k: v for k, v in filters.raw.items() if v})
    ctx |= {"records": records, "next_cursor": next_cursor, "query": query}
    return render(request, "settings/audit.html", ctx)


def _as_json(value: object) -> str:
    """Changes as readable JSON (Chinese as written, not as \\u escapes); the template escapes it for HTML."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run: text starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


COLUMNS = ("time", "actor_type", "actor_id", "actor", "action", "target_type", "target_id", "changes", "ip", "request")


def _row(item: AuditRecordOut, names: dict[str, str]) -> list[str]:
    actor_id = str(item.actor_id) if item.actor_id else ""
    return [
        _cell(v)
        for v in (
            item.created_at.isoformat(),
            item.actor_type,
            actor_id,
            names.get(actor_id, ""),
            item.action,
            item.target_type,
            item.target_id,
            _as_json(item.changes),
            item.ip,
            item.request_id,
        )
    ]


@router.get("/audit.csv")
def audit_export(
    request: Request,
    actor: Param = "",
    action: Param = "",
    target_type: Param = "",
    target_id: Param = "",
    since: Param = "",
    until: Param = "",
) -> Response:
    signed = _signed_in(request)
    if isinstance(signed, Response):
        return signed
    info, lang = signed
    zone = ZoneInfo(info.tenant.time_zone)
    raw = {"actor": actor, "action": action, "target_type": target_type, "target_id": target_id}
    filters, errors = parse_filters(lang, zone, raw | {"since": since, "until": until})
    if errors:
        return Response("; ".join(errors.values()), status_code=422, media_type="text/plain; charset=utf-8")
    names = _names(request, info.actor)
    db = get_db(request)
    reader = info.actor
    audit.record_read(db, reader, "audit.export", "audit", "trail", filters.described())

    def lines() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # spreadsheets then read the Chinese text as UTF-8
        writer.writerow([translate(f"audit.col.{c}", lang) for c in COLUMNS])
        cursor: str | None = None
        while True:
            with db.tenant_read(reader.tenant_id) as s:
                rows, more = queries.list_audit(s, reader, cursor=cursor, limit=EXPORT_BATCH, **filters.query())
                for record in rows:
                    writer.writerow(_row(queries.present(reader, record), names))
                cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if cursor is None:
                return

    stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"', "Cache-Control": "no-store"},
    )
