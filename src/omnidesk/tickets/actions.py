"""Public actions on tickets: create, update, transition, reply, transfer, watch, link, merge, complaints.

Each checks permission, validates everything before writing anything (so bad input leaves nothing half-applied;
the transaction rolls back on any error), writes change rows and an audit record, runs the tenant's automations,
and publishes events after commit. ``create_ticket`` is callable with a system actor (the assistant's hand-over).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnidesk.accounts import queries as accounts_queries
from omnidesk.compliance import audit
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.models import Message
from omnidesk.core.actor import Actor
from omnidesk.core.blobs import BlobStore, check_upload
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.customers import queries as customer_queries
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import (
    NotificationRead,
    TicketAdded,
    TicketAttachmentAdded,
    TicketMessageAdded,
)
from omnidesk.security.permissions import Perm
from omnidesk.tickets import automation, clocks, history, notify, ops, queries
from omnidesk.tickets.classify import classify
from omnidesk.tickets.fields import FieldKind, validate_values
from omnidesk.tickets.models import (
    Notification,
    Survey,
    Ticket,
    TicketAttachment,
    TicketLink,
    TicketMessage,
    TicketSettings,
)
from omnidesk.tickets.rules import Trigger
from omnidesk.tickets.schemas import (
    AbuseIn,
    AppealIn,
    LinkIn,
    LinkKind,
    MergeIn,
    MessageIn,
    SurveyAnswer,
    TicketCreate,
    TicketUpdate,
    TransferIn,
    Transition,
)
from omnidesk.tickets.states import DONE, Priority, Status, lowered


def _next_number(session: Session, tenant_id: uuid.UUID) -> int:
    ops.ensure_settings(session, tenant_id)
    number: int = session.execute(
        update(TicketSettings)
        .values(last_number=TicketSettings.last_number + 1)
        .returning(TicketSettings.last_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return number


def create_ticket(session: Session, actor: Actor, data: TicketCreate, *, source: str = "api") -> Ticket:
    """Create a ticket from the API, the workspace, a conversation (transcript copied) or the assistant."""
    actor.require(Perm.TICKETS_WRITE)
    settings = ops.ensure_settings(session, actor.tenant_id)
    try:
        ttype = queries.get_type(session, data.type)
    except NotFound:
        raise InvalidInput(
            f"unknown ticket type '{data.type}'", errors=[{"field": "type", "message": "unknown"}]
        ) from None
    is_complaint = ttype.key == "complaint"
    custom = validate_values(ttype.fields, data.custom_fields, enforce_required=not is_complaint)
    for spec in ttype.fields:
        if spec["kind"] == FieldKind.CUSTOMER and spec["key"] in custom:
            customer_queries.get_customer(session, uuid.UUID(custom[spec["key"]]))
    conversation = None
    if data.conversation_id is not None:
        conversation = conversation_queries.get_conversation(session, actor, data.conversation_id)
    customer_id = data.customer_id or (conversation.customer_id if conversation else None)
    if customer_id is not None:
        customer_queries.get_customer(session, customer_id)
    routing = classify(settings.routing_rules, f"{data.subject}\n{data.description}", data.intent)
    green = is_complaint and data.major
    team_id = data.team_id or (settings.complaint_team_id if green else None)
    team_id = team_id or (uuid.UUID(routing.team_id) if routing.team_id else None) or ttype.default_team_id
    if team_id is not None:
        team_id = accounts_queries.get_team(session, team_id).id
    priority = Priority.URGENT if green else (data.priority or Priority(routing.priority or ttype.default_priority))
    assignee_id = None
    if data.assignee_id is not None:
        queries.require_perm(session, actor, Perm.TICKETS_ASSIGN)
        assignee_id = ops.active_staff(session, data.assignee_id).id
    elif team_id is not None:
        assignee_id = ops.pick_assignee(session, team_id)
    if data.parent_id is not None:
        queries.get_ticket(session, actor, data.parent_id)
    if data.concerned_staff_id is not None:
        accounts_queries.get_staff(session, data.concerned_staff_id)
    now = utcnow()
    ticket = Ticket(
        tenant_id=actor.tenant_id,
        number=_next_number(session, actor.tenant_id),
        type_key=ttype.key,
        subject=data.subject,
        description=data.description,
        status=Status.NEW.value,
        priority=priority.value,
        category=routing.category,
        channel=(data.channel.value if data.channel else None) or (conversation.channel if conversation else "api"),
        customer_id=customer_id,
        conversation_id=conversation.id if conversation else None,
        team_id=team_id,
        assignee_id=assignee_id,
        last_handler_id=assignee_id,
        green_channel=green,
        custom_fields=custom,
        tags=list(dict.fromkeys(data.tags)),
        parent_id=data.parent_id,
        concerned_staff_id=data.concerned_staff_id,
        responsible_team_id=team_id if is_complaint else None,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    ops.flush(session)
    history.record(
        session,
        actor,
        ticket,
        "created",
        None,
        ticket.status,
        note=source + (f"; routed by '{routing.rule}'" if routing.rule else ""),
    )
    clocks.start(session, ticket, now)
    if conversation is not None:
        _copy_transcript(session, ticket, conversation.id)
    audit.record(
        session,
        actor,
        "ticket.create",
        "ticket",
        ticket.id,
        {"number": ticket.number, "type": ticket.type_key, "source": source},
    )
    publish_on_commit(
        session,
        TicketAdded(tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, status=ticket.status),
    )
    if green:
        notify.notify(
            session,
            actor.tenant_id,
            notify.supervisors(session),
            "green_channel",
            ("tickets.notice.green_channel", {"number": ticket.number, "subject": ticket.subject}),
            ticket.description[:500],
            [ticket.id],
            email=True,
        )
    if assignee_id is not None and assignee_id != actor.staff_id:
        notify.notify(
            session,
            actor.tenant_id,
            [assignee_id],
            "assigned",
            ("tickets.notice.ticket", {"number": ticket.number, "subject": ticket.subject}),
            ticket_ids=[ticket.id],
        )
    ops.flush(session)
    automation.run(session, ticket, Trigger.CREATED)
    ops.flush(session)
    return ticket


def _copy_transcript(session: Session, ticket: Ticket, conversation_id: uuid.UUID) -> None:
    for message in session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
    ):
        session.add(
            TicketMessage(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                public=not message.internal,
                author_type=message.sender_type,
                author_id=message.sender_id,
                body=message.body,
                source="transcript",
                created_at=message.created_at,
            )
        )


def _short(values: dict[str, Any], limit: int = 500) -> dict[str, Any]:
    """Old and new values for the audit trail, long texts (descriptions) cut: the ticket history keeps them whole."""

    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[:limit] + "…"
        if isinstance(value, list):
            return [cut(v) for v in value]
        return value

    return {name: cut(value) for name, value in values.items()}


def update_ticket(session: Session, actor: Actor, ticket_id: uuid.UUID, data: TicketUpdate) -> Ticket:
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    ops.check_version(ticket, data.version)
    given = data.model_dump(exclude_unset=True, exclude={"version"})
    if "priority" in given and data.priority is not None and lowered(Priority(ticket.priority), data.priority):
        raise ApprovalRequired(
            f"lowering the priority from {ticket.priority} to {data.priority} needs approval: "
            f"POST /api/v1/tickets/{ticket.id}/approvals with operation 'lower_priority'"
        )
    if "assignee_id" in given:
        queries.require_perm(session, actor, Perm.TICKETS_ASSIGN)
    changes: dict[str, Any] = {k: v for k, v in given.items() if k != "custom_fields"}
    for required in ("priority", "subject", "description"):
        if changes.get(required, "") is None:
            raise InvalidInput(f"{required} cannot be empty", errors=[{"field": required, "message": "cannot be null"}])
    old_custom = dict(ticket.custom_fields)
    if data.custom_fields is not None:
        template = queries.get_type(session, ticket.type_key).fields
        merged = {**ticket.custom_fields, **data.custom_fields}
        valid = validate_values(template, merged, enforce_required=ticket.type_key != "complaint")
        for key in set(valid) | set(ticket.custom_fields):
            if valid.get(key) != ticket.custom_fields.get(key):
                history.record(session, actor, ticket, f"custom.{key}", ticket.custom_fields.get(key), valid.get(key))
        if valid != ticket.custom_fields:
            ticket.custom_fields = valid
            changes["@custom"] = True
    custom_changed = bool(changes.pop("@custom", False))
    before = {name: getattr(ticket, name) for name in changes}
    changed = ops.set_fields(session, actor, ticket, changes)
    if custom_changed:
        changed |= {f"custom.{k}" for k in data.custom_fields or {}}
        ops.touch(ticket)
    if not changed:
        return ticket
    ops.flush(session)
    values = audit.diff(before, {name: getattr(ticket, name) for name in changes})
    if custom_changed:
        values.update(
            {f"custom.{k}": [old_custom.get(k), ticket.custom_fields.get(k)] for k in data.custom_fields or {}}
        )
    audit.record(
        session, actor, "ticket.update", "ticket", ticket.id, {"fields": sorted(changed), "values": _short(values)}
    )
    ops.announce_update(session, ticket, changed)
    if "assignee_id" in changed and ticket.assignee_id and ticket.assignee_id != actor.staff_id:
        notify.notify(
            session,
            actor.tenant_id,
            [ticket.assignee_id],
            "assigned",
            ("tickets.notice.ticket", {"number": ticket.number, "subject": ticket.subject}),
            ticket_ids=[ticket.id],
        )
    automation.run(session, ticket, Trigger.UPDATED, changed)
    ops.flush(session)
    return ticket


class ApprovalRequired(InvalidInput):
    status = 409
    code = "approval-required"
    title = "Approval required"


def transition(session: Session, actor: Actor, ticket_id: uuid.UUID, data: Transition) -> Ticket:
    """Change the status; closing needs resolution, root cause and prevention; reopening needs a reason."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    ops.check_version(ticket, data.version)
    if data.status == Status.REOPENED and not data.reason:
        raise InvalidInput("reopening needs a reason", errors=[{"field": "reason", "message": "required to reopen"}])
    for field in ("resolution", "root_cause", "prevention"):
        value = getattr(data, field)
        if value and value != getattr(ticket, field):
            history.record(session, actor, ticket, field, getattr(ticket, field), value)
            setattr(ticket, field, value)
    old = ticket.status
    changed = ops.set_status(session, actor, ticket, data.status, note=data.reason or "")
    audit.record(session, actor, "ticket.transition", "ticket", ticket.id, {"status": [old, ticket.status]})
    ops.announce_update(session, ticket, changed, status=ticket.status)
    automation.run(session, ticket, Trigger.STATUS_CHANGED, changed)
    automation.run(session, ticket, Trigger.UPDATED, changed)
    ops.flush(session)
    return ticket


def post_message(session: Session, actor: Actor, ticket_id: uuid.UUID, data: MessageIn) -> TicketMessage:
    """A public reply (first response; reaches the customer) or an internal comment (@mentions notify)."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    if ticket.merged_into_id is not None:
        raise InvalidInput("this ticket was merged; reply on the ticket it was merged into")
    message = ops.add_message(session, actor, ticket, data.body, public=data.public)
    changed: set[str] = set()
    if data.public and ticket.status == Status.NEW.value:
        changed = ops.set_status(session, actor, ticket, Status.OPEN, note="first reply")
    if not data.public:
        people = notify.mentioned(session, data.body)
        message.mentions = [p.email for p in people]
        for person in people:
            ops.add_watcher(session, ticket, person.id)
        notify.notify(
            session,
            actor.tenant_id,
            [p.id for p in people if p.id != actor.staff_id],
            "mention",
            ("tickets.notice.ticket", {"number": ticket.number, "subject": ticket.subject}),
            data.body[:500],
            [ticket.id],
            email=True,
        )
    ops.flush(session)
    audit.record(
        session,
        actor,
        "ticket.message_add",
        "ticket",
        ticket.id,
        {"message_id": str(message.id), "public": data.public},
    )
    publish_on_commit(
        session,
        TicketMessageAdded(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, message_id=message.id,
            public=data.public,
        ),
    )  # fmt: skip
    if data.public:
        automation.run(session, ticket, Trigger.PUBLIC_REPLY, {"@public_message"})
    if changed:
        automation.run(session, ticket, Trigger.STATUS_CHANGED, changed)
    ops.flush(session)
    return message


def customer_message(session: Session, actor: Actor, ticket_id: uuid.UUID, body: str) -> TicketMessage:
    """What the customer wrote (relayed by a channel): a ticket waiting on the customer goes back to open."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    message = ops.add_message(session, actor, ticket, body, public=True, author_type="customer", source="customer")
    if ticket.status == Status.PENDING_CUSTOMER.value:
        ops.set_status(session, actor, ticket, Status.OPEN, note="the customer replied")
    ops.flush(session)
    audit.record(session, actor, "ticket.customer_message", "ticket", ticket.id, {"message_id": str(message.id)})
    publish_on_commit(
        session,
        TicketMessageAdded(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, message_id=message.id, public=True
        ),
    )
    automation.run(session, ticket, Trigger.CUSTOMER_REPLY)
    ops.flush(session)
    return message


def transfer(session: Session, actor: Actor, ticket_id: uuid.UUID, data: TransferIn) -> Ticket:
    """Hand the ticket to another department, with a mandatory note (kept as an internal comment)."""
    queries.require_perm(session, actor, Perm.TICKETS_ASSIGN)
    ticket = queries.get_ticket(session, actor, ticket_id)
    if Status(ticket.status) in DONE:
        raise InvalidInput(f"a {ticket.status} ticket cannot be transferred; reopen it first")
    team = accounts_queries.get_team(session, data.team_id)
    if team.id == ticket.team_id:
        raise InvalidInput("the ticket is already with that team")
    new_assignee = ops.pick_assignee(session, team.id)
    changed = ops.set_fields(session, actor, ticket, {"team_id": team.id}, note=data.note)
    if ticket.assignee_id != new_assignee:
        history.record(session, actor, ticket, "assignee_id", ticket.assignee_id, new_assignee, note="transfer")
        ticket.assignee_id = new_assignee
        if new_assignee:
            ticket.last_handler_id = new_assignee
        changed.add("assignee_id")
    ops.add_message(session, actor, ticket, data.note, public=False, source="transfer")
    ops.flush(session)
    audit.record(session, actor, "ticket.transfer", "ticket", ticket.id, {"team_id": str(team.id)})
    ops.announce_update(session, ticket, changed)
    if new_assignee:
        notify.notify(
            session,
            actor.tenant_id,
            [new_assignee],
            "transfer",
            ("tickets.notice.ticket", {"number": ticket.number, "subject": ticket.subject}),
            data.note,
            [ticket.id],
        )
    automation.run(session, ticket, Trigger.UPDATED, changed)
    ops.flush(session)
    return ticket


def watch(session: Session, actor: Actor, ticket_id: uuid.UUID, staff_id: uuid.UUID, *, add: bool) -> None:
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    person = ops.active_staff(session, staff_id)
    if add:
        if ops.add_watcher(session, ticket, person.id):
            history.record(session, actor, ticket, "watcher", None, person.id)
    else:
        from omnidesk.tickets.models import TicketWatcher

        row = session.scalar(
            select(TicketWatcher).where(TicketWatcher.ticket_id == ticket.id, TicketWatcher.staff_id == person.id)
        )
        if row is not None:
            session.delete(row)
            history.record(session, actor, ticket, "watcher", person.id, None)
    audit.record(
        session, actor, "ticket.watch" if add else "ticket.unwatch", "ticket", ticket.id, {"staff_id": str(person.id)}
    )


def link(session: Session, actor: Actor, ticket_id: uuid.UUID, data: LinkIn) -> None:
    """``related`` links both ways; ``parent`` makes ``other_id`` this ticket's parent (no cycles)."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    other = queries.get_ticket(session, actor, data.other_id)
    if other.id == ticket.id:
        raise InvalidInput("a ticket cannot be linked to itself")
    if data.kind == LinkKind.PARENT:
        cursor: Ticket | None = other
        while cursor is not None:
            if cursor.id == ticket.id:
                raise InvalidInput("that would make the ticket its own ancestor")
            cursor = session.get(Ticket, cursor.parent_id) if cursor.parent_id else None
        history.record(session, actor, ticket, "parent_id", ticket.parent_id, other.id)
        ticket.parent_id = other.id
    else:
        for a, b in ((ticket, other), (other, ticket)):
            exists_ = session.scalar(
                select(TicketLink.id).where(
                    TicketLink.ticket_id == a.id, TicketLink.other_id == b.id, TicketLink.kind == "related"
                )
            )
            if not exists_:
                session.add(TicketLink(tenant_id=a.tenant_id, ticket_id=a.id, other_id=b.id, kind="related"))
                history.record(session, actor, a, "link", None, b.id)
    ops.touch(ticket)
    ops.flush(session)
    audit.record(session, actor, "ticket.link", "ticket", ticket.id, {"other_id": str(other.id), "kind": data.kind})


def merge(session: Session, actor: Actor, ticket_id: uuid.UUID, data: MergeIn) -> Ticket:
    """Merge this ticket into ``target_id``: the source is closed and points at the target; both histories stay
    (the target's page shows the source's messages and changes too)."""
    actor.require(Perm.TICKETS_WRITE)
    source = queries.get_ticket(session, actor, ticket_id)
    target = queries.get_ticket(session, actor, data.target_id)
    if source.id == target.id:
        raise InvalidInput("a ticket cannot be merged into itself")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise InvalidInput("one of the tickets was already merged")
    if Status(target.status) in DONE:
        raise InvalidInput("merge into a ticket that is still open")
    now = utcnow()
    note = data.note or f"merged into #{target.number}"
    history.record(session, actor, source, "merged_into_id", None, target.id, note=note)
    history.record(session, actor, target, "merged_from", None, source.id, note=note)
    source.merged_into_id = target.id
    old_status = Status(source.status)
    if old_status not in DONE:
        source.status = Status.CLOSED.value
        source.status_changed_at = now
        source.closed_at = now
        history.record(session, actor, source, "status", old_status.value, Status.CLOSED.value, note=note)
        ops.flush(session)
        clocks.on_status(session, source, old_status, Status.CLOSED, now)
    session.add(TicketLink(tenant_id=source.tenant_id, ticket_id=source.id, other_id=target.id, kind="merged"))
    ops.add_message(session, actor, target, note, public=False, source="merge")
    ops.touch(source, now)
    ops.touch(target, now)
    ops.flush(session)
    audit.record(session, actor, "ticket.merge", "ticket", source.id, {"target_id": str(target.id)})
    ops.announce_update(session, source, ["merged_into_id", "status"])
    ops.announce_update(session, target, ["merged_from"])
    return target


def appeal(session: Session, actor: Actor, ticket_id: uuid.UUID, data: AppealIn) -> Ticket:
    """The employee a complaint concerns contests it; supervisors are told."""
    actor.require(Perm.TICKETS_READ)
    ticket = queries.get_ticket(session, actor, ticket_id)
    if ticket.type_key != "complaint":
        raise InvalidInput("only complaints can be appealed")
    if actor.staff_id is None or actor.staff_id != ticket.concerned_staff_id:
        raise InvalidInput("only the employee this complaint concerns can appeal it")
    if ticket.appeal:
        raise InvalidInput("this complaint was already appealed")
    ticket.appeal = {"reason": data.reason, "at": utcnow().isoformat(), "status": "open"}
    history.record(session, actor, ticket, "appeal", None, "open", note=data.reason)
    ops.touch(ticket)
    ops.flush(session)
    audit.record(session, actor, "ticket.appeal", "ticket", ticket.id, {})
    notify.notify(
        session,
        actor.tenant_id,
        notify.supervisors(session),
        "appeal",
        ("tickets.notice.appeal", {"number": ticket.number}),
        data.reason,
        [ticket.id],
    )
    return ticket


def flag_abuse(session: Session, actor: Actor, ticket_id: uuid.UUID, data: AbuseIn) -> Ticket:
    """Mark abusive behaviour by the customer; the complaint is still accepted and handled."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    if not ticket.abusive:
        ticket.abusive = True
        history.record(session, actor, ticket, "abusive", False, True, note=data.note)
        ops.add_message(session, actor, ticket, data.note, public=False, source="abuse")
        ops.touch(ticket)
        ops.flush(session)
        audit.record(session, actor, "ticket.flag_abuse", "ticket", ticket.id, {})
    return ticket


def answer_survey(session: Session, actor: Actor, survey_id: uuid.UUID, data: SurveyAnswer) -> Survey:
    """Record the customer's satisfaction answer, relayed by the channel it came back on. Answered once."""
    actor.require(Perm.TICKETS_WRITE)
    survey = session.scalar(select(Survey).where(Survey.id == survey_id))
    if survey is None:
        raise NotFound("no survey with this id")
    ticket = queries.get_ticket(session, actor, survey.ticket_id, include_deleted=True)
    if survey.answered_at is not None:
        raise Conflict("this survey was already answered")
    survey.score = data.score
    survey.comment = data.comment
    survey.answered_at = utcnow()
    history.record(session, actor, ticket, "satisfaction", None, data.score, note=data.comment[:500])
    ops.flush(session)
    audit.record(session, actor, "ticket.survey_answer", "ticket", ticket.id, {"score": data.score})
    ops.announce_update(session, ticket, ["satisfaction"])
    return survey


def attach(
    session: Session,
    actor: Actor,
    ticket_id: uuid.UUID,
    store: BlobStore,
    data: bytes,
    *,
    content_type: str,
    filename: str,
    evidence: bool,
    max_bytes: int,
) -> TicketAttachment:
    """Attach a file to a ticket: checked (size, declared type against the bytes), stored encrypted under a
    server-generated key, audited and announced. The blob is written first; if the transaction then fails, an
    unreferenced blob remains (harmless, unreadable without its row) rather than a row pointing at nothing."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    check_upload(data, content_type, max_bytes)
    ref = store.put(data, content_type)
    row = TicketAttachment(
        tenant_id=actor.tenant_id,
        ticket_id=ticket.id,
        blob_key=ref.key,
        filename=(filename or "file").replace("/", "_").replace("\\", "_")[-200:],
        content_type=content_type,
        size=ref.size,
        sha256=ref.sha256,
        evidence=evidence,
        uploaded_by=actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "ticket.attach", "ticket", ticket.id, {"attachment_id": str(row.id), "size": ref.size})
    publish_on_commit(
        session,
        TicketAttachmentAdded(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, attachment_id=row.id,
            evidence=evidence,
        ),
    )  # fmt: skip
    return row


def mark_notification_read(session: Session, actor: Actor, notification_id: uuid.UUID) -> Notification:
    """The caller read one of their own notifications (someone else's is not found). A personal read marker,
    like a conversation's read receipt: announced to the reader's other tabs, not audited."""
    row = session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.recipient_id == actor.staff_id)
    )
    if row is None:
        raise NotFound("no notification with this id")
    if row.read_at is None:
        row.read_at = utcnow()
        session.flush()
        publish_on_commit(
            session, NotificationRead(tenant_id=actor.tenant_id, recipient_id=row.recipient_id, notification_id=row.id)
        )
    return row


def do_move_customer(session: Session, actor: Actor, from_id: uuid.UUID, to_id: uuid.UUID) -> int:
    """Re-point every ticket of customer ``from_id`` to ``to_id`` (a merge of duplicate profiles, registered with
    ``customers.merge``): each ticket's history gets a ``customer_id`` change row. Returns how many moved."""
    tickets = list(session.scalars(select(Ticket).where(Ticket.customer_id == from_id)))
    for ticket in tickets:
        ticket.customer_id = to_id
        ticket.updated_at = utcnow()
        history.record(session, actor, ticket, "customer_id", from_id, to_id, note="customer profiles merged")
    session.flush()
    return len(tickets)


def set_requester(session: Session, actor: Actor, ticket_id: uuid.UUID, customer_id: uuid.UUID) -> Ticket:
    """Make another customer the ticket's requester (the person it is for): history, audit, ``ticket.update``."""
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    customer = customer_queries.get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise InvalidInput("that customer profile was merged into another; choose the surviving profile")
    if ticket.customer_id == customer.id:
        return ticket
    old = ticket.customer_id
    changed = ops.set_fields(session, actor, ticket, {"customer_id": customer.id})
    ops.flush(session)
    audit.record(
        session,
        actor,
        "ticket.update",
        "ticket",
        ticket.id,
        {"fields": ["customer_id"], "values": {"customer_id": [str(old) if old else None, str(customer.id)]}},
    )
    ops.announce_update(session, ticket, changed or {"customer_id"})
    automation.run(session, ticket, Trigger.UPDATED, changed)
    ops.flush(session)
    return ticket


def set_team(session: Session, actor: Actor, ticket_id: uuid.UUID, team_id: uuid.UUID, *, note: str = "") -> Ticket:
    """Put the ticket with a team (the assignee stays; ``transfer`` is the hand-over that also re-assigns)."""
    queries.require_perm(session, actor, Perm.TICKETS_ASSIGN)
    ticket = queries.get_ticket(session, actor, ticket_id)
    team = accounts_queries.get_team(session, team_id)
    if ticket.team_id == team.id:
        return ticket
    old = ticket.team_id
    changed = ops.set_fields(session, actor, ticket, {"team_id": team.id}, note=note)
    ops.flush(session)
    audit.record(
        session,
        actor,
        "ticket.update",
        "ticket",
        ticket.id,
        {"fields": ["team_id"], "values": {"team_id": [str(old) if old else None, str(team.id)]}},
    )
    ops.announce_update(session, ticket, changed)
    automation.run(session, ticket, Trigger.UPDATED, changed)
    ops.flush(session)
    return ticket
