"""Every job kind and periodic task the queue runs. Imported by :class:`omnidesk.jobs.queue.JobQueue`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from omnidesk.jobs import maintenance
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.registry import periodic


@periodic("maintenance.purge", timedelta(minutes=5))
def purge(ctx: JobContext) -> dict[str, Any]:
    removed = maintenance.purge_expired(ctx.db)
    return {k: v for k, v in removed.items() if v}
