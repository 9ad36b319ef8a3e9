"""HTTP handlers of the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from omnidesk.compliance import audit, queries
from omnidesk.compliance.schemas import AuditRecordOut
from omnidesk.core.pagination import MAX_LIMIT, encode_cursor
from omnidesk.core.schemas import Page, Timestamp
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["audit"])


present = queries.present  # one record as the reader may see it; shared with the audit page and its CSV


@router.get("/audit")
def list_audit(
    db: DbDep,
    actor: ActorDep,
    action: Annotated[str | None, Query(max_length=64, description="exact action, or a prefix ending in '.'")] = None,
    actor_id: uuid.UUID | None = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[AuditRecordOut]:
    """Audit records of the caller's tenant, newest first (auditors and admins)."""
    with db.tenant_read(actor.tenant_id) as s:
        rows, more = queries.list_audit(
            s,
            actor,
            action=action,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        page = Page[AuditRecordOut](items=[present(actor, r) for r in rows], next_cursor=next_cursor)
    # Who looked at the trail, and for what, is itself on the trail.
    filters = {"action": action, "actor_id": actor_id, "target_type": target_type, "target_id": target_id}
    details = {k: str(v) for k, v in filters.items() if v is not None} | {"count": len(rows)}
    audit.record_read(db, actor, "audit.read", "audit", "trail", details)
    return page
