"""HTTP handlers of the accounts slice: parse, one transaction, one action, serialise."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts import actions, credentials, queries
from omnidesk.accounts.models import Team, Tenant
from omnidesk.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    PasswordChange,
    PasswordChanged,
    PasswordResetLink,
    RoleOut,
    SessionsEnded,
    StaffCreate,
    StaffCreated,
    StaffOut,
    StaffSessionOut,
    StaffSkills,
    StaffTeams,
    StaffUpdate,
    TeamCreate,
    TeamMemberAdd,
    TeamOut,
    TeamUpdate,
    TenantCreate,
    TenantCreated,
    TenantOut,
)
from omnidesk.security.permissions import ROLE_PERMISSIONS, Perm
from omnidesk.security.ratelimit import RateLimiter
from omnidesk.web.deps import ActorDep, DbDep, PasswordChangeActorDep, PlatformDep, public_base_url

router = APIRouter()


@router.post("/tenants", status_code=status.HTTP_201_CREATED, tags=["platform"], response_model=TenantCreated)
def create_tenant(data: TenantCreate, db: DbDep, _platform: PlatformDep) -> TenantCreated:
    """Create a tenant and its first admin (platform key only). The admin's password is returned once."""
    with db.platform_transaction() as s:
        tenant, admin, password = actions.create_tenant(s, data)
        out = TenantOut.model_validate(tenant).model_dump()
    return TenantCreated(**out, admin_email=admin.email, admin_password=password)


@router.get("/tenants", tags=["platform"])
def list_tenants(db: DbDep, _platform: PlatformDep) -> list[TenantOut]:
    with db.platform_read() as s:
        return [TenantOut.model_validate(t) for t in s.scalars(select(Tenant).order_by(Tenant.created_at))]


@router.get("/roles", tags=["staff"])
def list_roles(actor: ActorDep) -> list[RoleOut]:
    """The roles and the permissions each grants."""
    actor.require(Perm.STAFF_READ)
    return [RoleOut(name=role, permissions=sorted(p.value for p in perms)) for role, perms in ROLE_PERMISSIONS.items()]


@router.get("/staff", tags=["staff"])
def list_staff(db: DbDep, actor: ActorDep) -> list[StaffOut]:
    actor.require(Perm.STAFF_READ)
    with db.tenant_read(actor.tenant_id) as s:
        return [StaffOut.model_validate(u) for u in queries.list_staff(s)]


@router.post("/staff", status_code=status.HTTP_201_CREATED, tags=["staff"])
def create_staff(data: StaffCreate, db: DbDep, actor: ActorDep) -> StaffCreated:
    with db.tenant_transaction(actor.tenant_id) as s:
        user, one_time = actions.create_staff(s, actor, data)
        return StaffCreated(**StaffOut.model_validate(user).model_dump(), one_time_password=one_time)


@router.get("/staff/{user_id}", tags=["staff"])
def get_staff(user_id: uuid.UUID, db: DbDep, actor: ActorDep) -> StaffOut:
    actor.require(Perm.STAFF_READ)
    with db.tenant_read(actor.tenant_id) as s:
        return StaffOut.model_validate(queries.get_staff(s, user_id))


@router.patch("/staff/{user_id}", tags=["staff"])
def update_staff(user_id: uuid.UUID, data: StaffUpdate, db: DbDep, actor: ActorDep) -> StaffOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return StaffOut.model_validate(actions.update_staff(s, actor, user_id, data))


@router.post("/staff/{user_id}/end-sessions", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def end_sessions(user_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    """Sign the user out of every browser session."""
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.end_sessions_of(s, actor, user_id)


@router.put("/staff/{user_id}/skills", tags=["staff"])
def set_skills(user_id: uuid.UUID, data: StaffSkills, db: DbDep, actor: ActorDep) -> StaffOut:
    """Replace the person's own skills (teams.manage: supervisors too)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return StaffOut.model_validate(actions.set_staff_skills(s, actor, user_id, data.skills))


@router.put("/staff/{user_id}/teams", tags=["staff"])
def set_teams(user_id: uuid.UUID, data: StaffTeams, db: DbDep, actor: ActorDep) -> list[uuid.UUID]:
    """Replace the person's teams (each join and leave audited as on the team)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return actions.set_staff_teams(s, actor, user_id, data.team_ids)


@router.get("/staff/{user_id}/sessions", tags=["staff"])
def list_sessions(user_id: uuid.UUID, db: DbDep, actor: ActorDep) -> list[StaffSessionOut]:
    """The person's live browser sessions, newest activity first (admins)."""
    actor.require(Perm.STAFF_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        user = queries.get_staff(s, user_id)
        return [StaffSessionOut.model_validate(x) for x in queries.live_sessions_of(s, user.id)]


@router.post("/staff/{user_id}/sessions/{session_id}/end", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def end_session(user_id: uuid.UUID, session_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    """End one browser session of the person (and the sockets it opened)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.end_session_of(s, actor, user_id, session_id)


@router.post("/staff/{user_id}/password-reset", status_code=status.HTTP_201_CREATED, tags=["staff"])
def create_password_reset(user_id: uuid.UUID, request: Request, db: DbDep, actor: ActorDep) -> PasswordResetLink:
    """A one-time link (valid 30 minutes, once) to a page where the person sets a new password without signing
    in; the link is in this response only. Using it ends all their sessions. Limited to 5 links per person per
    hour."""
    actor.require(Perm.STAFF_MANAGE)
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(f"pwreset:{actor.tenant_id}:{user_id}", 5, 3600)
    with db.tenant_transaction(actor.tenant_id) as s:
        token, expires_at = credentials.create_reset_link(s, actor, user_id)
    return PasswordResetLink(url=reset_url(request, token), expires_at=expires_at)


def reset_url(request: Request, token: str) -> str:
    base, _ = public_base_url(request)
    return f"{base}/password-reset/{token}"


@router.post("/me/password", tags=["me"])
def change_my_password(
    data: PasswordChange, request: Request, db: DbDep, actor: PasswordChangeActorDep
) -> PasswordChanged:
    """Change the signed-in person's password (also the way out of a one-time password). Their other sessions
    end; this one stays. Ten tries per person per 15 minutes."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(f"pwchange:{actor.tenant_id}:{actor.id}", 10, 900)
    with db.tenant_transaction(actor.tenant_id) as s:
        ended = credentials.change_password(s, actor, data.current_password, data.new_password)
    return PasswordChanged(other_sessions_ended=ended)


@router.post("/me/sessions/end-others", tags=["me"])
def end_my_other_sessions(db: DbDep, actor: ActorDep) -> SessionsEnded:
    """Sign the person out everywhere but here (their other browsers, and the sockets those opened)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        return SessionsEnded(sessions_ended=credentials.end_other_sessions(s, actor))


def _team_out(s: Session, teams: list[Team]) -> list[TeamOut]:
    members = queries.team_members(s, [t.id for t in teams])
    return [TeamOut.model_validate(t).model_copy(update={"member_ids": members.get(t.id, [])}) for t in teams]


@router.get("/teams", tags=["teams"])
def list_teams(db: DbDep, actor: ActorDep) -> list[TeamOut]:
    actor.require(Perm.TEAMS_READ)
    with db.tenant_read(actor.tenant_id) as s:
        return _team_out(s, list(queries.list_teams(s)))


@router.post("/teams", status_code=status.HTTP_201_CREATED, tags=["teams"])
def create_team(data: TeamCreate, db: DbDep, actor: ActorDep) -> TeamOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return _team_out(s, [actions.create_team(s, actor, data)])[0]


@router.get("/teams/{team_id}", tags=["teams"])
def get_team(team_id: uuid.UUID, db: DbDep, actor: ActorDep) -> TeamOut:
    actor.require(Perm.TEAMS_READ)
    with db.tenant_read(actor.tenant_id) as s:
        return _team_out(s, [queries.get_team(s, team_id)])[0]


@router.patch("/teams/{team_id}", tags=["teams"])
def update_team(team_id: uuid.UUID, data: TeamUpdate, db: DbDep, actor: ActorDep) -> TeamOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return _team_out(s, [actions.update_team(s, actor, team_id, data)])[0]


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def delete_team(team_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    """Delete a team; its conversations and tickets stay, without a team."""
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.delete_team(s, actor, team_id)


@router.post("/teams/{team_id}/members", tags=["teams"])
def add_team_member(team_id: uuid.UUID, data: TeamMemberAdd, db: DbDep, actor: ActorDep) -> TeamOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        team = actions.add_team_member(s, actor, team_id, data.user_id)
        s.flush()
        return _team_out(s, [team])[0]


@router.delete("/teams/{team_id}/members/{user_id}", tags=["teams"])
def remove_team_member(team_id: uuid.UUID, user_id: uuid.UUID, db: DbDep, actor: ActorDep) -> TeamOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        team = actions.remove_team_member(s, actor, team_id, user_id)
        s.flush()
        return _team_out(s, [team])[0]


@router.get("/api-keys", tags=["api keys"])
def list_api_keys(db: DbDep, actor: ActorDep) -> list[ApiKeyOut]:
    actor.require(Perm.API_KEYS_MANAGE)
    with db.tenant_read(actor.tenant_id) as s:
        return [ApiKeyOut.model_validate(k) for k in queries.list_api_keys(s)]


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, tags=["api keys"])
def create_api_key(data: ApiKeyCreate, db: DbDep, actor: ActorDep) -> ApiKeyCreated:
    """Create a key with one role. The secret is in the response once and is never shown again."""
    with db.tenant_transaction(actor.tenant_id) as s:
        key, full = actions.create_api_key(s, actor, data)
        return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=full)


@router.post("/api-keys/{key_id}/revoke", tags=["api keys"])
def revoke_api_key(key_id: uuid.UUID, db: DbDep, actor: ActorDep) -> ApiKeyOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return ApiKeyOut.model_validate(actions.revoke_api_key(s, actor, key_id))
