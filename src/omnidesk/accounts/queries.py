"""Read helpers of the accounts slice. ``get_*`` raise NotFound, never return another tenant's rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import ApiKey, StaffSession, StaffUser, Team, TeamMember
from omnidesk.core.db import utcnow
from omnidesk.core.errors import NotFound


def get_staff(session: Session, user_id: uuid.UUID) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.id == user_id))
    if user is None:
        raise NotFound("no staff user with this id")
    return user


def get_team(session: Session, team_id: uuid.UUID) -> Team:
    team = session.scalar(select(Team).where(Team.id == team_id))
    if team is None:
        raise NotFound("no team with this id")
    return team


def get_api_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if key is None:
        raise NotFound("no API key with this id")
    return key


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.created_at, StaffUser.id)))


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def team_members(session: Session, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {t: [] for t in team_ids}
    if not team_ids:
        return out
    for team_id, user_id in session.execute(
        select(TeamMember.team_id, TeamMember.user_id).where(TeamMember.team_id.in_(team_ids))
    ):
        out[team_id].append(user_id)
    return out


def teams_of(session: Session, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    return frozenset(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id)))


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


def teams_by_member(session: Session) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Every person's team ids, in one query (the staff console's user list)."""
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        out.setdefault(user_id, []).append(team_id)
    return out


def last_sign_ins(session: Session) -> dict[uuid.UUID, datetime]:
    """When each person last signed in: the start of their newest browser session (kept while sessions are)."""
    rows = session.execute(
        select(StaffSession.user_id, func.max(StaffSession.created_at)).group_by(StaffSession.user_id)
    )
    return {user_id: at for user_id, at in rows if at is not None}


def live_sessions_of(session: Session, user_id: uuid.UUID) -> list[StaffSession]:
    """The person's sessions that still let a browser in (neither ended nor expired), newest first."""
    return list(
        session.scalars(
            select(StaffSession)
            .where(
                StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None), StaffSession.expires_at > utcnow()
            )
            .order_by(StaffSession.last_seen_at.desc())
        )
    )
