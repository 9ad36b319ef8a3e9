"""Authentication: API keys, staff log-in with lock-out, and server-side browser sessions.

Lookups here run before the tenant is known, so they use an explicit platform session and return an
:class:`Actor` bound to the credential's tenant; everything after that is tenant-scoped.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from omnidesk.accounts import queries
from omnidesk.accounts.actions import mark_key_used
from omnidesk.accounts.models import ApiKey, PlatformApiKey, StaffSession, StaffUser, Tenant
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor, ActorKind
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import Unauthenticated
from omnidesk.core.settings import Settings
from omnidesk.security import passwords, tokens
from omnidesk.security.permissions import Role

log = logging.getLogger("omnidesk.auth")

_BAD_KEY = "the API key is missing, malformed, expired or revoked"
_BAD_LOGIN = "wrong workspace, e-mail or password, or the account is locked; try again later"


@dataclass(frozen=True)
class PlatformActor:
    key_id: uuid.UUID


def authenticate_api_key(db: Database, raw: str, *, ip: str | None = None, request_id: str | None = None) -> Actor:
    parts = tokens.split_api_key(raw)
    if parts is None or parts[0] != tokens.KEY_PREFIX:
        raise Unauthenticated(_BAD_KEY)
    _, prefix, secret = parts
    now = utcnow()
    with db.platform_transaction() as s:
        row = s.execute(
            select(ApiKey, Tenant.is_active).join(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.prefix == prefix)
        ).first()
        if row is None:
            raise Unauthenticated(_BAD_KEY)
        key, tenant_active = row
        if (
            not tokens.matches(secret, key.secret_digest)
            or key.revoked_at is not None
            or (key.expires_at is not None and key.expires_at <= now)
            or not tenant_active
        ):
            log.info("api key rejected", extra={"key_prefix": prefix, "ip": ip})
            raise Unauthenticated(_BAD_KEY)
        mark_key_used(key, now)
        return Actor(
            tenant_id=key.tenant_id,
            kind=ActorKind.API_KEY,
            id=key.id,
            role=Role(key.role),
            request_id=request_id,
            ip=ip,
        )


def authenticate_platform_key(db: Database, raw: str) -> PlatformActor:
    parts = tokens.split_api_key(raw)
    if parts is None or parts[0] != tokens.PLATFORM_PREFIX:
        raise Unauthenticated("this operation needs a platform key (omnidesk apikey create --platform)")
    with db.platform_transaction() as s:
        key = s.scalar(select(PlatformApiKey).where(PlatformApiKey.prefix == parts[1]))
        if key is None or key.revoked_at is not None or not tokens.matches(parts[2], key.secret_digest):
            raise Unauthenticated("the platform key is missing, malformed or revoked")
        return PlatformActor(key.id)


@dataclass(frozen=True)
class LoginResult:
    token: str
    csrf_token: str
    user_id: uuid.UUID
    tenant_id: uuid.UUID


def login(
    db: Database,
    settings: Settings,
    *,
    tenant_slug: str,
    email: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
) -> LoginResult:
    """Verify a password and open a session. Every failure gives the same message and costs the same time.

    After ``login_max_failures`` consecutive failures the account is locked for ``login_lockout_minutes``; the
    per-IP rate limit (in the HTTP layer) keeps one address from locking out many accounts quickly.
    """
    now = utcnow()
    email = email.strip().lower()
    with db.platform_transaction() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == tenant_slug.strip().lower()))
        user = None
        if tenant is not None and tenant.is_active:
            user = s.scalar(select(StaffUser).where(StaffUser.tenant_id == tenant.id, StaffUser.email == email))
        ok = passwords.verify_password(user.password_hash if user else None, password)
        if user is None or tenant is None:
            log.info("login failed: unknown account", extra={"ip": ip})
            raise Unauthenticated(_BAD_LOGIN)
        actor = Actor(tenant_id=tenant.id, kind=ActorKind.STAFF, id=user.id, role=Role(user.role), ip=ip)
        locked = user.locked_until is not None and user.locked_until > now
        if locked or not ok or not user.is_active:
            # Record the failure and commit it (leaving the block normally), then refuse.
            if not locked and not ok:
                user.failed_logins += 1
                if user.failed_logins >= settings.login_max_failures:
                    user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
                    user.failed_logins = 0
                    audit.record(
                        s, actor, "staff.locked", "staff", user.id, {"minutes": settings.login_lockout_minutes}
                    )
            audit.record(s, actor, "auth.login_failed", "staff", user.id, {"locked": locked})
            log.info("login failed", extra={"user_id": str(user.id), "ip": ip, "locked": locked})
            result = None
        else:
            user.failed_logins = 0
            user.locked_until = None
            if passwords.needs_rehash(user.password_hash or ""):
                user.password_hash = passwords.hash_password(password)
            token = tokens.new_session_token()
            csrf = tokens.new_csrf_token()
            s.add(
                StaffSession(
                    tenant_id=tenant.id,
                    token_digest=tokens.digest(token),
                    csrf_token=csrf,
                    user_id=user.id,
                    expires_at=now + timedelta(hours=settings.session_absolute_hours),
                    ip=ip[:64],
                    user_agent=user_agent[:300],
                )
            )
            audit.record(s, actor, "auth.login", "staff", user.id)
            log.info("login", extra={"user_id": str(user.id), "ip": ip})
            result = LoginResult(token=token, csrf_token=csrf, user_id=user.id, tenant_id=tenant.id)
    if result is None:
        raise Unauthenticated(_BAD_LOGIN)
    return result


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    user: StaffUser
    tenant: Tenant


def resolve_session(
    db: Database, settings: Settings, token: str, *, ip: str | None = None, request_id: str | None = None
) -> SessionInfo:
    """Find a live session for a cookie token; enforce idle and absolute time-outs server-side."""
    now = utcnow()
    with db.platform_transaction() as s:
        row = s.execute(
            select(StaffSession, StaffUser, Tenant)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .join(Tenant, Tenant.id == StaffSession.tenant_id)
            .where(StaffSession.token_digest == tokens.digest(token))
        ).first()
        if row is None:
            raise Unauthenticated("please sign in")
        staff_session, user, tenant = row
        idle = timedelta(minutes=settings.session_idle_minutes)
        if (
            staff_session.revoked_at is not None
            or staff_session.expires_at <= now
            or staff_session.last_seen_at + idle <= now
            or not user.is_active
            or not tenant.is_active
        ):
            raise Unauthenticated("your session has ended; please sign in again")
        if (now - staff_session.last_seen_at).total_seconds() > 30:
            staff_session.last_seen_at = now
        team_ids = queries.teams_of(s, user.id)
        actor = Actor(
            tenant_id=tenant.id,
            kind=ActorKind.STAFF,
            id=user.id,
            role=Role(user.role),
            team_ids=team_ids,
            ip=ip,
            request_id=request_id,
            language=user.language,
        )
        return SessionInfo(actor=actor, csrf_token=staff_session.csrf_token, user=user, tenant=tenant)


def logout(db: Database, token: str) -> None:
    with db.platform_transaction() as s:
        staff_session = s.scalar(select(StaffSession).where(StaffSession.token_digest == tokens.digest(token)))
        if staff_session is not None and staff_session.revoked_at is None:
            staff_session.revoked_at = utcnow()
            actor = Actor(
                tenant_id=staff_session.tenant_id,
                kind=ActorKind.STAFF,
                id=staff_session.user_id,
                role=Role.AGENT,
            )
            audit.record(s, actor, "auth.logout", "staff", staff_session.user_id)
