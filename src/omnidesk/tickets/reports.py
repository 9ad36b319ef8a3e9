"""Ticket reports: % SLA met, the supervisor board, and process mining (paths, bounce-backs, time per stage).

Aggregations run in the database (GROUP BY) where they can; process mining reads the status/team change rows of
a bounded window of tickets (``limit``) so a report can never load the whole history.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.security.permissions import Perm
from omnidesk.tickets import queries
from omnidesk.tickets.models import SlaClock, Survey, Ticket, TicketChange


def sla_met(session: Session, actor: Actor, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per metric and team: finished clocks, how many met their target, and the percentage."""
    queries.require_perm(session, actor, Perm.TICKETS_REPORTS)
    stmt = (
        select(
            SlaClock.metric,
            Ticket.team_id,
            func.count(SlaClock.id),
            func.sum(case((SlaClock.met.is_(True), 1), else_=0)),
        )
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(SlaClock.stopped_at.is_not(None))
        .group_by(SlaClock.metric, Ticket.team_id)
    )
    if since is not None:
        stmt = stmt.where(SlaClock.stopped_at >= since)
    out = []
    for metric, team_id, total, met in session.execute(stmt):
        out.append(
            {
                "metric": metric,
                "team_id": str(team_id) if team_id else None,
                "total": total,
                "met": int(met or 0),
                "percent": round(100 * int(met or 0) / total, 1) if total else None,
            }
        )
    return sorted(out, key=lambda r: (r["metric"], r["team_id"] or ""))


def board(session: Session, actor: Actor) -> dict[str, Any]:
    """Open tickets counted by team and status, with escalated counts: the supervisor's board."""
    queries.require_perm(session, actor, Perm.TICKETS_REPORTS)
    rows = session.execute(
        select(Ticket.team_id, Ticket.status, func.count(), func.sum(case((Ticket.escalated.is_(True), 1), else_=0)))
        .where(Ticket.deleted_at.is_(None), Ticket.status != "closed")
        .group_by(Ticket.team_id, Ticket.status)
    ).all()
    cells: dict[str, dict[str, int]] = defaultdict(dict)
    escalated: Counter[str] = Counter()
    for team_id, status, count, esc in rows:
        key = str(team_id) if team_id else "none"
        cells[key][status] = count
        escalated[key] += int(esc or 0)
    return {"cells": dict(cells), "escalated": dict(escalated)}


def process(session: Session, actor: Actor, *, limit: int = 5000) -> dict[str, Any]:
    """The paths tickets really took (status sequences), bounce-backs between teams, and mean hours per stage."""
    queries.require_perm(session, actor, Perm.TICKETS_REPORTS)
    ids = list(session.scalars(select(Ticket.id).order_by(Ticket.created_at.desc()).limit(limit)))
    steps: dict[uuid.UUID, list[TicketChange]] = defaultdict(list)
    for ch in queries.history(session, ids):
        if ch.field in ("status", "team_id", "created"):
            steps[ch.ticket_id].append(ch)
    paths: Counter[str] = Counter()
    bounces: Counter[str] = Counter()
    stage_time: dict[str, list[float]] = defaultdict(list)
    for changes in steps.values():
        path: list[str] = []
        teams: list[str] = []
        last_status, last_at = None, None
        for ch in changes:
            if ch.field in ("created", "status"):
                status = ch.new if ch.field == "status" else "new"
                if last_status is not None and last_at is not None:
                    stage_time[last_status].append((ch.created_at - last_at).total_seconds() / 3600)
                last_status, last_at = status, ch.created_at
                path.append(str(status))
            else:
                if ch.old and not teams:
                    teams.append(str(ch.old))
                teams.append(str(ch.new))
        paths[" → ".join(path)] += 1
        for i in range(2, len(teams)):
            if teams[i] == teams[i - 2] and teams[i] != teams[i - 1]:
                bounces[f"{teams[i - 1]} ⇄ {teams[i]}"] += 1
    return {
        "tickets": len(ids),
        "paths": [{"path": p, "count": c} for p, c in paths.most_common(20)],
        "bounces": [{"teams": t, "count": c} for t, c in bounces.most_common(20)],
        "hours_per_stage": {s: round(sum(v) / len(v), 2) for s, v in sorted(stage_time.items())},
    }


def csat(session: Session, actor: Actor) -> dict[str, Any]:
    """Surveys sent and answered and the mean score (1 … 5), overall and per team."""
    queries.require_perm(session, actor, Perm.TICKETS_REPORTS)
    rows = session.execute(
        select(Ticket.team_id, func.count(Survey.id), func.count(Survey.score), func.avg(Survey.score))
        .join(Ticket, Ticket.id == Survey.ticket_id)
        .group_by(Ticket.team_id)
    ).all()
    teams = [
        {
            "team_id": str(t) if t else None,
            "sent": sent,
            "answered": answered,
            "mean_score": round(float(mean), 2) if mean is not None else None,
        }
        for t, sent, answered, mean in rows
    ]
    sent = sum(r["sent"] for r in teams)
    answered = sum(r["answered"] for r in teams)
    total = sum((r["mean_score"] or 0) * r["answered"] for r in teams)
    return {
        "sent": sent,
        "answered": answered,
        "mean_score": round(total / answered, 2) if answered else None,
        "teams": teams,
    }
