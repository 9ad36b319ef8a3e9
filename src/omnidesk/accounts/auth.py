"""Authentication: API keys, staff log-in with progressive delays, and server-side browser sessions.

Lookups here run before the tenant is known, so they use an explicit platform session and return an
:class:`Actor` bound to the credential's tenant; everything after that is tenant-scoped.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from omnidesk.accounts import queries, sockets
from omnidesk.accounts.models import ApiKey, PlatformApiKey, StaffSession, StaffUser, Tenant
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor, ActorKind
from omnidesk.core.db import Database, utcnow
from omnidesk.core.errors import Conflict, DomainError, PasswordChangeRequired, RateLimited, Unauthenticated
from omnidesk.core.settings import Settings
from omnidesk.security import passwords, tokens
from omnidesk.security.permissions import Role
from omnidesk.security.throttle import LoginThrottle, Policy

log = logging.getLogger("omnidesk.auth")

_BAD_KEY = "the API key is missing, malformed, expired or revoked"
_BAD_LOGIN = "wrong workspace, e-mail or password"
_THROTTLED = "too many failed sign-ins for this account from devices it has not used; wait and try again"


@dataclass(frozen=True)
class PlatformActor:
    key_id: uuid.UUID


def authenticate_api_key(db: Database, raw: str, *, ip: str | None = None, request_id: str | None = None) -> Actor:
    parts = tokens.split_api_key(raw)
    if parts is None or parts[0] != tokens.KEY_PREFIX:
        raise Unauthenticated(_BAD_KEY)
    _, prefix, secret = parts
    now = utcnow()
    with db.platform_read() as s:
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
        stale = key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60
        actor = Actor(
            tenant_id=key.tenant_id,
            kind=ActorKind.API_KEY,
            id=key.id,
            role=Role(key.role),
            request_id=request_id,
            ip=ip,
        )
    if stale:
        # Written at most once a minute, in its own short transaction, so reads do not turn into writes.
        with db.platform_transaction() as s:
            s.execute(update(ApiKey).where(ApiKey.id == actor.id).values(last_used_at=now))
    return actor


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
    must_change_password: bool = False


def login_policy(settings: Settings) -> Policy:
    return Policy(
        free_failures=settings.login_max_failures,
        first_delay_seconds=settings.login_delay_seconds,
        max_delay_seconds=settings.login_lockout_minutes * 60,
    )


def login(
    db: Database,
    settings: Settings,
    *,
    tenant_slug: str,
    email: str,
    password: str,
    throttle: LoginThrottle,
    known_accounts: frozenset[uuid.UUID] = frozenset(),
    ip: str = "",
    user_agent: str = "",
) -> LoginResult:
    """Verify a password and open a session. Every failure gives the same message and costs the same time.

    Failures are counted per workspace and e-mail (``tenant_slug:email``; the same address in another workspace is
    another account). After ``login_max_failures`` of them, attempts from devices the account never signed in on
    are refused with :class:`RateLimited` for a delay that doubles with every further attempt (up to
    ``login_lockout_minutes``) without the password even being checked. A device in ``known_accounts`` (the signed
    device cookie) skips the delay, so nobody can lock the owner out by failing on purpose. Unknown accounts are
    throttled exactly like known ones, so the answers reveal nothing about which accounts exist.
    """
    now = utcnow()
    email = email.strip().lower()
    slug = tenant_slug.strip().lower()
    key = f"{slug}:{email}"
    policy = login_policy(settings)
    error: DomainError | None = None
    result: LoginResult | None = None
    with db.platform_transaction() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == slug))
        user = None
        if tenant is not None and tenant.is_active:
            user = s.scalar(select(StaffUser).where(StaffUser.tenant_id == tenant.id, StaffUser.email == email))
        known_device = user is not None and user.id in known_accounts
        actor = (
            Actor(tenant_id=tenant.id, kind=ActorKind.STAFF, id=user.id, role=Role(user.role), ip=ip)
            if user is not None and tenant is not None
            else None
        )
        wait = 0 if known_device else throttle.wait_seconds(key)
        if wait:
            # Hammering during a delay makes it longer; the password is not even looked at.
            throttle.failed(key, policy)
            wait = max(throttle.wait_seconds(key), wait)
            if actor is not None and user is not None:
                audit.record(s, actor, "auth.login_throttled", "staff", user.id, {"retry_after": wait})
            log.info("login throttled", extra={"ip": ip, "retry_after": wait})
            error = RateLimited(_THROTTLED, retry_after=wait)
        else:
            ok = passwords.verify_password(user.password_hash if user else None, password)
            if actor is None or user is None or tenant is None:
                throttle.failed(key, policy)
                log.info("login failed: unknown account", extra={"ip": ip})
                error = Unauthenticated(_BAD_LOGIN)
            elif not ok or not user.is_active:
                if not ok and not known_device:
                    delay = throttle.failed(key, policy)
                    if delay:
                        audit.record(s, actor, "staff.login_delayed", "staff", user.id, {"seconds": delay})
                audit.record(s, actor, "auth.login_failed", "staff", user.id, {"known_device": known_device})
                log.info("login failed", extra={"user_id": str(user.id), "ip": ip, "known_device": known_device})
                error = Unauthenticated(_BAD_LOGIN)
            else:
                if not known_device:
                    # A success on the owner's known device leaves a guesser elsewhere delayed.
                    throttle.succeeded(key)
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
                audit.record(s, actor, "auth.login", "staff", user.id, {"known_device": known_device})
                log.info("login", extra={"user_id": str(user.id), "ip": ip})
                result = LoginResult(
                    token=token,
                    csrf_token=csrf,
                    user_id=user.id,
                    tenant_id=tenant.id,
                    must_change_password=user.must_change_password,
                )
    # Raised after the block so that the failure's audit record is committed.
    if error is not None:
        raise error
    assert result is not None
    return result


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    user: StaffUser
    tenant: Tenant


def resolve_session(
    db: Database,
    settings: Settings,
    token: str,
    *,
    ip: str | None = None,
    request_id: str | None = None,
    allow_password_change: bool = False,
) -> SessionInfo:
    """Find a live session for a cookie token; enforce idle and absolute time-outs server-side.

    A person who still has to replace a one-time password gets :class:`PasswordChangeRequired` unless the caller
    is one of the few places that lets them (``allow_password_change``: the change-password page, sign-out).
    """
    now = utcnow()
    with db.platform_read() as s:
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
        if user.must_change_password and not allow_password_change:
            raise PasswordChangeRequired(
                "you signed in with a one-time password: choose your own password first "
                "(POST /api/v1/me/password, or the page /account/password)"
            )
        touch = (now - staff_session.last_seen_at).total_seconds() > 30
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
            session_id=staff_session.id,
        )
        info = SessionInfo(actor=actor, csrf_token=staff_session.csrf_token, user=user, tenant=tenant)
    if touch:
        with db.platform_transaction() as s:
            s.execute(update(StaffSession).where(StaffSession.id == staff_session.id).values(last_seen_at=now))
    return info


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
            sockets.revoke_sessions(s, staff_session.tenant_id, staff_session.user_id, [staff_session.id])
            audit.record(s, actor, "auth.logout", "staff", staff_session.user_id)


def socket_epoch(db: Database, actor: Actor) -> int:
    """The socket epoch to put in a staff member's new socket token.

    Read again (not trusted from the session look-up a moment ago) together with what the token will grant: if
    the person's role, teams or status changed in between, the caller is refused rather than handed a token that
    carries the new epoch with the old scope.
    """
    if actor.staff_id is None:
        return 0
    with db.tenant_read(actor.tenant_id) as s:
        user = s.scalar(select(StaffUser).where(StaffUser.id == actor.staff_id))
        if user is None or not user.is_active:
            raise Unauthenticated("your session has ended; please sign in again")
        if Role(user.role) != actor.role or queries.teams_of(s, user.id) != actor.team_ids:
            raise Conflict("your access just changed; ask for a socket token again")
        return user.socket_epoch


def socket_still_allowed(
    db: Database, tenant_id: uuid.UUID, staff_id: uuid.UUID, epoch: int, session_id: uuid.UUID | None
) -> bool:
    """Checked once when a staff socket opens (never on its hot path): the person is active, nothing revoked
    tokens minted at ``epoch``, and the session that minted the token is still signed in."""
    now = utcnow()
    with db.tenant_read(tenant_id) as s:
        user = s.scalar(select(StaffUser).where(StaffUser.id == staff_id))
        tenant_active = s.scalar(select(Tenant.is_active).where(Tenant.id == tenant_id))
        if user is None or not user.is_active or not tenant_active or epoch < user.socket_epoch:
            return False
        if session_id is None:
            return True
        staff_session = s.scalar(select(StaffSession).where(StaffSession.id == session_id))
        return (
            staff_session is not None
            and staff_session.user_id == staff_id
            and staff_session.revoked_at is None
            and staff_session.expires_at > now
        )
