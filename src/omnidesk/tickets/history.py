"""Change history as data: one row per changed field, naming the actor and, for automations, the rule."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from omnidesk.compliance.audit import _jsonable
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.tickets.models import Ticket, TicketChange


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
) -> TicketChange:
    change = TicketChange(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        actor_type="automation" if rule_id else actor.kind.value,
        actor_id=actor.id,
        rule_id=rule_id,
        field=field,
        old=_jsonable(old),
        new=_jsonable(new),
        note=note[:500],
        created_at=utcnow(),
    )
    session.add(change)
    return change
