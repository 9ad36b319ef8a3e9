"""Change history as data: one row per changed field, naming the actor and, for automations, the rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from omnidesk.compliance.audit import _jsonable
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.tickets.models import Ticket, TicketChange

_BULK = "omnidesk_ticket_changes_bulk"
_TABLE: Table = TicketChange.__table__  # type: ignore[assignment]


@contextmanager
def in_bulk(session: Session) -> Iterator[None]:
    """Within the block, change rows are kept as plain rows and inserted together when it ends, in one executemany
    (multi-row INSERTs) instead of an ORM object each: the reconciler records thousands a tick. Rows recorded inside
    a savepoint still go through the session, so a rolled-back savepoint (a skipped automation action) drops them.
    Nothing in the block reads the change rows back, so holding them until the end changes nothing visible."""
    pending: list[dict[str, Any]] = []
    session.info[_BULK] = pending
    try:
        yield
    finally:
        session.info.pop(_BULK, None)
    if pending:
        session.connection().execute(_TABLE.insert(), pending)


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
    pending: list[dict[str, Any]] | None = session.info.get(_BULK)
    if pending is not None and not session.in_nested_transaction():
        pending.append({"id": uuid.uuid4(), **values})
        return
    session.add(TicketChange(**values))
