"""Reading the audit trail (auditors only)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.compliance.models import AuditRecord
from omnidesk.compliance.schemas import AuditRecordOut
from omnidesk.core.actor import Actor
from omnidesk.core.pagination import decode_cursor
from omnidesk.security.masking import mask_personal_changes
from omnidesk.security.permissions import Perm


def present(actor: Actor, record: AuditRecord) -> AuditRecordOut:
    """One record as ``actor`` may read it: credentials never (also in rows written before that rule), customers'
    contact details masked without ``customers.pii``; staff records as ``staff.read`` shows them anyway. The API,
    the audit page and its CSV export all read through here, so they mask alike."""
    item = AuditRecordOut.model_validate(record)
    changes = audit.redact(dict(record.changes or {}))
    readable_staff = record.target_type == "staff" and actor.can(Perm.STAFF_READ)
    if not actor.can(Perm.CUSTOMERS_PII) and not readable_staff:
        changes = mask_personal_changes(changes)
    item.changes = changes
    return item


def list_audit(
    session: Session,
    actor: Actor,
    *,
    action: str | None,
    actor_id: uuid.UUID | None,
    target_type: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditRecord], bool]:
    actor.require(Perm.AUDIT_READ)
    stmt = select(AuditRecord)
    if action:
        # A trailing '.' lists a whole family, e.g. 'conversation.'.
        stmt = stmt.where(
            AuditRecord.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditRecord.action == action
        )
    if actor_id:
        stmt = stmt.where(AuditRecord.actor_id == actor_id)
    if target_type:
        stmt = stmt.where(AuditRecord.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditRecord.target_id == target_id)
    if since:
        stmt = stmt.where(AuditRecord.created_at >= since)
    if until:
        stmt = stmt.where(AuditRecord.created_at < until)
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                AuditRecord.created_at < created,
                (AuditRecord.created_at == created) & (AuditRecord.id < row_id),
            )
        )
    rows = list(session.scalars(stmt.order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
