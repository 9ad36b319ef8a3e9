"""``/settings/ticket-types``: ticket types and their custom fields (kind, options, required), through
``tickets.admin.create_type`` / ``update_type`` with the API's schemas (``tickets.admin``). A field row whose key
is left empty is dropped; the template is validated as a whole (``tickets.fields.validate_template``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from omnidesk.security.permissions import Perm
from omnidesk.tickets import admin, queries
from omnidesk.tickets.fields import FieldKind
from omnidesk.tickets.schemas import TypeCreate, TypeUpdate
from omnidesk.tickets.states import Priority
from omnidesk.web.forms import Visit, attempt, parse, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/ticket-types"
NOTICES = ("created", "saved")
MAX_ROWS = 50
BLANK_ROWS = 2


def _blank_form() -> dict[str, Any]:
    return {"key": "", "name": "", "default_priority": "normal", "is_active": True, "fields": []}


@router.get(PAGE)
def types_page(request: Request, done: str = "", edit: str = "") -> Response:
    v = visit(request, Perm.TICKETS_ADMIN)
    if not isinstance(v, Visit):
        return v
    form = _blank_form()
    with v.read() as s:
        for ty in queries.list_types(s, v.actor.tenant_id):
            if ty.key == edit:
                form = {"key": ty.key, "name": ty.name, "default_priority": ty.default_priority,
                        "is_active": ty.is_active, "fields": [_row(f) for f in ty.fields]}  # fmt: skip
    return _render(v, form, editing=bool(form["key"]), notice=done if done in NOTICES else "")


def _row(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": spec.get("key", ""),
        "label": spec.get("label", ""),
        "kind": spec.get("kind", "text"),
        "required": bool(spec.get("required")),
        "options": ", ".join(spec.get("options") or []),
        "min": "" if spec.get("min") is None else spec["min"],
        "max": "" if spec.get("max") is None else spec["max"],
    }


def _render(v: Visit, form: dict[str, Any], *, editing: bool, notice: str = "", error: str = "",
            status_code: int = 200) -> Response:  # fmt: skip
    with v.read() as s:
        types = queries.list_types(s, v.actor.tenant_id)
    rows = [*form["fields"], *(_row({}) for _ in range(BLANK_ROWS))][:MAX_ROWS]
    return v.render(
        "console/ticket_types.html",
        {
            "section": "ticket_types",
            "types": types,
            "form": form,
            "rows": rows,
            "kinds": list(FieldKind),
            "priorities": list(Priority),
            "editing": editing,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _number(text: str, where: str, t: Callable[..., str]) -> float | int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(t("console.err.number", where=where, text=text)) from None
    return int(value) if value.is_integer() else value


def _read_fields(form: FormData, t: Callable[..., str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows as typed (to show again) and as the API's field definitions (rows with a key)."""
    shown: list[dict[str, Any]] = []
    specs: list[dict[str, Any]] = []
    for i in range(MAX_ROWS + BLANK_ROWS):
        key = str(form.get(f"fields-{i}-key", "")).strip()[:40]
        if f"fields-{i}-kind" not in form:
            break
        row: dict[str, Any] = {
            "key": key,
            "label": str(form.get(f"fields-{i}-label", "")).strip()[:200],
            "kind": str(form.get(f"fields-{i}-kind", "text"))[:20],
            "required": form.get(f"fields-{i}-required") == "on",
            "options": str(form.get(f"fields-{i}-options", ""))[:5000],
            "min": str(form.get(f"fields-{i}-min", ""))[:30],
            "max": str(form.get(f"fields-{i}-max", ""))[:30],
        }
        if not key:
            continue
        shown.append(row)
        spec: dict[str, Any] = {"key": key, "label": row["label"], "kind": row["kind"], "required": row["required"]}
        options = [o.strip() for o in str(row["options"]).replace("，", ",").split(",") if o.strip()]
        if options:
            spec["options"] = options
        spec["min"] = _number(str(row["min"]), key, t)
        spec["max"] = _number(str(row["max"]), key, t)
        specs.append(spec)
    return shown, specs


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=(MAX_ROWS + BLANK_ROWS) * 7 + 20)


@router.post(PAGE)
async def create_type(request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_save, request, form, None)


@router.post(PAGE + "/{key}")
async def update_type(request: Request, key: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_save, request, form, key[:40])


def _save(request: Request, form: FormData, key: str | None) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN, csrf=str(form.get("csrf", ""))[:100])
    if not isinstance(v, Visit):
        return v
    typed = {
        "key": key or str(form.get("key", "")).strip()[:40],
        "name": str(form.get("name", "")).strip()[:200],
        "default_priority": str(form.get("default_priority", "normal"))[:16],
        "is_active": form.get("is_active") == "on" if key else True,
        "fields": [],
    }
    try:
        typed["fields"], specs = _read_fields(form, v.t)
    except ValueError as exc:
        return _render(v, typed, editing=key is not None, error=str(exc), status_code=422)
    body = {"name": typed["name"], "default_priority": typed["default_priority"], "fields": specs}
    if key is None:
        save = lambda s, a: admin.create_type(s, a, parse(TypeCreate, {"key": typed["key"], **body}))  # noqa: E731
    else:
        update = {**body, "is_active": typed["is_active"]}
        save = lambda s, a: admin.update_type(s, a, key, parse(TypeUpdate, update))  # noqa: E731
    return attempt(
        v, save, to=PAGE, notice="saved" if key else "created",
        failed=lambda v, why: _render(v, typed, editing=key is not None, error=why.message, status_code=422),
    )  # fmt: skip
