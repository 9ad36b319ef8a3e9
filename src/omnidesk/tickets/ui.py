"""Server-rendered ticket pages: list with filters and saved views, new ticket, ticket page (SLA badges, history,
reply, status), supervisor board, and reports. Forms post with the session's CSRF token; every change goes
through the same actions as the API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser, Team
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.core.schemas import Int32
from omnidesk.customers import queries as customer_queries
from omnidesk.i18n import pick_language
from omnidesk.security.masking import mask_email, mask_phone
from omnidesk.security.permissions import Perm, Role, has
from omnidesk.tickets import actions, admin, clocks, macros, queries, reports
from omnidesk.tickets import approvals as approval_actions
from omnidesk.tickets.models import Notification, Ticket, TicketLink
from omnidesk.tickets.schemas import (
    Decision,
    LinkIn,
    LinkKind,
    MessageIn,
    TicketCreate,
    TicketUpdate,
    TransferIn,
    Transition,
    ViewIn,
)
from omnidesk.tickets.states import Priority, Status, allowed_from
from omnidesk.web.deps import get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.forms import Action, Failure, Visit, submit
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)


def _page(request: Request, info: Any, name: str, **context: Any) -> HTMLResponse:
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    return render(
        request, name, {"user": info.user, "tenant": info.tenant, "csrf": info.csrf_token, "lang": lang, **context}
    )


def _names(s: Any) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    teams = {t.id: t.name for t in s.scalars(select(Team))}
    staff = {u.id: u.display_name for u in s.scalars(select(StaffUser))}
    return teams, staff


@router.get("/tickets")
def ticket_list(
    request: Request, status: str = "", priority: str = "", q: str = "", assignee: str = "", view: str = ""
) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    db = get_db(request)
    with db.tenant_transaction(actor.tenant_id) as s:
        views = admin.list_views(s, actor)
        chosen = next((v for v in views if str(v.id) == view), None)
        filters: dict[str, Any] = dict(chosen.filters) if chosen else {}
        if status in set(Status):
            filters["status"] = status
        if priority in set(Priority):
            filters["priority"] = priority
        if q:
            filters["q"] = q[:100]
        if assignee in ("me", "none"):
            filters["assignee"] = assignee
        rows, _ = queries.list_tickets(s, actor, filters=filters, cursor=None, limit=100)
        teams, staff = _names(s)
        notices = list(
            s.scalars(
                select(Notification)
                .where(Notification.recipient_id == info.user.id, Notification.read_at.is_(None))
                .order_by(Notification.created_at.desc())
                .limit(10)
            )
        )
        return _page(
            request,
            info,
            "tickets/list.html",
            notices=notices,
            tickets=rows,
            views=views,
            teams=teams,
            staff=staff,
            filters={"status": status, "priority": priority, "q": q, "assignee": assignee},
            statuses=list(Status),
            priorities=list(Priority),
        )


@router.post("/tickets/views")
def save_view(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(min_length=1, max_length=120)],
    status: Annotated[str, Form(max_length=40)] = "",
    priority: Annotated[str, Form(max_length=40)] = "",
    q: Annotated[str, Form(max_length=100)] = "",
    assignee: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    filters = {k: v for k, v in {"status": status, "priority": priority, "q": q, "assignee": assignee}.items() if v}
    return submit(
        request, csrf, lambda s, a: admin.save_view(s, a, ViewIn(name=name, filters=filters)),
        to=lambda row: f"/tickets?view={row.id}",
        failed=lambda v, why: RedirectResponse(f"/tickets?error={why.code}", status_code=303),
    )  # fmt: skip


@router.get("/tickets/new")
def new_ticket_page(request: Request, error: str = "") -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        types = [t for t in queries.list_types(s, info.actor.tenant_id) if t.is_active]
        return _page(request, info, "tickets/new.html", types=types, priorities=list(Priority), error=error)


@router.post("/tickets/new")
def new_ticket_submit(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)],
    type: Annotated[str, Form(max_length=40)],
    subject: Annotated[str, Form(max_length=300)],
    description: Annotated[str, Form(max_length=20_000)] = "",
    priority: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    def create(s: Session, actor: Actor) -> Ticket:
        data = TicketCreate(type=type, subject=subject, description=description, priority=priority or None)
        return actions.create_ticket(s, actor, data, source="workspace")

    def failed(v: Visit, why: Failure) -> Response:
        with v.read() as s:
            types = [t for t in queries.list_types(s, v.actor.tenant_id) if t.is_active]
        return _page(request, v.info, "tickets/new.html", types=types, priorities=list(Priority), error=why.message)

    return submit(request, csrf, create, to=lambda ticket: f"/tickets/{ticket.id}", failed=failed)


@router.get("/tickets/board")
def board_page(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        data = reports.board(s, info.actor)
        teams, _ = _names(s)
        columns = [st for st in Status if st != Status.CLOSED]
        return _page(
            request,
            info,
            "tickets/board.html",
            board=data,
            teams={str(k): v for k, v in teams.items()},
            columns=columns,
        )


@router.get("/tickets/reports")
def reports_page(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        teams, _ = _names(s)
        return _page(
            request,
            info,
            "tickets/reports.html",
            sla=reports.sla_met(s, info.actor),
            process=reports.process(s, info.actor, limit=2000),
            teams={str(k): v for k, v in teams.items()},
        )


@router.get("/tickets/approvals")
def approvals_page(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
        rows = approval_actions.list_approvals(s, info.actor, "pending")
        numbers = dict(
            s.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_([a.ticket_id for a in rows]))).all()
        )
        _, staff = _names(s)
        return _page(request, info, "tickets/approvals.html", approvals=rows, numbers=numbers, staff=staff)


@router.post("/tickets/approvals/{approval_id}")
def decide_approval(
    request: Request,
    approval_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    approve: Annotated[bool, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    return submit(
        request, csrf, lambda s, a: approval_actions.decide(s, a, approval_id, Decision(approve=approve, note=note)),
        to="/tickets/approvals",
        failed=lambda v, why: RedirectResponse(f"/tickets/approvals?error={why.status}", status_code=303),
    )  # fmt: skip


def _requester(s: Any, ticket: Ticket, pii: bool) -> dict[str, Any] | None:
    """The ticket's customer as this reader may see them (contact details masked without ``customers.pii``)."""
    if ticket.customer_id is None:
        return None
    customer = customer_queries.get_customer(s, ticket.customer_id)
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email if pii else mask_email(customer.email),
        "phone": customer.phone if pii else mask_phone(customer.phone),
    }


def _assignable(s: Any) -> list[tuple[uuid.UUID, str]]:
    """Active staff whose role handles tickets (holds ``tickets.write``), by name."""
    people = s.scalars(select(StaffUser).where(StaffUser.is_active.is_(True)).order_by(StaffUser.display_name))
    return [(u.id, u.display_name) for u in people if u.role in set(Role) and has(Role(u.role), Perm.TICKETS_WRITE)]


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: uuid.UUID, error: str = "", find: str = "") -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    pii = actor.can(Perm.CUSTOMERS_PII)
    with get_db(request).tenant_transaction(actor.tenant_id) as s:
        ticket = queries.get_ticket(s, actor, ticket_id)
        ids = [ticket.id, *queries.merged_sources(s, ticket.id)]
        now = utcnow()
        current = queries.current_clocks(s, ticket.id)
        badges = {
            m: (clocks.badge(clocks.calendar_of(s, ticket, c.business_hours), c, now), c) for m, c in current.items()
        }
        teams, staff = _names(s)
        can_write = actor.can(Perm.TICKETS_WRITE)
        found: list[dict[str, Any]] = []
        if find.strip() and can_write and actor.can(Perm.CUSTOMERS_READ):
            rows, _ = customer_queries.list_customers(
                s, q=find.strip()[:100], tag=None, cursor=None, limit=10, contact_details=pii
            )
            found = [{"id": c.id, "name": c.name, "email": c.email if pii else mask_email(c.email)} for c in rows]
        return _page(
            request,
            info,
            "tickets/detail.html",
            ticket=ticket,
            badges=badges,
            messages=queries.messages(s, ids),
            history=queries.history(s, ids),
            teams=teams,
            staff=staff,
            next_states=sorted(allowed_from(Status(ticket.status))),
            all_teams=sorted(teams.items(), key=lambda kv: kv[1]),
            error=error,
            can_write=can_write,
            can_assign=can_write and actor.can(Perm.TICKETS_ASSIGN),
            requester=_requester(s, ticket, pii),
            find=find[:100],
            found=found,
            assignable=_assignable(s),
            macros=macros.list_macros(s, actor) if can_write else [],
            links=_links(s, ticket),
            mentioned=_mentioned(s, queries.messages(s, ids)),
        )


def _links(s: Session, ticket: Ticket) -> dict[str, Any]:
    """What the sidebar lists: the parent, the children, related tickets, tickets merged in, the conversation."""

    def brief(rows: Any) -> list[dict[str, Any]]:
        return [{"id": r.id, "number": r.number, "subject": r.subject, "status": r.status} for r in rows]

    parent: list[Ticket] = (
        list(s.scalars(select(Ticket).where(Ticket.id == ticket.parent_id))) if ticket.parent_id else []
    )
    children = s.scalars(select(Ticket).where(Ticket.parent_id == ticket.id).order_by(Ticket.number))
    related_ids = select(TicketLink.other_id).where(TicketLink.ticket_id == ticket.id, TicketLink.kind == "related")
    related = s.scalars(select(Ticket).where(Ticket.id.in_(related_ids)).order_by(Ticket.number))
    merged = s.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.number))
    return {"parent": brief(parent), "children": brief(children), "related": brief(related),
            "merged": brief(merged), "conversation_id": ticket.conversation_id}  # fmt: skip


def _mentioned(s: Session, messages: Any) -> dict[str, str]:
    """E-mail → display name of the people internal notes mention (the note's badge names whom it reached)."""
    emails = {e for m in messages for e in (m.mentions or [])}
    if not emails:
        return {}
    return {u.email: u.display_name for u in s.scalars(select(StaffUser).where(StaffUser.email.in_(emails)))}


@router.post("/tickets/{ticket_id}/links")
def add_link(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    number: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(pattern="^(related|parent|child)$")] = "related",
) -> Response:
    """Link another ticket, named by its number (``#12`` or ``12``): related (both ways), this one's parent, or
    this one's child (the other ticket gets this one as its parent)."""

    def link(s: Session, actor: Actor) -> None:
        text = number.strip().lstrip("#＃")
        other = s.scalar(select(Ticket.id).where(Ticket.number == int(text))) if text.isdigit() else None
        if other is None:
            raise NotFound("no ticket with this number")
        if kind == "child":
            actions.link(s, actor, other, LinkIn(other_id=ticket_id, kind=LinkKind.PARENT))
        else:
            actions.link(s, actor, ticket_id, LinkIn(other_id=other, kind=LinkKind(kind)))

    return _post(request, csrf, ticket_id, link, "link")


def _back(ticket_id: uuid.UUID, error: str = "") -> Response:
    return RedirectResponse(f"/tickets/{ticket_id}" + (f"?error={error}" if error else ""), status_code=303)


def _post(request: Request, csrf: str, ticket_id: uuid.UUID, action: Action, error: str) -> Response:
    """A ticket form: one action in one transaction, back to the ticket; a refusal comes back as ``?error=``
    (conflicts and missing permissions with their own words, anything else as the form's ``error``)."""
    return submit(
        request, csrf, action, to=f"/tickets/{ticket_id}",
        failed=lambda v, why: _back(ticket_id, why.code_or(error)),
    )  # fmt: skip


@router.post("/tickets/{ticket_id}/requester")
def change_requester(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    customer_id: Annotated[uuid.UUID, Form()],
) -> Response:
    return _post(
        request, csrf, ticket_id, lambda s, a: actions.set_requester(s, a, ticket_id, customer_id), "requester"
    )


@router.post("/tickets/{ticket_id}/assign")
def assign(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    version: Annotated[Int32, Form()],
    assignee_id: Annotated[str, Form(max_length=36)] = "",
    team_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    """Assign to an agent and/or put with a team (the same actions as the API; each audited and announced)."""

    def change(s: Session, actor: Actor) -> None:
        try:
            assignee = uuid.UUID(assignee_id) if assignee_id else None
            team = uuid.UUID(team_id) if team_id else None
        except ValueError:
            raise InvalidInput("not an id") from None
        ticket = queries.get_ticket(s, actor, ticket_id)
        if ticket.version != version:
            raise Conflict("the ticket changed since it was loaded")
        if assignee is not None and assignee not in {sid for sid, _ in _assignable(s)}:
            raise InvalidInput("cannot be assigned to this person")
        if team is not None and team != ticket.team_id:
            actions.set_team(s, actor, ticket_id, team)
        if assignee is not None and assignee != ticket.assignee_id:
            actions.update_ticket(s, actor, ticket_id, TicketUpdate(version=ticket.version, assignee_id=assignee))

    return _post(request, csrf, ticket_id, change, "assign")


@router.post("/tickets/{ticket_id}/macro")
def apply_macro(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    version: Annotated[Int32, Form()],
    macro_id: Annotated[uuid.UUID, Form()],
) -> Response:
    """Apply a macro as the ticket was loaded: a second click (stale version) changes nothing."""
    apply = lambda s, a: macros.apply_macro(s, a, ticket_id, macro_id, version=version)  # noqa: E731
    return _post(request, csrf, ticket_id, apply, "macro")


@router.post("/tickets/{ticket_id}/reply")
def reply(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    body: Annotated[str, Form(max_length=20_000)],
    public: Annotated[bool, Form()] = False,
) -> Response:
    post = lambda s, a: actions.post_message(s, a, ticket_id, MessageIn(body=body, public=public))  # noqa: E731
    return _post(request, csrf, ticket_id, post, "reply")


@router.post("/tickets/{ticket_id}/transfer")
def transfer(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    team_id: Annotated[uuid.UUID, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    move = lambda s, a: actions.transfer(s, a, ticket_id, TransferIn(team_id=team_id, note=note))  # noqa: E731
    return _post(request, csrf, ticket_id, move, "transfer")


@router.post("/tickets/{ticket_id}/status")
def change_status(
    request: Request,
    ticket_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    version: Annotated[Int32, Form()],
    status: Annotated[str, Form(max_length=40)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    resolution: Annotated[str, Form(max_length=5000)] = "",
    root_cause: Annotated[str, Form(max_length=5000)] = "",
    prevention: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    texts = {"reason": reason, "resolution": resolution, "root_cause": root_cause, "prevention": prevention}

    def move(s: Session, actor: Actor) -> None:
        data = Transition(version=version, status=status, **{k: v or None for k, v in texts.items()})
        actions.transition(s, actor, ticket_id, data)

    return _post(request, csrf, ticket_id, move, "status")
