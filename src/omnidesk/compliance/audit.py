"""Writing audit records. Call inside the action's transaction so the record commits or rolls back with it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.actor import Actor

_SECRET_FIELDS = {"password", "password_hash", "secret", "secret_digest", "token", "token_digest"}


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name in _SECRET_FIELDS:
            out[name] = "[redacted]"
        else:
            out[name] = value
    return out


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
