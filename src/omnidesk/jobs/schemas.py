"""What the API shows of a job: never its payload (later kinds may carry customer data), only what an admin needs
to judge a failure."""

from __future__ import annotations

import uuid
from datetime import datetime

from omnidesk.core.schemas import Output


class JobOut(Output):
    id: uuid.UUID
    kind: str
    key: str
    state: str
    attempts: int
    max_attempts: int
    last_error: str
    created_at: datetime
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None
