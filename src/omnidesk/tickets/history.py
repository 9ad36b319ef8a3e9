"""Change history as data: one row per changed field, naming the actor and, for automations, the rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from omnidesk.compliance import audit as audit_log
from omnidesk.compliance.audit import _jsonable
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.tickets.models import Ticket, TicketChange

_BULK = "omnidesk_ticket_changes_bulk"
_TABLE: Table = TicketChange.__table__  # type: ignore[assignment]
_AUDIT: Table = AuditRecord.__table__  # type: ignore[assignment]


@contextmanager
def in_bulk(session: Session) -> Iterator[None]:
    """Within the block, change rows (and the audit records of automations, :func:`audit`) are kept as plain rows
    and inserted together when it ends, one executemany (multi-row INSERTs) per table instead of an ORM object each:
    the reconciler records thousands a tick. Rows recorded inside a savepoint still go through the session, so a
    rolled-back savepoint (a skipped automation action) drops them. Nothing in the block reads these rows back, so
    holding them until the end changes nothing visible."""
    pending: dict[Table, list[dict[str, Any]]] = {_TABLE: [], _AUDIT: []}
    session.info[_BULK] = pending
    try:
        yield
    finally:
        session.info.pop(_BULK, None)
    for table, rows in pending.items():
        if rows:
            session.connection().execute(table.insert(), rows)


def _pending(session: Session, table: Table) -> list[dict[str, Any]] | None:
    pending: dict[Table, list[dict[str, Any]]] | None = session.info.get(_BULK)
    if pending is None or session.in_nested_transaction():
        return None
    return pending[table]


def audit(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str,
    changes: dict[str, Any] | None = None,
) -> None:
    """``compliance.audit.record``, held for the bulk insert inside :func:`in_bulk`."""
    pending = _pending(session, _AUDIT)
    if pending is None:
        audit_log.record(session, actor, action, target_type, target_id, changes)
        return
    pending.append(
        {"id": uuid.uuid4(), "created_at": utcnow(), **audit_log.values(actor, action, target_type, target_id, changes)}
    )


def record(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    field: str,
    old: Any,
    new: Any,
    *,
    rule_id: uuid.UUID | None = None,
    note: str = "",
) -> None:
    values = {
        "tenant_id": ticket.tenant_id,
        "ticket_id": ticket.id,
        "actor_type": "automation" if rule_id else actor.kind.value,
        "actor_id": actor.id,
        "rule_id": rule_id,
        "field": field,
        "old": _jsonable(old),
        "new": _jsonable(new),
        "note": note[:500],
        "created_at": utcnow(),
    }
    pending = _pending(session, _TABLE)
    if pending is not None:
        pending.append({"id": uuid.uuid4(), **values})
        return
    session.add(TicketChange(**values))
