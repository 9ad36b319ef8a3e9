"""Passwords over an account's life: changing one's own, an admin's one-time reset link, ending other sessions.

Every change of password ends the sessions (and sockets) that could belong to someone who knew the old one, and is
audited without the password or the link in the record. A reset link is a 256-bit random token shown once to the
admin who made it; only its SHA-256 digest is stored, it expires after ``RESET_MINUTES`` and works once.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnidesk.accounts import queries, sockets
from omnidesk.accounts.models import PasswordReset, StaffSession, StaffUser, Tenant
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor, ActorKind
from omnidesk.core.db import utcnow
from omnidesk.core.errors import InvalidInput, NotFound, PermissionDenied
from omnidesk.security import passwords, tokens
from omnidesk.security.permissions import Perm, Role

log = logging.getLogger("omnidesk.auth")

RESET_MINUTES = 30
_LINK_GONE = "this password link has expired or was already used; ask an administrator for a new one"


def _set_password(user: StaffUser, new_password: str) -> None:
    passwords.check_password_policy(new_password, email=user.email)
    if passwords.verify_password(user.password_hash, new_password):
        raise InvalidInput("choose a password different from the current one")
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = utcnow()


def _end_sessions(session: Session, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> list[uuid.UUID]:
    now = utcnow()
    ended = []
    for staff_session in session.scalars(
        select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
    ):
        if staff_session.id != keep:
            staff_session.revoked_at = now
            ended.append(staff_session.id)
    return ended


def _own_account(session: Session, actor: Actor) -> StaffUser:
    if actor.kind != ActorKind.STAFF or actor.staff_id is None:
        raise PermissionDenied("only a signed-in person has a password and sessions; an API key has neither")
    return queries.get_staff(session, actor.staff_id)


def change_password(session: Session, actor: Actor, current_password: str, new_password: str) -> int:
    """The signed-in person replaces their password; their other sessions end. Returns how many ended."""
    user = _own_account(session, actor)
    if not passwords.verify_password(user.password_hash, current_password):
        # Logged, not audited: the refusal rolls the transaction back (the HTTP layer rate-limits these).
        log.warning("password change refused: wrong current password", extra={"user_id": str(user.id)})
        raise InvalidInput("the current password is wrong")
    was_one_time = user.must_change_password
    _set_password(user, new_password)
    ended = _end_sessions(session, user.id, keep=actor.session_id)
    sockets.revoke_sessions(session, actor.tenant_id, user.id, ended)
    audit.record(
        session,
        actor,
        "staff.password_change",
        "staff",
        user.id,
        {"other_sessions_ended": len(ended), "was_one_time": was_one_time},
    )
    return len(ended)


def end_other_sessions(session: Session, actor: Actor) -> int:
    """ "Sign out my other sessions": every session of the person but the one making the request."""
    user = _own_account(session, actor)
    ended = _end_sessions(session, user.id, keep=actor.session_id)
    sockets.revoke_sessions(session, actor.tenant_id, user.id, ended)
    audit.record(session, actor, "auth.other_sessions_ended", "staff", user.id, {"count": len(ended)})
    return len(ended)


def create_reset_link(session: Session, actor: Actor, user_id: uuid.UUID) -> tuple[str, datetime]:
    """An admin makes a one-time link for ``user_id``; returns the token (shown once) and its expiry.

    Making a link changes nothing else: the old password keeps working until the link is used, and any earlier
    unused link of the person stops working (only the newest one is valid).
    """
    actor.require(Perm.STAFF_MANAGE)
    user = queries.get_staff(session, user_id)
    if not user.is_active:
        raise InvalidInput("this account is deactivated; reactivate it before resetting its password")
    now = utcnow()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(minutes=RESET_MINUTES)
    reset = PasswordReset(
        tenant_id=actor.tenant_id,
        user_id=user.id,
        token_digest=tokens.digest(token),
        created_by=actor.staff_id,
        expires_at=expires_at,
    )
    session.add(reset)
    session.flush()
    audit.record(session, actor, "staff.password_reset_link", "staff", user.id, {"expires_minutes": RESET_MINUTES})
    return token, expires_at


@dataclass(frozen=True)
class ResetTarget:
    email: str
    display_name: str
    tenant_slug: str
    language: str


def _live_reset(session: Session, token: str) -> tuple[PasswordReset, StaffUser, Tenant]:
    if not token or len(token) > 200:
        raise NotFound(_LINK_GONE)
    row = session.execute(
        select(PasswordReset, StaffUser, Tenant)
        .join(StaffUser, StaffUser.id == PasswordReset.user_id)
        .join(Tenant, Tenant.id == PasswordReset.tenant_id)
        .where(PasswordReset.token_digest == tokens.digest(token))
    ).first()
    if row is None:
        raise NotFound(_LINK_GONE)
    reset, user, tenant = row
    if reset.used_at is not None or reset.expires_at <= utcnow() or not user.is_active or not tenant.is_active:
        raise NotFound(_LINK_GONE)
    return reset, user, tenant


def reset_target(session: Session, token: str) -> ResetTarget:
    """Whose password a link sets (for its page); :class:`NotFound` for an unknown, used or expired link.
    Runs on a platform session: the visitor of the link is not signed in, so no tenant is known yet."""
    _, user, tenant = _live_reset(session, token)
    return ResetTarget(user.email, user.display_name, tenant.slug, user.language)


def redeem_reset_link(session: Session, token: str, new_password: str, *, ip: str | None = None) -> ResetTarget:
    """Set the new password through a link (platform session): the link is spent, and every session and socket
    of the person ends, since whoever knew the old password may be signed in somewhere."""
    reset, user, tenant = _live_reset(session, token)
    _set_password(user, new_password)
    reset.used_at = utcnow()
    ended = _end_sessions(session, user.id)
    sockets.revoke_all(session, user)
    actor = Actor(tenant_id=tenant.id, kind=ActorKind.STAFF, id=user.id, role=Role(user.role), ip=ip)
    audit.record(
        session,
        actor,
        "staff.password_reset",
        "staff",
        user.id,
        {"sessions_ended": len(ended), "link_created_by": str(reset.created_by) if reset.created_by else None},
    )
    return ResetTarget(user.email, user.display_name, tenant.slug, user.language)
