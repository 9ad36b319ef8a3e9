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
from omnidesk.routing import actions, queries, queue_actions
from omnidesk.routing.engine import Selection
from omnidesk.routing.schemas import PolicyIn, QueueIn
from omnidesk.security.permissions import Perm
from omnidesk.web.console._page import Visit, done, parse, run, visit

router = APIRouter(include_in_schema=False)
PAGE = "/settings/routing"
NOTICES = ("saved", "capacity_saved", "queue_saved", "skills_saved")


@router.get(PAGE)
def routing_page(request: Request, done: str = "") -> Response:
    v = visit(request, Perm.TENANT_SETTINGS)
    if not isinstance(v, Visit):
        return v
    with v.read() as s:
        timeout = str(queries.policy(s).accept_timeout_seconds)
    return _render(v, timeout, {}, notice=done if done in NOTICES else "")


def _render(v: Visit, timeout: str, typed: dict[str, str], *, notice: str = "", error: str = "",
            capacity_error: str = "", queue_error: str = "", skills_error: str = "",
            status_code: int = 200) -> Response:  # fmt: skip
    with v.read() as s:
        strategy = queries.policy(s).strategy
        staff = [u for u in accounts_queries.list_staff(s) if u.is_active]
        rows = queries.queue_rows(s)
        teams = [{"id": str(t.id), "name": t.name} for t in accounts_queries.list_teams(s)]
    names = {r.id: r.name for r in rows}
    queues = [
        {"id": str(r.id), "name": r.name, "team_id": str(r.team_id or ""), "skills": ", ".join(r.skills),
         "steps": format_steps(r.steps), "selection": r.selection, "overflow_queue_id": str(r.overflow_queue_id or ""),
         "overflow_name": names.get(r.overflow_queue_id, "") if r.overflow_queue_id else "",
         "sticky_seconds": r.sticky_seconds, "aging_seconds": r.aging_seconds,
         "callback_threshold_seconds": r.callback_threshold_seconds, "is_default": r.is_default, "paused": r.paused}
        for r in rows
    ]  # fmt: skip
    skill_names = sorted({k for u in staff for k in (u.skill_levels or {})} | {k for u in staff for k in u.skills}
                         | {k for r in rows for k in r.skills})  # fmt: skip
    matrix = [{"id": str(u.id), "name": u.display_name, "email": u.email,
               "levels": [(u.skill_levels or {}).get(k, 3 if k in u.skills else "") for k in skill_names]}
              for u in staff]  # fmt: skip
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
            "queues": queues,
            "teams": teams,
            "selections": [x.value for x in Selection],
            "queue_error": queue_error,
            "skills_error": skills_error,
            "skill_names": skill_names,
            "matrix": matrix,
            "can_skills": v.actor.can(Perm.TEAMS_MANAGE),
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


# ---- ACD queues and the skill matrix ---------------------------------------------------------------------------


def parse_steps(text: str) -> list[dict[str, Any]]:
    """``4:20, 2:20, 0:30, overflow`` → steps: proficiency >= 4 for 20 s, >= 2 for 20 s, any agent for 30 s,
    then the overflow queue's agents too. A step without ``:seconds`` never expires (only the last)."""
    steps: list[dict[str, Any]] = []
    for raw in text.replace("，", ",").split(","):
        part = raw.strip().lower()
        if not part:
            continue
        overflow = part.startswith("overflow")
        level_text, _, timeout_text = (part.removeprefix("overflow").lstrip(":") if overflow else part).partition(":")
        if overflow:
            level_text, timeout_text = "0", level_text
        try:
            level = int(level_text or 0)
            timeout = int(timeout_text) if timeout_text.strip() else None
        except ValueError:
            raise InvalidInput(f"step “{raw.strip()}”: write level:seconds, e.g. 4:20, or overflow") from None
        steps.append({"min_proficiency": level, "timeout_seconds": timeout, "overflow": overflow})
    return steps


def format_steps(steps: list[dict[str, Any]]) -> str:
    out = []
    for s in steps:
        timeout = s.get("timeout_seconds")
        if s.get("overflow"):
            out.append("overflow" + (f":{timeout}" if timeout else ""))
        else:
            out.append(f"{s.get('min_proficiency', 0)}" + (f":{timeout}" if timeout else ""))
    return ", ".join(out)


@router.post(PAGE + "/queues")
async def save_queue_form(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=50)
    return await run_in_threadpool(_save_queue, request, form)


def _save_queue(request: Request, form: FormData) -> Response:
    v = visit(request, Perm.TENANT_SETTINGS, str(form.get("csrf", ""))[:100])
    if not isinstance(v, Visit):
        return v
    field = {k: str(val)[:500] for k, val in form.items()}

    def save(s: Any, actor: Any) -> None:
        queue_id = uuid.UUID(field["queue_id"]) if field.get("queue_id") else None
        data = parse(
            QueueIn,
            {
                "name": field.get("name", ""),
                "team_id": field.get("team_id") or None,
                "skills": [x.strip() for x in field.get("skills", "").replace("，", ",").split(",") if x.strip()],
                "steps": parse_steps(field.get("steps", "")),
                "selection": field.get("selection", "longest_idle"),
                "overflow_queue_id": field.get("overflow_queue_id") or None,
                "sticky_seconds": field.get("sticky_seconds") or 0,
                "aging_seconds": field.get("aging_seconds") or 0,
                "callback_threshold_seconds": field.get("callback_threshold_seconds") or 0,
                "is_default": field.get("is_default") == "on",
            },
        )
        queue_actions.save_queue(s, actor, queue_id, data.model_dump())

    _, error = run(v, save)
    if error:
        with v.read() as s:
            timeout = str(queries.policy(s).accept_timeout_seconds)
        return _render(v, timeout, {}, queue_error=error, status_code=422)
    return done(PAGE, "queue_saved")


@router.post(PAGE + "/skills")
async def save_skills_form(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5000)
    return await run_in_threadpool(_save_skills, request, form)


def _save_skills(request: Request, form: FormData) -> Response:
    """The whole matrix in one transaction: one bad level and nothing is stored."""
    v = visit(request, Perm.TEAMS_MANAGE, str(form.get("csrf", ""))[:100])
    if not isinstance(v, Visit):
        return v
    skills = {k[len("skill-") :]: str(val).strip()[:60] for k, val in form.items() if k.startswith("skill-")}
    new_skill = str(form.get("new_skill", "")).strip()[:60]

    def save(s: Any, actor: Any) -> None:
        for user in accounts_queries.list_staff(s):
            if not user.is_active:
                continue
            levels: dict[str, int] = {}
            for j, name in skills.items():
                text = str(form.get(f"lvl-{user.id}-{j}", "")).strip()
                if not name or not text:
                    continue
                try:
                    levels[name] = int(text)
                except ValueError:
                    raise InvalidInput(v.t("console.err.whole_number", where=user.display_name, text=text)) from None
            new_level = str(form.get(f"lvl-{user.id}-new", "")).strip()
            if new_skill and new_level:
                try:
                    levels[new_skill] = int(new_level)
                except ValueError:
                    raise InvalidInput(
                        v.t("console.err.whole_number", where=user.display_name, text=new_level)
                    ) from None
            if levels != dict(user.skill_levels or {}):
                queue_actions.set_skill_levels(s, actor, user.id, levels)

    _, error = run(v, save)
    if error:
        with v.read() as s:
            timeout = str(queries.policy(s).accept_timeout_seconds)
        return _render(v, timeout, {}, skills_error=error, status_code=422)
    return done(PAGE, "skills_saved")
