"""Approvals for high-risk operations: deleting a ticket, lowering its priority, refunds above the tenant's
threshold. The request names an approver chain (the tenant's, e.g. supervisor → admin); each step is decided by
someone holding that role (an admin may decide any step; a temporary ``tickets.approve`` grant counts as
supervisor), never by the requester. The operation runs in the transaction of the last approval.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import TicketApprovalChanged
from omnidesk.security.permissions import Perm, Role
from omnidesk.tickets import history, notify, ops, queries
from omnidesk.tickets.models import Approval, Ticket
from omnidesk.tickets.schemas import ApprovalCreate, Decision, Operation
from omnidesk.tickets.states import Priority, lowered


def request(session: Session, actor: Actor, ticket_id: uuid.UUID, data: ApprovalCreate) -> Approval:
    actor.require(Perm.TICKETS_WRITE)
    ticket = queries.get_ticket(session, actor, ticket_id)
    settings = queries.ticket_settings(session, actor.tenant_id)
    params: dict[str, object] = {}
    if data.operation == Operation.LOWER_PRIORITY:
        if data.priority is None or not lowered(Priority(ticket.priority), data.priority):
            raise InvalidInput(f"give a priority lower than the current '{ticket.priority}'")
        params = {"priority": data.priority.value}
    elif data.operation == Operation.REFUND:
        if data.amount is None:
            raise InvalidInput("a refund needs an amount")
        params = {"amount": data.amount}
    pending = session.scalar(
        select(Approval.id).where(
            Approval.ticket_id == ticket.id, Approval.operation == data.operation.value, Approval.status == "pending"
        )
    )
    if pending:
        raise Conflict("an approval for this operation is already pending on this ticket")
    approval = Approval(
        tenant_id=actor.tenant_id,
        ticket_id=ticket.id,
        operation=data.operation.value,
        params=params,
        reason=data.reason,
        requested_by=actor.id,
        chain=list(settings.approval_chain or ["supervisor", "admin"]),
        created_at=utcnow(),
    )
    session.add(approval)
    if data.operation == Operation.REFUND and data.amount is not None and data.amount <= settings.refund_threshold:
        approval.chain = []
        approval.status = "approved"
        approval.decided_at = utcnow()
        session.flush()
        _execute(session, actor, ticket, approval)
    else:
        session.flush()
        notify.notify(
            session,
            actor.tenant_id,
            notify.supervisors(session),
            "approval",
            ("tickets.notice.approval_needed", {"number": ticket.number, "operation": data.operation.value}),
            data.reason,
            [ticket.id],
        )
    history.record(
        session, actor, ticket, "approval", None, f"{data.operation.value}: {approval.status}", note=data.reason
    )
    _announce(session, ticket, approval)
    audit.record(
        session,
        actor,
        "approval.request",
        "ticket",
        ticket.id,
        {"approval_id": str(approval.id), "operation": data.operation.value, "params": params},
    )
    return approval


def _may_decide(session: Session, actor: Actor, role: str) -> bool:
    if actor.role == Role.ADMIN or actor.role.value == role:
        return True
    return role == Role.SUPERVISOR.value and queries.has_perm(session, actor, Perm.TICKETS_APPROVE)


def decide(session: Session, actor: Actor, approval_id: uuid.UUID, data: Decision) -> Approval:
    approval = session.scalar(select(Approval).where(Approval.id == approval_id))
    if approval is None:
        raise NotFound("no approval with this id")
    if approval.status != "pending":
        raise Conflict(f"this approval is already {approval.status}")
    if actor.id is not None and actor.id == approval.requested_by:
        raise PermissionDenied("you cannot approve your own request")
    role = approval.chain[approval.step]
    if not _may_decide(session, actor, role):
        raise PermissionDenied(f"step {approval.step + 1} of this approval needs a {role}")
    ticket = session.scalar(select(Ticket).where(Ticket.id == approval.ticket_id))
    if ticket is None:
        raise NotFound("the ticket of this approval no longer exists")
    approval.decisions = [
        *approval.decisions,
        {
            "by": str(actor.id),
            "role": actor.role.value,
            "approve": data.approve,
            "note": data.note,
            "at": utcnow().isoformat(),
        },
    ]
    if not data.approve:
        approval.status = "rejected"
        approval.decided_at = utcnow()
    elif approval.step + 1 < len(approval.chain):
        approval.step += 1
    else:
        approval.status = "approved"
        approval.decided_at = utcnow()
        _execute(session, actor, ticket, approval)
    history.record(
        session,
        actor,
        ticket,
        "approval",
        None,
        f"{approval.operation}: {'approved' if data.approve else 'rejected'} (step {approval.step + 1})",
        note=data.note,
    )
    _announce(session, ticket, approval)
    audit.record(
        session,
        actor,
        "approval.decide",
        "ticket",
        ticket.id,
        {"approval_id": str(approval.id), "approve": data.approve, "status": approval.status},
    )
    if approval.requested_by and approval.status != "pending":
        notify.notify(
            session,
            actor.tenant_id,
            [approval.requested_by],
            "approval",
            (
                "tickets.notice.approval_decided",
                {"number": ticket.number, "operation": approval.operation, "status": approval.status},
            ),
            data.note,
            [ticket.id],
        )
    session.flush()
    return approval


def _announce(session: Session, ticket: Ticket, approval: Approval) -> None:
    publish_on_commit(
        session,
        TicketApprovalChanged(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, number=ticket.number, approval_id=approval.id,
            operation=approval.operation, status=approval.status,
        ),
    )  # fmt: skip


def _execute(session: Session, actor: Actor, ticket: Ticket, approval: Approval) -> None:
    note = f"approved request {approval.id}"
    if approval.operation == Operation.DELETE:
        ticket.deleted_at = utcnow()
        history.record(session, actor, ticket, "deleted", False, True, note=note)
        ops.touch(ticket)
        ops.announce_update(session, ticket, ["deleted_at"])
    elif approval.operation == Operation.LOWER_PRIORITY:
        changed = ops.set_fields(session, actor, ticket, {"priority": approval.params["priority"]}, note=note)
        ops.announce_update(session, ticket, changed)
    else:
        history.record(session, actor, ticket, "refund", None, approval.params["amount"], note=note)
        ops.touch(ticket)
    approval.status = "executed"
    ops.flush(session)
    audit.record(
        session,
        actor,
        f"ticket.{approval.operation}",
        "ticket",
        ticket.id,
        {"approval_id": str(approval.id), **approval.params},
    )


def list_approvals(session: Session, actor: Actor, status: str | None) -> list[Approval]:
    actor.require(Perm.TICKETS_READ)
    stmt = select(Approval).order_by(Approval.created_at.desc()).limit(200)
    if status:
        stmt = stmt.where(Approval.status == status)
    return list(session.scalars(stmt))
