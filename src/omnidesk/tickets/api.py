"""HTTP handlers of the tickets slice: parse → one transaction → one action → serialise."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile, status
from fastapi.responses import Response
from sqlalchemy import select

from omnidesk.core.blobs import BlobStore, LocalEncryptedBlobStore
from omnidesk.core.db import utcnow
from omnidesk.core.errors import NotFound
from omnidesk.core.pagination import MAX_LIMIT, encode_cursor
from omnidesk.core.schemas import Page
from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.permissions import Perm
from omnidesk.tickets import actions, admin, approvals, clocks, macros, queries, reports
from omnidesk.tickets.models import Notification, Survey, TicketAttachment
from omnidesk.tickets.schemas import (
    AbuseIn,
    AppealIn,
    ApprovalCreate,
    ApprovalOut,
    AttachmentOut,
    ChangeOut,
    ClockOut,
    CustomerMessageIn,
    Decision,
    GrantCreate,
    GrantOut,
    LinkIn,
    MacroApply,
    MacroIn,
    MacroOut,
    MergeIn,
    MessageIn,
    MessageOut,
    NotificationOut,
    PolicyIn,
    PolicyOut,
    RequesterIn,
    RuleIn,
    RuleOut,
    SettingsIn,
    SettingsOut,
    SurveyAnswer,
    SurveyOut,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketUpdate,
    TransferIn,
    Transition,
    TypeCreate,
    TypeOut,
    TypeUpdate,
    ViewIn,
    ViewOut,
    WatcherIn,
)
from omnidesk.tickets.states import Priority, Status
from omnidesk.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(tags=["tickets"])


@router.get("/tickets")
def list_tickets(
    db: DbDep,
    actor: ActorDep,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    type_key: Annotated[str | None, Query(alias="type", max_length=40)] = None,
    team_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    assignee: Annotated[Literal["me", "none"] | uuid.UUID | None, Query()] = None,
    escalated: bool | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[TicketOut]:
    """Tickets the caller may see, newest first, with cursor pagination."""
    filters: dict[str, Any] = {
        "status": [s.value for s in status_] if status_ else None,
        "priority": priority.value if priority else None,
        "type_key": type_key,
        "team_id": team_id,
        "customer_id": customer_id,
        "assignee": assignee,
        "escalated": escalated,
        "q": q,
    }
    with db.tenant_transaction(actor.tenant_id) as s:
        rows, more = queries.list_tickets(s, actor, filters=filters, cursor=cursor, limit=limit)
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return Page[TicketOut](items=[TicketOut.model_validate(t) for t in rows], next_cursor=nxt)


@router.post("/tickets", status_code=status.HTTP_201_CREATED)
def create_ticket(data: TicketCreate, db: DbDep, actor: ActorDep) -> TicketOut:
    """Create a ticket; with ``conversation_id`` the conversation is linked and its transcript copied."""
    with db.tenant_transaction(actor.tenant_id) as s:
        ticket = actions.create_ticket(s, actor, data, source="conversation" if data.conversation_id else "api")
        return TicketOut.model_validate(ticket)


def _detail(s: Any, actor: Any, ticket_id: uuid.UUID) -> TicketDetail:
    ticket = queries.get_ticket(s, actor, ticket_id)
    rows = queries.clocks_of(s, ticket.id)
    now = utcnow()
    current = queries.current_clocks(s, ticket.id)
    return TicketDetail(
        ticket=TicketOut.model_validate(ticket),
        clocks=[ClockOut.model_validate(c) for c in rows],
        badges={m: clocks.badge(clocks.calendar_of(s, ticket, c.business_hours), c, now) for m, c in current.items()},
        watchers=queries.watchers(s, ticket.id),
        merged_from=queries.merged_sources(s, ticket.id),
        surveys=[SurveyOut.model_validate(v) for v in s.scalars(select(Survey).where(Survey.ticket_id == ticket.id))],
    )


@router.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: uuid.UUID, db: DbDep, actor: ActorDep) -> TicketDetail:
    """The ticket with its SLA clocks, badges (ok / warning / breached / paused / met), watchers, merges."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return _detail(s, actor, ticket_id)


@router.patch("/tickets/{ticket_id}")
def update_ticket(ticket_id: uuid.UUID, data: TicketUpdate, db: DbDep, actor: ActorDep) -> TicketOut:
    """Change fields. ``version`` is required: a stale one gets 409. Lowering the priority needs an approval."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.update_ticket(s, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/transitions")
def transition(ticket_id: uuid.UUID, data: Transition, db: DbDep, actor: ActorDep) -> TicketOut:
    """Move through the lifecycle; only allowed transitions; closing needs resolution, root cause, prevention."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.transition(s, actor, ticket_id, data))


@router.get("/tickets/{ticket_id}/messages")
def list_messages(ticket_id: uuid.UUID, db: DbDep, actor: ActorDep) -> list[MessageOut]:
    """Messages of the ticket and of the tickets merged into it, oldest first."""
    with db.tenant_transaction(actor.tenant_id) as s:
        ticket = queries.get_ticket(s, actor, ticket_id)
        ids = [ticket.id, *queries.merged_sources(s, ticket.id)]
        return [MessageOut.model_validate(m) for m in queries.messages(s, ids)]


@router.post("/tickets/{ticket_id}/messages", status_code=status.HTTP_201_CREATED)
def post_message(ticket_id: uuid.UUID, data: MessageIn, db: DbDep, actor: ActorDep) -> MessageOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return MessageOut.model_validate(actions.post_message(s, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/customer-messages", status_code=status.HTTP_201_CREATED)
def post_customer_message(ticket_id: uuid.UUID, data: CustomerMessageIn, db: DbDep, actor: ActorDep) -> MessageOut:
    """Relay what the customer wrote (from a channel); a ticket waiting on the customer goes back to open."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return MessageOut.model_validate(actions.customer_message(s, actor, ticket_id, data.body))


@router.get("/tickets/{ticket_id}/history")
def get_history(ticket_id: uuid.UUID, db: DbDep, actor: ActorDep) -> list[ChangeOut]:
    """Every change (actor, field, old, new; the rule for automated ones), merged tickets' included."""
    with db.tenant_transaction(actor.tenant_id) as s:
        ticket = queries.get_ticket(s, actor, ticket_id, include_deleted=True)
        ids = [ticket.id, *queries.merged_sources(s, ticket.id)]
        return [ChangeOut.model_validate(c) for c in queries.history(s, ids)]


@router.post("/tickets/{ticket_id}/transfer")
def transfer(ticket_id: uuid.UUID, data: TransferIn, db: DbDep, actor: ActorDep) -> TicketOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.transfer(s, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/watchers", status_code=status.HTTP_204_NO_CONTENT)
def add_watcher(ticket_id: uuid.UUID, data: WatcherIn, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.watch(s, actor, ticket_id, data.staff_id, add=True)


@router.delete("/tickets/{ticket_id}/watchers/{staff_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_watcher(ticket_id: uuid.UUID, staff_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.watch(s, actor, ticket_id, staff_id, add=False)


@router.post("/tickets/{ticket_id}/links", status_code=status.HTTP_204_NO_CONTENT)
def link(ticket_id: uuid.UUID, data: LinkIn, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.link(s, actor, ticket_id, data)


@router.post("/tickets/{ticket_id}/merge")
def merge(ticket_id: uuid.UUID, data: MergeIn, db: DbDep, actor: ActorDep) -> TicketOut:
    """Merge this ticket into ``target_id``; returns the target. Both histories are kept."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.merge(s, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/appeal")
def appeal(ticket_id: uuid.UUID, data: AppealIn, db: DbDep, actor: ActorDep) -> TicketOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.appeal(s, actor, ticket_id, data))


@router.post("/tickets/{ticket_id}/abuse")
def flag_abuse(ticket_id: uuid.UUID, data: AbuseIn, db: DbDep, actor: ActorDep) -> TicketOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.flag_abuse(s, actor, ticket_id, data))


def blob_store(request: Request) -> BlobStore:
    """The app's blob store (tests may set ``app.state.blobs``); by default encrypted files under the data dir."""
    store: BlobStore | None = getattr(request.app.state, "blobs", None)
    if store is None:
        settings = request.app.state.settings
        store = LocalEncryptedBlobStore(settings.data_dir / "blobs", for_purpose(settings, Purpose.BLOBS))
        request.app.state.blobs = store
    return store


@router.post("/tickets/{ticket_id}/attachments", status_code=status.HTTP_201_CREATED)
def upload(
    ticket_id: uuid.UUID,
    request: Request,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    evidence: Annotated[bool, Form()] = False,
) -> AttachmentOut:
    """Attach a file (size and type checked, stored encrypted under a server-generated key)."""
    data = file.file.read(settings.max_upload_bytes + 1)
    content_type = (file.content_type or "").split(";")[0].strip()
    with db.tenant_transaction(actor.tenant_id) as s:
        row = actions.attach(
            s,
            actor,
            ticket_id,
            blob_store(request),
            data,
            content_type=content_type,
            filename=file.filename or "file",
            evidence=evidence,
            max_bytes=settings.max_upload_bytes,
        )
        return AttachmentOut.model_validate(row)


@router.get("/tickets/{ticket_id}/attachments")
def list_attachments(ticket_id: uuid.UUID, db: DbDep, actor: ActorDep) -> list[AttachmentOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        ticket = queries.get_ticket(s, actor, ticket_id)
        rows = s.scalars(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id))
        return [AttachmentOut.model_validate(r) for r in rows]


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def download(ticket_id: uuid.UUID, attachment_id: uuid.UUID, request: Request, db: DbDep, actor: ActorDep) -> Response:
    with db.tenant_transaction(actor.tenant_id) as s:
        ticket = queries.get_ticket(s, actor, ticket_id)
        row = s.scalar(
            select(TicketAttachment).where(
                TicketAttachment.id == attachment_id, TicketAttachment.ticket_id == ticket.id
            )
        )
        if row is None:
            raise NotFound("no attachment with this id")
        data = blob_store(request).get(row.blob_key)
        return Response(
            data,
            media_type=row.content_type,
            headers={
                "Content-Disposition": "attachment",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )


@router.post("/tickets/{ticket_id}/approvals", status_code=status.HTTP_201_CREATED)
def request_approval(ticket_id: uuid.UUID, data: ApprovalCreate, db: DbDep, actor: ActorDep) -> ApprovalOut:
    """Ask for a high-risk operation; small refunds (≤ the tenant's threshold) execute at once."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return ApprovalOut.model_validate(approvals.request(s, actor, ticket_id, data))


@router.post("/ticket-surveys/{survey_id}/answer")
def answer_survey(survey_id: uuid.UUID, data: SurveyAnswer, db: DbDep, actor: ActorDep) -> SurveyOut:
    """Record the customer's satisfaction score (1 … 5), relayed by the channel integration that received it."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return SurveyOut.model_validate(actions.answer_survey(s, actor, survey_id, data))


@router.get("/ticket-reports/csat")
def report_csat(db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Satisfaction: surveys sent, answered, mean score, per team."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return reports.csat(s, actor)


@router.get("/ticket-approvals")
def list_approvals(
    db: DbDep, actor: ActorDep, status_: Annotated[str | None, Query(alias="status", max_length=16)] = None
) -> list[ApprovalOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        return [ApprovalOut.model_validate(a) for a in approvals.list_approvals(s, actor, status_)]


@router.post("/ticket-approvals/{approval_id}/decision")
def decide(approval_id: uuid.UUID, data: Decision, db: DbDep, actor: ActorDep) -> ApprovalOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return ApprovalOut.model_validate(approvals.decide(s, actor, approval_id, data))


@router.get("/ticket-types")
def list_types(db: DbDep, actor: ActorDep) -> list[TypeOut]:
    actor.require(Perm.TICKETS_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        return [TypeOut.model_validate(t) for t in queries.list_types(s, actor.tenant_id)]


@router.post("/ticket-types", status_code=status.HTTP_201_CREATED)
def create_type(data: TypeCreate, db: DbDep, actor: ActorDep) -> TypeOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return TypeOut.model_validate(admin.create_type(s, actor, data))


@router.patch("/ticket-types/{key}")
def update_type(key: Annotated[str, Path(max_length=40)], data: TypeUpdate, db: DbDep, actor: ActorDep) -> TypeOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return TypeOut.model_validate(admin.update_type(s, actor, key, data))


@router.get("/sla-policies")
def list_policies(db: DbDep, actor: ActorDep) -> list[PolicyOut]:
    actor.require(Perm.TICKETS_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        return [PolicyOut.model_validate(p) for p in queries.list_policies(s)]


@router.put("/sla-policies")
def put_policy(data: PolicyIn, db: DbDep, actor: ActorDep) -> PolicyOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return PolicyOut.model_validate(admin.put_policy(s, actor, data))


@router.delete("/sla-policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_policy(policy_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    """Tickets of that type and priority fall back to the ``*`` policy (or none); running clocks keep theirs."""
    with db.tenant_transaction(actor.tenant_id) as s:
        admin.delete_policy(s, actor, policy_id)


@router.get("/ticket-settings")
def get_settings(db: DbDep, actor: ActorDep) -> SettingsOut:
    actor.require(Perm.TICKETS_READ)
    with db.tenant_transaction(actor.tenant_id) as s:
        return SettingsOut.model_validate(queries.ticket_settings(s, actor.tenant_id))


@router.patch("/ticket-settings")
def update_settings(data: SettingsIn, db: DbDep, actor: ActorDep) -> SettingsOut:
    """Business calendar, approval chain, refund threshold, routing rules, complaint team, surveys."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return SettingsOut.model_validate(admin.update_settings(s, actor, data))


@router.get("/automations")
def list_rules(db: DbDep, actor: ActorDep) -> list[RuleOut]:
    actor.require(Perm.TICKETS_READ)
    from omnidesk.tickets.models import AutomationRule

    with db.tenant_transaction(actor.tenant_id) as s:
        rows = s.scalars(select(AutomationRule).order_by(AutomationRule.position, AutomationRule.name))
        return [RuleOut.model_validate(r) for r in rows]


@router.post("/automations", status_code=status.HTTP_201_CREATED)
def create_rule(data: RuleIn, db: DbDep, actor: ActorDep) -> RuleOut:
    """Validated against the tenant's fields; a rule that would loop with others is refused with the loop named."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return RuleOut.model_validate(admin.save_rule(s, actor, data))


@router.put("/automations/{rule_id}")
def replace_rule(rule_id: uuid.UUID, data: RuleIn, db: DbDep, actor: ActorDep) -> RuleOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return RuleOut.model_validate(admin.save_rule(s, actor, data, rule_id))


@router.delete("/automations/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        admin.delete_rule(s, actor, rule_id)


@router.get("/ticket-views")
def list_views(db: DbDep, actor: ActorDep) -> list[ViewOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        return [ViewOut.model_validate(v) for v in admin.list_views(s, actor)]


@router.post("/ticket-views", status_code=status.HTTP_201_CREATED)
def save_view(data: ViewIn, db: DbDep, actor: ActorDep) -> ViewOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return ViewOut.model_validate(admin.save_view(s, actor, data))


@router.delete("/ticket-views/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_view(view_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    """Delete one of your saved views (a shared view of someone else: needs tickets.reports)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        admin.delete_view(s, actor, view_id)


@router.post("/ticket-grants", status_code=status.HTTP_201_CREATED)
def grant(data: GrantCreate, db: DbDep, actor: ActorDep) -> GrantOut:
    """A temporary permission for one staff member; it expires by itself."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return GrantOut.model_validate(admin.grant(s, actor, data))


@router.get("/notifications")
def list_notifications(db: DbDep, actor: ActorDep, unread: bool = False) -> list[NotificationOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        stmt = select(Notification).where(Notification.recipient_id == actor.staff_id)
        if unread:
            stmt = stmt.where(Notification.read_at.is_(None))
        rows = s.scalars(stmt.order_by(Notification.created_at.desc()).limit(100))
        return [NotificationOut.model_validate(n) for n in rows]


@router.post("/notifications/{notification_id}/read", status_code=status.HTTP_204_NO_CONTENT)
def mark_read(notification_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.mark_notification_read(s, actor, notification_id)


@router.get("/ticket-reports/sla")
def report_sla(db: DbDep, actor: ActorDep, since: datetime | None = None) -> list[dict[str, Any]]:
    """% SLA met per metric and team (finished clocks)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return reports.sla_met(s, actor, since)


@router.get("/ticket-reports/board")
def report_board(db: DbDep, actor: ActorDep) -> dict[str, Any]:
    with db.tenant_transaction(actor.tenant_id) as s:
        return reports.board(s, actor)


@router.get("/ticket-reports/process")
def report_process(db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Process mining: real paths, bounce-backs between teams, mean hours per stage."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return reports.process(s, actor)


@router.get("/macros")
def list_macros(db: DbDep, actor: ActorDep) -> list[MacroOut]:
    """The workspace's macros, by name (anyone who reads tickets may see and apply them)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return [MacroOut.model_validate(m) for m in macros.list_macros(s, actor)]


@router.post("/macros", status_code=status.HTTP_201_CREATED)
def create_macro(data: MacroIn, db: DbDep, actor: ActorDep) -> MacroOut:
    """Actions are validated like automation actions (set_field, assign, add_tag, reply_template); tickets.admin."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return MacroOut.model_validate(macros.create_macro(s, actor, data))


@router.put("/macros/{macro_id}")
def replace_macro(macro_id: uuid.UUID, data: MacroIn, db: DbDep, actor: ActorDep) -> MacroOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return MacroOut.model_validate(macros.update_macro(s, actor, macro_id, data))


@router.delete("/macros/{macro_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_macro(macro_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        macros.delete_macro(s, actor, macro_id)


@router.post("/tickets/{ticket_id}/macros/{macro_id}/apply")
def apply_macro(
    ticket_id: uuid.UUID, macro_id: uuid.UUID, db: DbDep, actor: ActorDep, data: MacroApply | None = None
) -> TicketOut:
    """Apply every action of the macro in one transaction (all or nothing), each audited and announced as if done
    by hand. Send ``version`` (the ticket version you loaded) so a retry gets 409 instead of applying twice; a
    retry with the same ``Idempotency-Key`` replays the first answer."""
    with db.tenant_transaction(actor.tenant_id) as s:
        version = data.version if data else None
        return TicketOut.model_validate(macros.apply_macro(s, actor, ticket_id, macro_id, version=version))


@router.put("/tickets/{ticket_id}/requester")
def set_requester(ticket_id: uuid.UUID, data: RequesterIn, db: DbDep, actor: ActorDep) -> TicketOut:
    """Make another customer the ticket's requester."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return TicketOut.model_validate(actions.set_requester(s, actor, ticket_id, data.customer_id))
