"""Ending a person's live sockets when their access changes, on every process at once.

A socket's rights were fixed when its token was minted, so a change that takes rights away must reach open
sockets too. Both functions queue an ``access``/``revoke`` event on the tenant's channel (it leaves after commit,
through Redis in a cluster); every process's hub closes the matching sockets when it arrives (close code
``realtime.hub.CLOSE_REVOKED``) and never forwards the event itself. A process that misses the event has no such
socket open; a new socket is checked against the database at its handshake
(``accounts.auth.socket_still_allowed``), so an old token cannot open one anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import AccessRevoked


def revoke_all(session: Session, user: StaffUser) -> None:
    """Void every socket token the person holds and close all their sockets (deactivation, role or team change,
    password reset, signed out everywhere)."""
    user.socket_epoch = (user.socket_epoch or 0) + 1
    publish_on_commit(
        session, AccessRevoked(tenant_id=user.tenant_id, staff_id=user.id, epoch=user.socket_epoch, session_ids=[])
    )


def revoke_sessions(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, session_ids: Iterable[uuid.UUID]
) -> None:
    """Close the sockets opened through these browser sessions (sign-out, "sign out my other sessions")."""
    ids = [str(i) for i in session_ids]
    if ids:
        publish_on_commit(session, AccessRevoked(tenant_id=tenant_id, staff_id=user_id, epoch=None, session_ids=ids))
