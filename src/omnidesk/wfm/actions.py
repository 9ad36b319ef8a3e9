"""Workforce actions: publishing a day's roster (the only state the slice changes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.errors import InvalidInput
from omnidesk.security.permissions import Perm
from omnidesk.wfm.models import WfmShift
from omnidesk.wfm.schedule import Shift


def publish_roster(
    session: Session, actor: Actor, day: date, shifts: Sequence[Shift], interval_minutes: int
) -> list[WfmShift]:
    """Replace the published shifts of ``day`` with ``shifts`` (intervals of ``interval_minutes``), audited.
    Every shift must belong to an active staff member of the tenant."""
    actor.require(Perm.ROUTING_SUPERVISE)
    ids = {uuid.UUID(s.agent) for s in shifts}
    known = set(session.scalars(select(StaffUser.id).where(StaffUser.id.in_(ids), StaffUser.is_active.is_(True))))
    if ids - known:
        raise InvalidInput("a shift names someone who is not an active staff member")
    session.execute(delete(WfmShift).where(WfmShift.tenant_id == actor.tenant_id, WfmShift.day == day))
    rows = [
        WfmShift(
            tenant_id=actor.tenant_id,
            staff_id=uuid.UUID(s.agent),
            day=day,
            start_minute=s.start * interval_minutes,
            end_minute=s.end * interval_minutes,
            break_minute=None if s.break_at is None else s.break_at * interval_minutes,
            break_length=0 if s.break_at is None else interval_minutes,
            published_by=actor.id,
        )
        for s in shifts
    ]
    session.add_all(rows)
    audit.record(session, actor, "wfm.roster_published", "wfm_roster", day.isoformat(), {"shifts": len(rows)})
    return rows
