"""Writing audit records. Call inside the action's transaction so the record commits or rolls back with it; reads
that must be audited use :func:`record_read` (a short transaction of its own)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy.orm import Session

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.actor import Actor
from omnidesk.core.db import Database

REDACTED = "[redacted]"

# A field whose name says it holds a credential never has its value stored, at any depth of ``changes``.
_CREDENTIAL_HINTS = (
    "password",
    "passphrase",
    "secret",
    "token",
    "digest",
    "api_key",
    "apikey",
    "credential",
    "private_key",
    "authorization",
    "cookie",
)
# ... except these markers, which say what happened to a credential without being one ("identity_secret":
# "rotated").
_MARKERS = frozenset({"set", "rotated", "changed", "removed", "revoked", "cleared"})
# Credentials recognisable by their shape wherever they appear: API and platform keys, web visitor ids.
_CREDENTIAL_SHAPES = re.compile(r"\bod[kp]_[0-9a-f]{12}_[A-Za-z0-9_-]{16,}|\bv_[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")


def is_credential_field(name: str) -> bool:
    lowered = name.lower()
    return any(hint in lowered for hint in _CREDENTIAL_HINTS)


def redact(value: Any, name: str = "") -> Any:
    """``value`` with every credential replaced by ``[redacted]``: by field name, and by shape inside strings.

    Applied when a record is written and again when it is read, so rows written before a rule existed are
    covered too.
    """
    if name and is_credential_field(name) and not _is_marker(value):
        return REDACTED
    if isinstance(value, str):
        return _CREDENTIAL_SHAPES.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, name) for v in value]
    return value


def _is_marker(value: Any) -> bool:
    return value is None or isinstance(value, bool) or (isinstance(value, str) and value in _MARKERS)


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = redact(changes)
    return cleaned


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str,
    changes: dict[str, Any] | None = None,
) -> AuditRecord:
    entry = AuditRecord(**values(actor, action, target_type, target_id, changes))
    session.add(entry)
    return entry


def values(
    actor: Actor, action: str, target_type: str, target_id: uuid.UUID | str, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The columns of one audit record, for callers that insert many rows in one statement."""
    return {
        "tenant_id": actor.tenant_id,
        "actor_type": actor.kind.value,
        "actor_id": actor.id,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "changes": _clean(changes or {}),
        "request_id": actor.request_id,
        "ip": actor.ip,
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields whose value changed; JSON-safe."""
    return {k: [_jsonable(before.get(k)), _jsonable(v)] for k, v in after.items() if before.get(k) != v}


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def record_read(
    db: Database,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str,
    changes: dict[str, Any] | None = None,
) -> None:
    """Audit a security-relevant read in its own short transaction: the read itself ran in a read-only one."""
    with db.tenant_transaction(actor.tenant_id) as s:
        record(s, actor, action, target_type, target_id, changes)
