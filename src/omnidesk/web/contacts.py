"""The staff console's contacts (联系人): search, the 360° profile, edit with inline validation, and merging
duplicates. Thin: reads go through the slices' queries with the reader's scope, every change through
``customers.actions`` / ``customers.merge``; contact details are masked for readers without ``customers.pii``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from omnidesk.accounts import auth
from omnidesk.accounts.models import StaffUser
from omnidesk.compliance import audit
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.models import Conversation, ConversationRating
from omnidesk.core.errors import DomainError, NotFound, PermissionDenied
from omnidesk.core.pagination import encode_cursor
from omnidesk.customers import actions, merge, queries
from omnidesk.customers.models import Customer
from omnidesk.customers.schemas import CustomerUpdate
from omnidesk.i18n import pick_language, translate
from omnidesk.security.masking import mask_email, mask_phone, present_identity
from omnidesk.security.permissions import Perm
from omnidesk.tickets import queries as ticket_queries
from omnidesk.tickets.models import Survey, Ticket
from omnidesk.web.deps import check_form_csrf, get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
EDITABLE = ("name", "email", "phone", "tags", "notes")


def _context(request: Request, info: auth.SessionInfo, **extra: Any) -> dict[str, Any]:
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    zone = ZoneInfo(info.tenant.time_zone)
    return {"user": info.user, "tenant": info.tenant, "csrf": info.csrf_token, "lang": lang, "zone": zone, **extra}


def _forbidden(request: Request, info: auth.SessionInfo) -> Response:
    return render(request, "workspace/forbidden.html", _context(request, info), status_code=403)


def _row(customer: Customer, pii: bool) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email if pii else mask_email(customer.email),
        "phone": customer.phone if pii else mask_phone(customer.phone),
        "tags": customer.tags or [],
        "created_at": customer.created_at,
    }


@router.get("/contacts")
def contact_list(request: Request, q: str = "", cursor: str = "") -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    if not actor.can(Perm.CUSTOMERS_READ):
        return _forbidden(request, info)
    q, cursor = q.strip()[:100], cursor[:200]
    pii = actor.can(Perm.CUSTOMERS_PII)
    db = get_db(request)
    with db.tenant_read(actor.tenant_id) as s:
        try:
            rows, more = queries.list_customers(
                s, q=q or None, tag=None, cursor=cursor or None, limit=PAGE_SIZE, contact_details=pii
            )
        except DomainError:  # a forged cursor: start again from the first page
            rows, more = queries.list_customers(s, q=q or None, tag=None, cursor=None, limit=PAGE_SIZE,
                                                contact_details=pii)  # fmt: skip
            cursor = ""
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else ""
        items = [_row(c, pii) for c in rows]
    if rows and pii:
        details = {"count": len(rows), "search": q or None, "tag": None, "page": bool(cursor)}
        audit.record_read(db, actor, "customer.list_read", "customer", "list", details)
    return render(
        request,
        "contacts/list.html",
        _context(request, info, rows=items, q=q, next_cursor=next_cursor, paged=bool(cursor)),
    )


def _profile(s: Any, info: auth.SessionInfo, customer: Customer) -> dict[str, Any]:
    actor = info.actor
    pii = actor.can(Perm.CUSTOMERS_PII)
    identities = queries.identities_of(s, [customer.id])[customer.id]
    scope = conversation_queries.visible_to(actor)
    stmt = select(Conversation).where(Conversation.customer_id == customer.id)
    conversations = list(
        s.scalars((stmt.where(scope) if scope is not None else stmt).order_by(Conversation.created_at.desc()).limit(50))
    )
    all_conversations = s.scalar(select(func.count()).where(Conversation.customer_id == customer.id)) or 0
    ratings = dict(
        s.execute(
            select(ConversationRating.conversation_id, ConversationRating.score).where(
                ConversationRating.conversation_id.in_([c.id for c in conversations])
            )
        ).all()
    ) if conversations else {}  # fmt: skip
    tickets: list[Ticket] = []
    surveys: dict[uuid.UUID, int | None] = {}
    if actor.can(Perm.TICKETS_READ):
        tstmt = select(Ticket).where(Ticket.customer_id == customer.id, Ticket.deleted_at.is_(None))
        tscope = ticket_queries.visible_to(s, actor)
        if tscope is not None:
            tstmt = tstmt.where(tscope)
        tickets = list(s.scalars(tstmt.order_by(Ticket.created_at.desc()).limit(50)))
        if tickets:
            surveys = dict(
                s.execute(
                    select(Survey.ticket_id, Survey.score).where(
                        Survey.ticket_id.in_([t.id for t in tickets]), Survey.score.is_not(None)
                    )
                ).all()
            )
    scores = [v for v in [*ratings.values(), *surveys.values()] if v is not None]
    staff = {u.id: u.display_name for u in s.scalars(select(StaffUser))}
    return {
        "customer": customer,
        "view": _row(customer, pii),
        "pii": pii,
        "identities": [
            {"kind": i.kind, "value": present_identity(i.kind, i.value, reveal_pii=pii), "verified": i.verified}
            for i in identities
        ],
        "conversations": conversations,
        "hidden_conversations": all_conversations - len(conversations),
        "ratings": ratings,
        "tickets": tickets,
        "surveys": surveys,
        "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        "rated": len(scores),
        "staff": staff,
        "can_write": actor.can(Perm.CUSTOMERS_WRITE) and pii,
        "duplicates": [_row(c, pii) for c in queries.possible_duplicates(s, customer)],
    }


def _load(request: Request, info: auth.SessionInfo, customer_id: uuid.UUID) -> Response | dict[str, Any]:
    """The profile's context, a redirect to the survivor of a merged profile, or raises NotFound."""
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        customer = queries.get_customer(s, customer_id)
        if customer.merged_into_id is not None:
            return RedirectResponse(f"/contacts/{customer.merged_into_id}?merged={customer.id}", status_code=303)
        return _profile(s, info, customer)


@router.get("/contacts/{customer_id}")
def contact_page(request: Request, customer_id: uuid.UUID, merged: str = "", saved: str = "",
                 candidate_q: str = "") -> Response:  # fmt: skip
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    if not info.actor.can(Perm.CUSTOMERS_READ):
        return _forbidden(request, info)
    loaded = _load(request, info, customer_id)
    if isinstance(loaded, Response):
        return loaded
    candidates: list[dict[str, Any]] = []
    candidate_q = candidate_q.strip()[:100]
    if candidate_q and loaded["can_write"]:
        with get_db(request).tenant_read(info.actor.tenant_id) as s:
            found, _ = queries.list_customers(s, q=candidate_q, tag=None, cursor=None, limit=10)
            candidates = [_row(c, True) for c in found if c.id != customer_id]
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    notice = ""
    if merged:
        notice = translate("contacts.merged_notice", lang)
    elif saved:
        notice = translate("contacts.saved", lang)
    return render(
        request,
        "contacts/detail.html",
        _context(request, info, **loaded, form=None, errors={}, notice=notice, candidates=candidates,
                 candidate_q=candidate_q),
    )  # fmt: skip


def _form_values(customer: Customer) -> dict[str, str]:
    return {
        "name": customer.name,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "tags": ", ".join(customer.tags or []),
        "notes": customer.notes,
    }


@router.post("/contacts/{customer_id}/edit")
def contact_edit(
    request: Request,
    customer_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=1000)] = "",
    email: Annotated[str, Form(max_length=1000)] = "",
    phone: Annotated[str, Form(max_length=1000)] = "",
    tags: Annotated[str, Form(max_length=5000)] = "",
    notes: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    actor = info.actor
    if not (actor.can(Perm.CUSTOMERS_WRITE) and actor.can(Perm.CUSTOMERS_PII)):
        return _forbidden(request, info)
    lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
    values = {"name": name, "email": email, "phone": phone, "tags": tags, "notes": notes}
    tag_list = [t.strip() for t in tags.replace("，", ",").split(",") if t.strip()]
    errors: dict[str, str] = {}
    try:
        data = CustomerUpdate(
            name=name.strip(),
            email=email.strip() or None,
            phone=phone.strip() or None,
            tags=tag_list,
            notes=notes.replace("\r\n", "\n"),
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if field in EDITABLE and field not in errors:
                errors[field] = translate(f"contacts.invalid.{field}", lang)
        errors = errors or {"form": translate("contacts.invalid.form", lang)}
    if not errors:
        try:
            with get_db(request).tenant_transaction(actor.tenant_id) as s:
                # Every field is sent, so an emptied e-mail or phone is cleared (None set explicitly).
                actions.update_customer(s, actor, customer_id, data)
            return RedirectResponse(f"/contacts/{customer_id}?saved=1", status_code=303)
        except NotFound:
            raise
        except DomainError as exc:
            errors["form"] = exc.detail
    loaded = _load(request, info, customer_id)
    if isinstance(loaded, Response):
        return loaded
    return render(
        request,
        "contacts/detail.html",
        _context(request, info, **loaded, form=values, errors=errors, notice="", candidates=[], candidate_q=""),
        status_code=422,
    )


@router.post("/contacts/{customer_id}/merge")
def contact_merge(
    request: Request,
    customer_id: uuid.UUID,
    csrf: Annotated[str, Form(max_length=100)],
    other: Annotated[uuid.UUID, Form()],
    keep: Annotated[str, Form(max_length=10)] = "this",
) -> Response:
    """Merge this profile and ``other``; ``keep`` says which survives ("this" or "other")."""
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    check_form_csrf(info, csrf)
    survivor, duplicate = (other, customer_id) if keep == "other" else (customer_id, other)
    try:
        with get_db(request).tenant_transaction(info.actor.tenant_id) as s:
            merge.merge_customers(s, info.actor, survivor, duplicate)
    except PermissionDenied:
        return _forbidden(request, info)
    except DomainError as exc:
        # Refused (into itself, already merged, another workspace's id: not found): say so on the profile.
        loaded = _load(request, info, customer_id)
        if isinstance(loaded, Response):
            return loaded
        lang = pick_language(request.cookies.get(LANG_COOKIE), info.user.language)
        errors = {"merge": translate(f"contacts.merge_refused.{exc.code}", lang)}
        context = _context(request, info, **loaded, form=None, errors=errors, notice="", candidates=[],
                           candidate_q="")  # fmt: skip
        return render(request, "contacts/detail.html", context, status_code=exc.status)
    return RedirectResponse(f"/contacts/{survivor}?merged={duplicate}", status_code=303)
