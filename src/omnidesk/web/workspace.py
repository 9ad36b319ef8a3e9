"""The agent workspace (server-rendered): inbox views with live filters, the conversation pane, the customer
sidebar, the supervisor page and the widget settings page. JavaScript (static/workspace.js) only adds the live
parts: it refetches the list partial when events arrive, appends messages, and posts replies to the JSON API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from omnidesk.accounts import auth
from omnidesk.accounts.models import StaffUser, Team
from omnidesk.channels.widget import actions as widget_actions
from omnidesk.channels.widget.api import snippet_for
from omnidesk.conversations import canned, feedback, queries
from omnidesk.conversations import inbox as inbox_rows
from omnidesk.conversations.actions import can_handle_conversations
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import Channel
from omnidesk.conversations.states import Priority, Status
from omnidesk.core.db import utcnow
from omnidesk.core.errors import DomainError
from omnidesk.customers import queries as customer_queries
from omnidesk.customers.models import Customer
from omnidesk.i18n import pick_language, translate
from omnidesk.quality import queries as quality_queries
from omnidesk.routing import queries as routing_queries
from omnidesk.routing.api import supervisor_view
from omnidesk.routing.strategy import Presence
from omnidesk.security.masking import mask_email, mask_phone, present_identity
from omnidesk.security.permissions import Perm
from omnidesk.tickets import queries as ticket_queries
from omnidesk.web.deps import get_db
from omnidesk.web.deps import page_session as _session
from omnidesk.web.ui import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)

VIEWS = ("mine", "unassigned", "teams", "all")
SORTS = ("newest", "waiting", "sla")
LIST_LIMIT = 100
NEVER = datetime.max.replace(tzinfo=UTC)


def visitor_label(customer_id: uuid.UUID, name: str | None, lang: str) -> str:
    """The customer's name, or a visitor label that tells two anonymous visitors apart ("访客 3F2A")."""
    if name:
        return name
    return translate("conversations.visitor_label", lang, code=customer_id.hex[:4].upper())


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    out = {
        "view": q.get("view", "mine") if q.get("view") in VIEWS else "mine",
        "status": q.get("status", "") if q.get("status") in {s.value for s in Status} else "",
        "channel": q.get("channel", "") if q.get("channel") in {c.value for c in Channel} else "",
        "priority": q.get("priority", "") if q.get("priority") in {p.value for p in Priority} else "",
        "tag": (q.get("tag") or "")[:50],
        "sort": q.get("sort", "newest") if q.get("sort") in SORTS else "newest",
    }
    return out


def _inbox_rows(s: Any, info: auth.SessionInfo, f: dict[str, str]) -> list[Conversation]:
    actor = info.actor
    stmt = select(Conversation)
    scope = queries.visible_to(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    view = f["view"]
    if view == "mine":
        stmt = stmt.where(Conversation.assignee_id == actor.staff_id)
    elif view == "unassigned":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif view == "teams":
        stmt = stmt.where(Conversation.team_id.in_(actor.team_ids or [uuid.uuid4()]))
    if f["status"]:
        stmt = stmt.where(Conversation.status == f["status"])
    elif view != "all":
        stmt = stmt.where(Conversation.status != Status.RESOLVED.value)
    if f["channel"]:
        stmt = stmt.where(Conversation.channel == f["channel"])
    if f["priority"]:
        stmt = stmt.where(Conversation.priority == f["priority"])
    stmt = stmt.order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.created_at.desc())
    rows = list(s.scalars(stmt.limit(LIST_LIMIT * (5 if f["tag"] else 1))))
    if f["tag"]:
        rows = [c for c in rows if f["tag"] in (c.tags or [])][:LIST_LIMIT]
    return rows


def _list_context(
    s: Any, info: auth.SessionInfo, f: dict[str, str], current: uuid.UUID | None, lang: str
) -> dict[str, Any]:
    rows = _inbox_rows(s, info, f)
    names = (
        dict(s.execute(select(Customer.id, Customer.name).where(Customer.id.in_([c.customer_id for c in rows]))).all())
        if rows
        else {}
    )
    assignees = {c.assignee_id for c in rows if c.assignee_id}
    staff = (
        dict(s.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(assignees))).all())
        if assignees
        else {}
    )
    facts = inbox_rows.row_facts(s, rows)
    now = utcnow()
    due = {c.id: inbox_rows.reply_due(facts[c.id].waiting_since, c.priority, now) for c in rows}
    if f["sort"] == "waiting":
        rows.sort(key=lambda c: facts[c.id].waiting_since or NEVER)
    elif f["sort"] == "sla":
        rows.sort(key=lambda c: d.due_at if (d := due[c.id]) else NEVER)
    labels = {c.customer_id: visitor_label(c.customer_id, names.get(c.customer_id), lang) for c in rows}
    return {
        "rows": rows,
        "names": names,
        "labels": labels,
        "staff_names": staff,
        "facts": facts,
        "due": due,
        "now": now,
        "unread_total": sum(x.unread for x in facts.values()),
        "f": f,
        "current": current,
    }


def waited(since: datetime | None, now: datetime) -> str:
    """A short waiting time: 45s, 12m, 3h, 2d."""
    if since is None:
        return ""
    seconds = max(int((now - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _lang(request: Request, info: auth.SessionInfo) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), info.user.language)


@router.get("/inbox")
def inbox(request: Request, c: str = "") -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    f = _filters(request)
    try:
        current_id = uuid.UUID(c) if c else None
    except ValueError:
        current_id = None
    db = get_db(request)
    context: dict[str, Any] = {
        "user": info.user,
        "tenant": info.tenant,
        "csrf": info.csrf_token,
        "lang": _lang(request, info),
        "statuses": list(Status),
        "channels": list(Channel),
        "priorities": list(Priority),
        "presences": list(Presence),
        "sorts": SORTS,
        "waited": waited,
    }
    if not actor.can(Perm.CONVERSATIONS_READ):
        return render(request, "workspace/forbidden.html", context, status_code=403)
    with db.tenant_transaction(actor.tenant_id) as s:
        context.update(_list_context(s, info, f, current_id, context["lang"]))
        presence = next((p for p in routing_queries.candidates(s, None) if p.staff_id == actor.staff_id), None)
        context["my_presence"] = presence.presence.value if presence else "offline"
        context["offers"] = _offers(s, info, context["lang"])
        context["conversation"] = None
        context["sensitive"] = quality_queries.composer_policy(s)
        if current_id is not None:
            try:
                context.update(_pane(s, info, current_id, context["lang"]))
            except DomainError:
                context["conversation"] = None
    return render(request, "workspace/inbox.html", context)


@router.get("/inbox/offers")
def inbox_offers(request: Request) -> Response:
    """The agent's offers alone (who and what), for live refresh after an ``offer`` event."""
    info = _session(request)
    if info is None:
        return Response(status_code=401)
    lang = _lang(request, info)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        offers = _offers(s, info, lang)
    return render(request, "workspace/_offers.html", {"offers": offers, "lang": lang})


@router.get("/inbox/list")
def inbox_list(request: Request, c: str = "") -> Response:
    """The list alone, for live refresh after an event."""
    info = _session(request)
    if info is None:
        return Response(status_code=401)
    try:
        current_id = uuid.UUID(c) if c else None
    except ValueError:
        current_id = None
    lang = _lang(request, info)
    with get_db(request).tenant_read(info.actor.tenant_id) as s:
        context = _list_context(s, info, _filters(request), current_id, lang)
    return render(request, "workspace/_list.html", {**context, "lang": lang, "waited": waited})


def _prechat_answers(s: Any, attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """The custom pre-chat fields the customer filled in, by the labels the tenant gave them."""
    form = widget_actions.prechat_form(widget_actions.config_of(s))
    return [
        (f.label, str(attributes[f.key]))
        for f in form.fields
        if f.key not in ("name", "email", "phone") and attributes.get(f.key)
    ]


def _pane(s: Any, info: auth.SessionInfo, conversation_id: uuid.UUID, lang: str) -> dict[str, Any]:
    actor = info.actor
    conversation = queries.get_conversation(s, actor, conversation_id)
    messages, _ = queries.list_messages(s, conversation, after_seq=0, limit=1000, include_internal=True)
    customer = customer_queries.get_customer(s, conversation.customer_id)
    identities = customer_queries.identities_of(s, [customer.id])[customer.id]
    pii = actor.can(Perm.CUSTOMERS_PII)
    previous = list(
        s.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer.id, Conversation.id != conversation.id)
            .order_by(Conversation.created_at.desc())
            .limit(10)
        )
    )
    staff = list(s.scalars(select(StaffUser).where(StaffUser.is_active.is_(True)).order_by(StaffUser.display_name)))
    teams = list(s.scalars(select(Team).order_by(Team.name)))
    marks = feedback.markers(s, conversation)
    rating = feedback.rating_of(s, conversation)
    staff_names = {u.id: u.display_name for u in staff}
    assignable = [u for u in staff if can_handle_conversations(u)]  # the auditor cannot open a chat
    return {
        "conversation": conversation,
        "messages": messages,
        "customer": customer,
        "customer_label": visitor_label(customer.id, customer.name, lang),
        "customer_email": customer.email if pii else mask_email(customer.email),
        "customer_phone": customer.phone if pii else mask_phone(customer.phone),
        "prechat_answers": _prechat_answers(s, customer.attributes or {}),
        "identities": [(i.kind, present_identity(i.kind, i.value, reveal_pii=pii)) for i in identities],
        "identities_masked": any(present_identity(i.kind, i.value, reveal_pii=pii) != i.value for i in identities),
        "previous": previous,
        "staff": assignable,
        "staff_names": staff_names,
        "teams": teams,
        "canned": canned.list_canned(s, actor),
        "customer_read": marks["customer"].read_seq if "customer" in marks else 0,
        "rating": rating,
        "can_assign": actor.can(Perm.CONVERSATIONS_ASSIGN),
        "can_write": actor.can(Perm.CONVERSATIONS_WRITE),
        "linked_tickets": ticket_queries.tickets_of_conversation(s, actor, conversation.id)
        if actor.can(Perm.TICKETS_READ)
        else [],
        "can_create_ticket": actor.can(Perm.TICKETS_WRITE),
        "ticket_subject": _ticket_subject(messages, conversation),
        "ticket_description": _ticket_description(messages),
    }


def _ticket_subject(messages: list[Any], conversation: Conversation) -> str:
    """The customer's own words as a ticket title: their first message that says more than a greeting."""
    said = [m.body for m in messages if m.sender_type == "customer" and not m.internal and m.kind == "text"]
    words = next((b for b in said if len(b.strip()) > 4), said[0] if said else conversation.subject)
    return " ".join((words or "").split())[:200]


def _ticket_description(messages: list[Any]) -> str:
    said = [m.body.strip() for m in messages if m.sender_type == "customer" and not m.internal and m.kind == "text"]
    return "\n".join(said[-5:])[:2000]


def _offers(s: Any, info: auth.SessionInfo, lang: str) -> list[dict[str, Any]]:
    """The agent's open offers with who is asking and their first words, to decide before accepting."""
    actor = info.actor
    entries = routing_queries.offers_for(s, actor.staff_id) if actor.staff_id else []
    if not entries:
        return []
    ids = [e.conversation_id for e in entries]
    people = dict(
        (row[0], (row[1], row[2]))
        for row in s.execute(
            select(Conversation.id, Conversation.customer_id, Customer.name)
            .join(Customer, Customer.id == Conversation.customer_id)
            .where(Conversation.id.in_(ids))
        ).all()
    )
    latest = (
        select(Message.conversation_id, func.max(Message.seq).label("seq"))
        .where(Message.conversation_id.in_(ids), Message.sender_type == "customer", Message.internal.is_(False))
        .group_by(Message.conversation_id)
        .subquery()
    )
    said = dict(
        s.execute(
            select(Message.conversation_id, Message.body).join(
                latest, (latest.c.conversation_id == Message.conversation_id) & (latest.c.seq == Message.seq)
            )
        ).all()
    )
    out = []
    for e in entries:
        customer_id, name = people.get(e.conversation_id, (None, None))
        who = (
            visitor_label(customer_id, name, lang) if customer_id else translate("conversations.unknown_customer", lang)
        )
        words = " ".join(said.get(e.conversation_id, "").split())
        words = words[:60] + ("…" if len(words) > 60 else "")
        out.append({"conversation_id": e.conversation_id, "who": who, "words": words})
    return out


@router.get("/supervisor")
def supervisor_page(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    context = _supervisor_context(request, info)
    if context is None:
        return render(request, "workspace/forbidden.html", {"lang": _lang(request, info)}, status_code=403)
    return render(request, "workspace/supervisor.html", context)


@router.get("/supervisor/panel")
def supervisor_panel(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return Response(status_code=401)
    context = _supervisor_context(request, info)
    if context is None:
        return Response(status_code=403)
    return render(request, "workspace/_supervisor_panel.html", context)


def _supervisor_context(request: Request, info: auth.SessionInfo) -> dict[str, Any] | None:
    actor = info.actor
    if not actor.can(Perm.ROUTING_SUPERVISE):
        return None
    with get_db(request).tenant_transaction(actor.tenant_id) as s:
        view = supervisor_view(s, request.app.state.presence.connected(actor.tenant_id))
        names = {a.staff_id: a.display_name for a in view.agents}
        customers = (
            dict(
                s.execute(
                    select(Conversation.id, Customer.name)
                    .join(Customer, Customer.id == Conversation.customer_id)
                    .where(Conversation.id.in_([e.conversation_id for e in view.queue]))
                ).all()
            )
            if view.queue
            else {}
        )
    return {
        "user": info.user,
        "tenant": info.tenant,
        "csrf": info.csrf_token,
        "lang": _lang(request, info),
        "view": view,
        "names": names,
        "customers": customers,
    }


@router.get("/settings/widget")
def widget_settings(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/login", status_code=303)
    actor = info.actor
    if not actor.can(Perm.TENANT_SETTINGS):
        return render(request, "workspace/forbidden.html", {"lang": _lang(request, info)}, status_code=403)
    with get_db(request).tenant_read(actor.tenant_id) as s:
        config = widget_actions.config_or_default(s, actor.tenant_id)
        origins = list(config.allowed_origins)
        form = widget_actions.prechat_form(config)
        offline_form = config.offline_form or "off"
        responses = [canned.CannedOut.model_validate(c) for c in canned.list_canned(s, actor)]
        accept_timeout_seconds = routing_queries.policy(s).accept_timeout_seconds
    return render(
        request,
        "workspace/widget_settings.html",
        {
            "user": info.user,
            "tenant": info.tenant,
            "csrf": info.csrf_token,
            "lang": _lang(request, info),
            "snippet": snippet_for(request, info.tenant.slug),
            "identity_minutes": max(request.app.state.settings.widget_identity_max_age_seconds // 60, 1),
            "origins": origins,
            "prechat": form,
            "prechat_custom": [f for f in form.fields if f.key not in ("name", "email", "phone")],
            "prechat_standard": {f.key: f for f in form.fields if f.key in ("name", "email", "phone")},
            "offline_form": offline_form,
            "canned": responses,
            "placeholders": canned.PLACEHOLDERS,
            "accept_timeout_seconds": accept_timeout_seconds,
        },
    )
