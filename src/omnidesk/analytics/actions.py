"""The analytics slice's only writes besides the rollup: the tenant's analytics settings and agents' goals, each
authorized (supervisors and admins: ``tickets.reports``) and audited in the caller's transaction."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.analytics.models import AnalyticsSettings, Goal
from omnidesk.analytics.rollup import settings_of
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import InvalidInput, NotFound
from omnidesk.security.permissions import Perm

#: Metrics an agent's goal may name (counted per agent per day in the facts).
GOAL_METRICS = ("conversations", "resolved", "fcr", "csat_satisfied")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

_LIMITS = {"fcr_hours": (1, 720), "service_level_seconds": (1, 3600), "service_level_target": (1, 100),
           "alert_waiting": (1, 100000), "alert_wait_seconds": (1, 86400)}  # fmt: skip


def update_settings(session: Session, actor: Actor, values: dict[str, int | bool]) -> AnalyticsSettings:
    """Change the tenant's analytics settings; every value is checked before anything is written."""
    actor.require(Perm.TICKETS_REPORTS)
    for key, value in values.items():
        if key == "ranking_enabled":
            if not isinstance(value, bool):
                raise InvalidInput("ranking_enabled must be true or false")
            continue
        if key not in _LIMITS:
            raise InvalidInput(f"unknown setting {key}")
        low, high = _LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"{key} must be a whole number from {low} to {high}")
    row = session.scalar(select(AnalyticsSettings).where(AnalyticsSettings.tenant_id == actor.tenant_id))
    if row is None:
        row = settings_of(session, actor.tenant_id)
        session.add(row)
        session.flush()
    before = {k: getattr(row, k) for k in values}
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    # A changed FCR window or service-level target changes past figures: recompute everything on the next run.
    if any(k in values and before[k] != values[k] for k in ("fcr_hours", "service_level_seconds")):
        row.watermark = None
    session.flush()
    audit.record(session, actor, "analytics.settings_update", "analytics_settings", row.id, audit.diff(before, values))
    return row


def set_goal(session: Session, actor: Actor, staff_id: uuid.UUID, metric: str, month: str, target: float) -> Goal:
    """Set (or replace) one agent's monthly goal for one metric."""
    actor.require(Perm.TICKETS_REPORTS)
    if metric not in GOAL_METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(GOAL_METRICS)}")
    if not _MONTH.match(month):
        raise InvalidInput("month must be YYYY-MM")
    if not 0 < target <= 1_000_000:
        raise InvalidInput("target must be a positive number")
    staff = session.scalar(select(StaffUser).where(StaffUser.tenant_id == actor.tenant_id, StaffUser.id == staff_id))
    if staff is None:
        raise NotFound("staff")
    goal = session.scalar(
        select(Goal).where(Goal.tenant_id == actor.tenant_id, Goal.staff_id == staff_id, Goal.metric == metric,
                           Goal.month == month)
    )  # fmt: skip
    before = {"target": goal.target if goal else None}
    if goal is None:
        goal = Goal(tenant_id=actor.tenant_id, staff_id=staff_id, metric=metric, month=month, target=target)
        session.add(goal)
    goal.target = target
    goal.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "analytics.goal_set", "staff", staff_id,
                 {"metric": metric, "month": month, **audit.diff(before, {"target": target})})  # fmt: skip
    return goal
