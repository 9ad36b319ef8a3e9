"""Response shapes of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from omnidesk.core.schemas import Output


class AuditRecordOut(Output):
    id: uuid.UUID
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    changes: dict[str, Any]
    request_id: str | None
    ip: str | None
    created_at: datetime
