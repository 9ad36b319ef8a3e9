"""``/settings/sla``: SLA policies (first-response and resolution targets per priority, for every type or one),
through ``tickets.admin.put_policy`` / ``delete_policy`` with the API's schema (``PolicyIn``): ``tickets.admin``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from omnidesk.security.permissions import Perm
from omnidesk.tickets import admin, queries
from omnidesk.tickets.schemas import PolicyIn
from omnidesk.tickets.states import Priority
from omnidesk.web.forms import Visit, parse, submit, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/sla"
NOTICES = ("saved", "deleted")


def _blank() -> dict[str, Any]:
    return {"type_key": "*", "priority": "normal", "first_response_minutes": "", "resolution_minutes": "",
            "warn_percent": "80",
            "business_hours": True}  # fmt: skip


@router.get(PAGE)
def sla_page(request: Request, done: str = "", edit: uuid.UUID | None = None) -> Response:
    v = visit(request, Perm.TICKETS_ADMIN)
    if not isinstance(v, Visit):
        return v
    form = _blank()
    with v.read() as s:
        for p in queries.list_policies(s):
            if p.id == edit:
                form = {k: getattr(p, k) for k in form}
    return _render(v, form, notice=done if done in NOTICES else "", editing=edit is not None)


def _render(v: Visit, form: dict[str, Any], *, notice: str = "", error: str = "", editing: bool = False,
            status_code: int = 200) -> Response:  # fmt: skip
    with v.read() as s:
        policies = queries.list_policies(s)
        types = queries.list_types(s, v.actor.tenant_id)
    names = {t.key: t.name for t in types}
    return v.render(
        "console/sla.html",
        {
            "section": "sla",
            "policies": policies,
            "types": [t for t in types if t.is_active],
            "type_names": names,
            "priorities": list(Priority),
            "form": form,
            "notice": notice,
            "error": error,
            "editing": editing,
        },
        status_code=status_code,
    )


@router.post(PAGE)
def save_policy(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    type_key: Annotated[str, Form(max_length=40)] = "*",
    priority: Annotated[str, Form(max_length=16)] = "",
    first_response_minutes: Annotated[str, Form(max_length=12)] = "",
    resolution_minutes: Annotated[str, Form(max_length=12)] = "",
    warn_percent: Annotated[str, Form(max_length=4)] = "80",
    clock: Annotated[str, Form(pattern="^(business|calendar)$")] = "business",
) -> Response:
    form = {"type_key": type_key, "priority": priority, "first_response_minutes": first_response_minutes,
            "resolution_minutes": resolution_minutes, "warn_percent": warn_percent,
            "business_hours": clock == "business"}  # fmt: skip
    return submit(
        request, csrf, lambda s, a: admin.put_policy(s, a, parse(PolicyIn, form)),
        perms=(Perm.TICKETS_ADMIN,), to=PAGE, notice="saved",
        failed=lambda v, why: _render(v, form, error=why.message, status_code=422),
    )  # fmt: skip


@router.post(PAGE + "/{policy_id}/delete")
def delete_policy(request: Request, policy_id: uuid.UUID, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    return submit(
        request, csrf, lambda s, a: admin.delete_policy(s, a, policy_id),
        perms=(Perm.TICKETS_ADMIN,), to=PAGE, notice="deleted",
        failed=lambda v, why: _render(v, _blank(), error=why.message, status_code=why.status),
    )  # fmt: skip
