"""``/settings/macros``: ticket macros (a name and actions: a reply template with placeholders, a status, a
priority, tags, a team) through ``tickets.macros`` (``tickets.admin``, as ``/api/v1/macros``). The form builds the
automation rules' action list; the actions' validation is the API's."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from omnidesk.accounts.models import Team
from omnidesk.security.permissions import Perm
from omnidesk.tickets import macros
from omnidesk.tickets.models import Macro
from omnidesk.tickets.schemas import MacroIn
from omnidesk.tickets.states import Priority, Status
from omnidesk.web.forms import Visit, attempt, parse, submit, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/macros"
NOTICES = ("created", "saved", "deleted")
EMPTY = {"id": "", "name": "", "description": "", "reply": "", "status": "", "priority": "", "tags": "", "team_id": ""}


def _form_of(row: Macro) -> dict[str, str]:
    form = {**EMPTY, "id": str(row.id), "name": row.name, "description": row.description}
    tags: list[str] = []
    for act in row.actions:
        if act.get("type") == "reply_template":
            form["reply"] = str(act.get("body", ""))
        elif act.get("type") == "set_field" and act.get("field") in ("status", "priority", "team_id"):
            form[act["field"]] = str(act.get("value", ""))
        elif act.get("type") == "assign" and act.get("team_id"):
            form["team_id"] = str(act["team_id"])
        elif act.get("type") == "add_tag":
            tags.append(str(act.get("tag", "")))
    form["tags"] = ", ".join(tags)
    return form


def _kept(row: Macro) -> list[dict[str, Any]]:
    """Actions the form does not show (set through the API: an assignee, a category, custom fields, per-language
    reply bodies): an edit on this page keeps them as they were."""
    out: list[dict[str, Any]] = []
    for act in row.actions:
        kind, field = act.get("type"), act.get("field")
        if kind == "set_field" and field not in ("status", "priority", "team_id"):
            out.append(act)
        elif kind == "assign" and act.get("assignee_id"):
            out.append({k: v for k, v in act.items() if k != "team_id"})
        elif kind == "reply_template" and (act.get("bodies") or act.get("counts_as_first_response")):
            out.append({k: v for k, v in act.items() if k != "body"} | {"kept": True})
    return out


def _actions(form: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if form["reply"].strip():
        out.append({"type": "reply_template", "body": form["reply"]})
    for field in ("status", "priority"):
        if form[field]:
            out.append({"type": "set_field", "field": field, "value": form[field]})
    for tag in (t.strip() for t in form["tags"].replace("，", ",").split(",")):
        if tag:
            out.append({"type": "add_tag", "tag": tag})
    if form["team_id"]:
        out.append({"type": "assign", "team_id": form["team_id"]})
    return out


@router.get(PAGE)
def macros_page(request: Request, done: str = "", edit: uuid.UUID | None = None) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN)
    if not isinstance(v, Visit):
        return v
    form = dict(EMPTY)
    if edit is not None:
        with v.read() as s:
            row = s.scalar(select(Macro).where(Macro.id == edit))
            if row is not None:
                form = _form_of(row)
    return _render(v, form, notice=done if done in NOTICES else "")


def _render(v: Visit, form: dict[str, Any], *, notice: str = "", error: str = "", status_code: int = 200) -> Response:
    with v.read() as s:
        rows = macros.list_macros(s, v.actor)
        teams = {t.id: t.name for t in s.scalars(select(Team).order_by(Team.name))}
        summaries = {r.id: _form_of(r) for r in rows}
    return v.render(
        "console/macros.html",
        {
            "section": "macros",
            "rows": rows,
            "summaries": summaries,
            "teams": teams,
            "statuses": list(Status),
            "priorities": list(Priority),
            "form": form,
            "placeholders": macros.PLACEHOLDERS,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.post(PAGE)
def save(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=130)] = "",
    description: Annotated[str, Form(max_length=510)] = "",
    reply: Annotated[str, Form(max_length=5100)] = "",
    status: Annotated[str, Form(max_length=40)] = "",
    priority: Annotated[str, Form(max_length=16)] = "",
    tags: Annotated[str, Form(max_length=600)] = "",
    team_id: Annotated[str, Form(max_length=36)] = "",
    macro_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN, csrf=csrf)
    if not isinstance(v, Visit):
        return v
    form = {
        "id": macro_id,
        "name": name.strip(),
        "description": description.strip(),
        "reply": reply,
        "status": status,
        "priority": priority,
        "tags": tags,
        "team_id": team_id,
    }
    built = _actions(form)
    data: dict[str, Any] = {"name": form["name"], "description": form["description"], "actions": built}
    target: uuid.UUID | None = None
    if macro_id:
        try:
            target = uuid.UUID(macro_id)
        except ValueError:
            return _render(v, form, error=v.t("console.err.stale"), status_code=422)
    if not built:
        return _render(v, form, error=v.t("console.macros.no_actions"), status_code=422)
    if target is None:
        save = lambda s, a: macros.create_macro(s, a, parse(MacroIn, data))  # noqa: E731
    else:
        edited = target

        def update(s: Any, a: Any) -> Any:
            row = macros.get_macro(s, edited)
            actions = [dict(x) for x in built]
            for act in _kept(row):
                if act.pop("kept", False):  # per-language bodies: merged into the form's reply, if any
                    reply = next((x for x in actions if x["type"] == "reply_template"), None)
                    if reply is not None:
                        reply.update(act)
                    continue
                actions.append(act)
            return macros.update_macro(s, a, edited, parse(MacroIn, {**data, "actions": actions}))

        save = update
    return attempt(
        v, save, to=PAGE, notice="saved" if target else "created",
        failed=lambda v, why: _render(v, form, error=why.message, status_code=422),
    )  # fmt: skip


@router.post(PAGE + "/{macro_id}/delete")
def delete(request: Request, macro_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return submit(
        request, csrf, lambda s, a: macros.delete_macro(s, a, macro_id),
        perms=(Perm.TICKETS_ADMIN,), to=PAGE, notice="deleted",
        failed=lambda v, why: _render(v, dict(EMPTY), error=why.message, status_code=why.status),
    )  # fmt: skip
