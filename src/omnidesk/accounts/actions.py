"""Actions of the accounts slice: the only code that changes tenants, staff, teams and keys.

Each ``do_*`` trusts that its caller has authorized; each public function without the prefix authorizes first.
All write their audit record in the caller's transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnidesk.accounts import queries, sockets
from omnidesk.accounts.models import ApiKey, PlatformApiKey, StaffSession, StaffUser, Team, TeamMember, Tenant
from omnidesk.accounts.schemas import (
    ApiKeyCreate,
    StaffCreate,
    StaffUpdate,
    TeamCreate,
    TeamUpdate,
    TenantCreate,
)
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import (
    ApiKeyAdded,
    ApiKeyRevoked,
    StaffAdded,
    StaffUpdated,
    TeamAdded,
    TeamRemoved,
    TeamUpdated,
)
from omnidesk.security import passwords, tokens
from omnidesk.security.permissions import Perm, Role


def create_tenant(session: Session, data: TenantCreate) -> tuple[Tenant, StaffUser, str]:
    """Create a tenant and its first admin; return the admin's one-time password. Platform session only."""
    if session.scalar(select(Tenant.id).where(Tenant.slug == data.slug)) is not None:
        raise Conflict(f"a tenant with the slug '{data.slug}' already exists")
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=data.slug,
        name=data.name,
        default_language=data.default_language,
        time_zone=data.time_zone,
    )
    session.add(tenant)
    session.flush()
    password = passwords.generate_password()
    # The platform session is unscoped, so the new tenant's rows are written with explicit tenant ids.
    admin = StaffUser(
        tenant_id=tenant.id,
        email=data.admin_email,
        display_name=data.admin_email.split("@")[0],
        role=Role.ADMIN.value,
        language=data.default_language,
        password_hash=passwords.hash_password(password),
        must_change_password=True,  # the printed password is one-time: its first sign-in must replace it
    )
    session.add(admin)
    session.flush()
    actor = system_actor(tenant.id)
    audit.record(session, actor, "tenant.create", "tenant", tenant.id, {"slug": data.slug, "name": data.name})
    audit.record(session, actor, "staff.create", "staff", admin.id, {"email": admin.email, "role": admin.role})
    return tenant, admin, password


def create_platform_key(session: Session, name: str) -> str:
    full, prefix, secret_digest = tokens.new_api_key(tokens.PLATFORM_PREFIX)
    session.add(PlatformApiKey(name=name, prefix=prefix, secret_digest=secret_digest))
    return full


def create_staff(session: Session, actor: Actor, data: StaffCreate) -> tuple[StaffUser, str | None]:
    actor.require(Perm.STAFF_MANAGE)
    return do_create_staff(session, actor, data)


def do_create_staff(session: Session, actor: Actor, data: StaffCreate) -> tuple[StaffUser, str | None]:
    one_time: str | None = None
    password = data.password
    if password is None:
        one_time = password = passwords.generate_password()
    else:
        passwords.check_password_policy(password, email=data.email)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == data.email)) is not None:
        raise Conflict(f"a staff user with the e-mail {data.email} already exists in this tenant")
    user = StaffUser(
        tenant_id=actor.tenant_id,
        email=data.email,
        display_name=data.display_name,
        role=data.role.value,
        language=data.language,
        password_hash=passwords.hash_password(password),
        max_concurrent=data.max_concurrent,
        must_change_password=one_time is not None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "staff.create",
        "staff",
        user.id,
        {"email": user.email, "role": user.role, "display_name": user.display_name},
    )
    publish_on_commit(session, StaffAdded(tenant_id=actor.tenant_id, user_id=user.id))
    return user, one_time


_STAFF_WRITABLE = ("display_name", "role", "language", "is_active", "max_concurrent")


def update_staff(session: Session, actor: Actor, user_id: uuid.UUID, data: StaffUpdate) -> StaffUser:
    actor.require(Perm.STAFF_MANAGE)
    user = queries.get_staff(session, user_id)
    changes = data.model_dump(exclude_unset=True)
    if "role" in changes and changes["role"] is not None:
        changes["role"] = changes["role"].value
    if user.id == actor.id and (changes.get("is_active") is False or changes.get("role", user.role) != user.role):
        raise InvalidInput("you cannot deactivate yourself or change your own role; ask another admin")
    before = {k: getattr(user, k) for k in _STAFF_WRITABLE}
    for name in _STAFF_WRITABLE:
        if name in changes and changes[name] is not None:
            setattr(user, name, changes[name])
    if changes.get("is_active") is False:
        _end_sessions(session, user.id)
    if (before["is_active"] and not user.is_active) or before["role"] != user.role:
        sockets.revoke_all(session, user)
    after = {k: getattr(user, k) for k in _STAFF_WRITABLE}
    audit.record(session, actor, "staff.update", "staff", user.id, audit.diff(before, after))
    publish_on_commit(session, StaffUpdated(tenant_id=actor.tenant_id, user_id=user.id))
    return user


def _unique(values: list[str]) -> list[str]:
    """Skills as typed, without blanks or repeats (case-insensitive), in their first order."""
    seen: set[str] = set()
    out = []
    for value in values:
        value = value.strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def set_staff_skills(session: Session, actor: Actor, user_id: uuid.UUID, skills: list[str]) -> StaffUser:
    """Replace a person's own skills (what routing and supervisors read beside their teams' skills). Team
    managers (supervisors) may, like team membership: it says what work suits a person, not what they may see."""
    actor.require(Perm.TEAMS_MANAGE)
    user = queries.get_staff(session, user_id)
    before = list(user.skills or [])
    after = _unique(skills)
    if after != before:
        user.skills = after
        audit.record(session, actor, "staff.skills", "staff", user.id, {"skills": [before, after]})
        publish_on_commit(session, StaffUpdated(tenant_id=actor.tenant_id, user_id=user.id))
    return user


def _end_sessions(session: Session, user_id: uuid.UUID) -> None:
    now = utcnow()
    for staff_session in session.scalars(
        select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
    ):
        staff_session.revoked_at = now


def end_sessions_of(session: Session, actor: Actor, user_id: uuid.UUID) -> None:
    """An admin signs a user out everywhere (ASVS 7.4.5)."""
    actor.require(Perm.STAFF_MANAGE)
    user = queries.get_staff(session, user_id)
    _end_sessions(session, user.id)
    sockets.revoke_all(session, user)
    audit.record(session, actor, "staff.sessions_ended", "staff", user.id)
    publish_on_commit(session, StaffUpdated(tenant_id=actor.tenant_id, user_id=user.id))


def end_session_of(session: Session, actor: Actor, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """An admin ends one browser session of a person (a lost laptop), and the sockets it opened."""
    actor.require(Perm.STAFF_MANAGE)
    user = queries.get_staff(session, user_id)
    staff_session = session.scalar(
        select(StaffSession).where(StaffSession.id == session_id, StaffSession.user_id == user.id)
    )
    if staff_session is None:
        raise NotFound("no session with this id for this person")
    if staff_session.revoked_at is None:
        staff_session.revoked_at = utcnow()
        sockets.revoke_sessions(session, actor.tenant_id, user.id, [staff_session.id])
        audit.record(session, actor, "staff.session_ended", "staff", user.id, {"session_id": str(staff_session.id)})
        publish_on_commit(session, StaffUpdated(tenant_id=actor.tenant_id, user_id=user.id))


def create_team(session: Session, actor: Actor, data: TeamCreate) -> Team:
    actor.require(Perm.TEAMS_MANAGE)
    if session.scalar(select(Team.id).where(Team.name == data.name)) is not None:
        raise Conflict(f"a team named '{data.name}' already exists")
    team = Team(tenant_id=actor.tenant_id, name=data.name, description=data.description, skills=list(data.skills))
    session.add(team)
    session.flush()
    audit.record(session, actor, "team.create", "team", team.id, {"name": team.name})
    publish_on_commit(session, TeamAdded(tenant_id=actor.tenant_id, team_id=team.id))
    return team


def update_team(session: Session, actor: Actor, team_id: uuid.UUID, data: TeamUpdate) -> Team:
    actor.require(Perm.TEAMS_MANAGE)
    team = queries.get_team(session, team_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if (
        "name" in changes
        and changes["name"] != team.name
        and session.scalar(select(Team.id).where(Team.name == changes["name"])) is not None
    ):
        raise Conflict(f"a team named '{changes['name']}' already exists")
    before = {"name": team.name, "description": team.description, "skills": list(team.skills)}
    for name, value in changes.items():
        setattr(team, name, list(value) if name == "skills" else value)
    after = {"name": team.name, "description": team.description, "skills": list(team.skills)}
    audit.record(session, actor, "team.update", "team", team.id, audit.diff(before, after))
    publish_on_commit(session, TeamUpdated(tenant_id=actor.tenant_id, team_id=team.id))
    return team


def delete_team(session: Session, actor: Actor, team_id: uuid.UUID) -> None:
    """Delete a team. Its conversations, tickets and queue entries keep going without a team (the foreign keys
    set NULL); its members' sockets close, since what they may see narrows."""
    actor.require(Perm.TEAMS_MANAGE)
    team = queries.get_team(session, team_id)
    member_ids = queries.team_members(session, [team.id])[team.id]
    for user in session.scalars(select(StaffUser).where(StaffUser.id.in_(member_ids))) if member_ids else ():
        sockets.revoke_all(session, user)
    audit.record(
        session, actor, "team.delete", "team", team.id, {"name": team.name, "members": [str(u) for u in member_ids]}
    )
    session.delete(team)
    session.flush()
    publish_on_commit(session, TeamRemoved(tenant_id=actor.tenant_id, team_id=team_id))


def set_staff_teams(session: Session, actor: Actor, user_id: uuid.UUID, team_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Make ``team_ids`` the person's teams: joins and leaves go through the member actions (audit, events,
    sockets). Every id must be a team of the tenant (404 otherwise, and nothing changes). Returns the teams."""
    actor.require(Perm.TEAMS_MANAGE)
    user = queries.get_staff(session, user_id)
    wanted = list(dict.fromkeys(team_ids))
    for team_id in wanted:
        queries.get_team(session, team_id)
    current = queries.teams_of(session, user.id)
    for team_id in wanted:
        if team_id not in current:
            add_team_member(session, actor, team_id, user.id)
    for team_id in current - set(wanted):
        remove_team_member(session, actor, team_id, user.id)
    return wanted


def add_team_member(session: Session, actor: Actor, team_id: uuid.UUID, user_id: uuid.UUID) -> Team:
    actor.require(Perm.TEAMS_MANAGE)
    team = queries.get_team(session, team_id)
    user = queries.get_staff(session, user_id)
    exists = session.scalar(select(TeamMember.id).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id))
    if exists is None:
        session.add(TeamMember(tenant_id=actor.tenant_id, team_id=team.id, user_id=user.id))
        audit.record(session, actor, "team.member_add", "team", team.id, {"user_id": str(user.id)})
        publish_on_commit(session, TeamUpdated(tenant_id=actor.tenant_id, team_id=team.id))
    return team


def remove_team_member(session: Session, actor: Actor, team_id: uuid.UUID, user_id: uuid.UUID) -> Team:
    actor.require(Perm.TEAMS_MANAGE)
    team = queries.get_team(session, team_id)
    member = session.scalar(select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user_id))
    if member is None:
        queries.get_staff(session, user_id)  # 404 for an unknown user rather than a silent no-op
        raise InvalidInput("that user is not a member of this team")
    session.delete(member)
    # Leaving a team narrows what the person may see: their open sockets still carry the team, so they close.
    sockets.revoke_all(session, queries.get_staff(session, user_id))
    audit.record(session, actor, "team.member_remove", "team", team.id, {"user_id": str(user_id)})
    publish_on_commit(session, TeamUpdated(tenant_id=actor.tenant_id, team_id=team.id))
    return team


def create_api_key(session: Session, actor: Actor, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    actor.require(Perm.API_KEYS_MANAGE)
    return do_create_api_key(session, actor, data)


def do_create_api_key(session: Session, actor: Actor, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone, e.g. 2027-01-01T00:00:00Z")
        if data.expires_at <= utcnow():
            raise InvalidInput("expires_at must be in the future")
    full, prefix, secret_digest = tokens.new_api_key()
    key = ApiKey(
        tenant_id=actor.tenant_id,
        name=data.name,
        prefix=prefix,
        secret_digest=secret_digest,
        role=data.role.value,
        created_by=actor.staff_id,
        expires_at=data.expires_at,
    )
    session.add(key)
    try:
        session.flush()
    except IntegrityError as exc:  # a 48-bit prefix collision: vanishingly rare, but never a 500
        raise Conflict("could not allocate a key; try again") from exc
    audit.record(session, actor, "api_key.create", "api_key", key.id, {"name": key.name, "role": key.role})
    publish_on_commit(session, ApiKeyAdded(tenant_id=actor.tenant_id, key_id=key.id))
    return key, full


def revoke_api_key(session: Session, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    actor.require(Perm.API_KEYS_MANAGE)
    key = queries.get_api_key(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, actor, "api_key.revoke", "api_key", key.id, {"name": key.name})
        publish_on_commit(session, ApiKeyRevoked(tenant_id=actor.tenant_id, key_id=key.id))
    return key
