"""``/supervisor/queues``: the live queue wall (per queue: waiting, longest wait, agents available) and the
supervisor's controls — pause a queue, move a contact between queues, force-assign, change an agent's state. Every
control is a form post to one routing action, audited there."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from omnidesk.accounts import queries as accounts_queries
from omnidesk.core.db import utcnow
from omnidesk.core.errors import InvalidInput
from omnidesk.routing import actions, queries, queue_actions, service
from omnidesk.routing.strategy import Presence
from omnidesk.security.permissions import Perm
from omnidesk.web.console._page import Visit, done, run, visit

router = APIRouter(include_in_schema=False)
PAGE = "/supervisor/queues"


@router.get(PAGE)
def wall_page(request: Request, done: str = "") -> Response:
    v = visit(request, Perm.ROUTING_SUPERVISE)
    if not isinstance(v, Visit):
        return v
    return v.render("workspace/queue_wall.html", {**_context(v), "notice": done == "ok"})


@router.get(PAGE + "/panel")
def wall_panel(request: Request) -> Response:
    v = visit(request, Perm.ROUTING_SUPERVISE)
    if not isinstance(v, Visit):
        return v
    return v.render("workspace/_queue_wall_panel.html", _context(v))


def _context(v: Visit, error: str = "") -> dict[str, Any]:
    connected = v.request.app.state.presence.connected(v.actor.tenant_id)
    now = utcnow()
    with v.read() as s:
        wall = queries.queue_wall(s, connected)
        names = {w.queue_id: w.name for w in wall}
        staff = [u for u in accounts_queries.list_staff(s) if u.is_active]
        status = {c.staff_id: c for c in queries.candidates(s, connected)}
        contacts = [
            {
                "conversation_id": str(e.conversation_id),
                "queue": names.get(queries.entry_queue_id(e), ""),
                "priority": e.priority,
                "state": e.state,
                "wait": int((now - e.waiting_since).total_seconds()),
                "skills": ", ".join(e.requirements.get("skills", [])),
                "trace": e.last_trace or {},
            }
            for e in queries.open_entries(s)
        ]
        configured = [{"id": str(r.id), "name": r.name} for r in queries.queue_rows(s)]
    agents = [
        {
            "id": str(u.id),
            "name": u.display_name,
            "email": u.email,
            "presence": status[u.id].presence.value if u.id in status else "offline",
            "connected": u.id in connected,
            "load": status[u.id].load if u.id in status else 0,
            "capacity": u.max_concurrent,
        }
        for u in staff
    ]
    return {
        "wall": wall,
        "contacts": contacts,
        "agents": agents,
        "configured": configured,
        "presences": [p.value for p in Presence],
        "error": error,
    }


@router.post(PAGE)
async def wall_action(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    return await run_in_threadpool(_act, request, form)


def _act(request: Request, form: FormData) -> Response:
    v = visit(request, Perm.ROUTING_SUPERVISE, str(form.get("csrf", ""))[:100])
    if not isinstance(v, Visit):
        return v
    kind = str(form.get("action", ""))
    presence = request.app.state.presence

    def _id(name: str) -> uuid.UUID:
        try:
            return uuid.UUID(str(form.get(name, "")))
        except ValueError:
            raise InvalidInput(f"{name}: choose one") from None

    def act(s: Any, actor: Any) -> None:
        if kind in ("pause", "resume"):
            queue_actions.pause_queue(s, actor, _id("queue_id"), kind == "pause")
        elif kind == "move":
            queue_actions.move_contact(s, actor, _id("conversation_id"), _id("queue_id"))
        elif kind == "assign":
            actions.assign(s, actor, _id("conversation_id"), assignee_id=_id("staff_id"), team_id=None)
        elif kind == "state":
            try:
                state = Presence(str(form.get("status", "")))
            except ValueError:
                raise InvalidInput("status: online, away or offline") from None
            actions.set_agent_state(s, actor, _id("staff_id"), state)
        else:
            raise InvalidInput("unknown control")
        service.route_now(presence, s, actor.tenant_id)

    _, error = run(v, act)
    if error:
        return v.render("workspace/queue_wall.html", {**_context(v, error), "notice": False}, status_code=422)
    return done(PAGE, "ok")
