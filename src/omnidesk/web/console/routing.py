"""``/settings/routing``: what the routing slice lets a tenant set: the strategy (shown; round robin is the only
one built), the time an agent has to accept an offer (``routing.actions.update_policy``, ``tenant.settings`` as
``PUT /routing/policy``) and each agent's capacity, the number of open conversations routing gives them
(``accounts.actions.update_staff``, ``staff.manage`` as ``PATCH /staff/{id}``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from omnidesk.accounts import actions as accounts_actions
from omnidesk.accounts import queries as accounts_queries
from omnidesk.accounts.schemas import StaffUpdate
from omnidesk.core.errors import InvalidInput
from omnidesk.routing import actions, queries
from omnidesk.routing.schemas import PolicyIn
from omnidesk.security.permissions import Perm
from omnidesk.web.console._page import Visit, done, parse, run, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/routing"
NOTICES = ("saved", "capacity_saved")


@router.get(PAGE)
def routing_page(request: Request, done: str = "") -> Response:
    v = visit(request, Perm.TENANT_SETTINGS)
    if not isinstance(v, Visit):
        return v
    with v.read() as s:
        timeout = str(queries.policy(s).accept_timeout_seconds)
    return _render(v, timeout, {}, notice=done if done in NOTICES else "")


def _render(v: Visit, timeout: str, typed: dict[str, str], *, notice: str = "", error: str = "",
            capacity_error: str = "", status_code: int = 200) -> Response:  # fmt: skip
    with v.read() as s:
        strategy = queries.policy(s).strategy
        staff = [u for u in accounts_queries.list_staff(s) if u.is_active]
    agents = [{"id": str(u.id), "name": u.display_name, "email": u.email, "role": u.role,
               "capacity": typed.get(str(u.id), str(u.max_concurrent))} for u in staff]  # fmt: skip
    return v.render(
        "console/routing.html",
        {
            "section": "routing",
            "strategy": strategy,
            "timeout": timeout,
            "agents": agents,
            "can_staff": v.actor.can(Perm.STAFF_MANAGE),
            "notice": notice,
            "error": error,
            "capacity_error": capacity_error,
        },
        status_code=status_code,
    )


@router.post(PAGE)
def save_policy(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    accept_timeout_seconds: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    v = visit(request, Perm.TENANT_SETTINGS, csrf)
    if not isinstance(v, Visit):
        return v

    def save(s: Any, actor: Any) -> None:
        data = parse(PolicyIn, {"accept_timeout_seconds": accept_timeout_seconds.strip()})
        actions.update_policy(s, actor, accept_timeout_seconds=data.accept_timeout_seconds)

    _, error = run(v, save)
    if error:
        return _render(v, accept_timeout_seconds, {}, error=error, status_code=422)
    return done(PAGE, "saved")


@router.post(PAGE + "/capacity")
async def save_capacity(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=1000)
    return await run_in_threadpool(_save_capacity, request, form)


def _save_capacity(request: Request, form: FormData) -> Response:
    """All changed capacities in one transaction: one bad value and none is stored."""
    v = visit(request, Perm.STAFF_MANAGE, str(form.get("csrf", ""))[:100])
    if not isinstance(v, Visit):
        return v
    typed = {k[len("capacity-") :]: str(val)[:10] for k, val in form.items() if k.startswith("capacity-")}

    def save(s: Any, actor: Any) -> None:
        current = {str(u.id): u for u in accounts_queries.list_staff(s)}
        for staff_id, text in typed.items():
            user = current.get(staff_id)
            if user is None:
                raise InvalidInput(v.t("console.err.stale"))
            try:
                value = int(text.strip())
            except ValueError:
                raise InvalidInput(v.t("console.err.whole_number", where=user.display_name, text=text)) from None
            if value != user.max_concurrent:
                data = parse(StaffUpdate, {"max_concurrent": value})
                accounts_actions.update_staff(s, actor, uuid.UUID(staff_id), data)

    _, error = run(v, save)
    if error:
        with v.read() as s:
            timeout = str(queries.policy(s).accept_timeout_seconds)
        return _render(v, timeout, typed, capacity_error=error, status_code=422)
    return done(PAGE, "capacity_saved")
