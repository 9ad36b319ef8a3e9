"""Every job kind and periodic task the queue runs. Imported by :class:`omnidesk.jobs.queue.JobQueue`.

Job kinds are enqueued by actions in the transaction they follow (``jobs.outbox.enqueue``); periodic tasks re-derive
their work from the database each time, so a lost or repeated tick loses nothing and doubles nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from omnidesk.jobs import maintenance
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.registry import job, periodic

# --- jobs enqueued in a transaction ------------------------------------------------------------------------------


@job("bot.train")
def train_intent_model(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    from omnidesk.bot import jobs as bot_jobs

    bot_jobs.claim_and_train(ctx.db, tenant_id, uuid.UUID(payload["model_id"]), ctx.brains)


@job("knowledge.import")
def knowledge_import(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    from omnidesk.knowledge import imports

    imports.run(ctx.db, tenant_id, uuid.UUID(payload["import_id"]), ctx.limits)


# --- periodic tasks ----------------------------------------------------------------------------------------------


@periodic("maintenance.purge", timedelta(minutes=5))
def purge(ctx: JobContext) -> dict[str, Any]:
    removed = maintenance.purge_expired(ctx.db)
    return {k: v for k, v in removed.items() if v}


@periodic("knowledge.expiry", timedelta(minutes=1))
def knowledge_expiry(ctx: JobContext) -> int:
    """Published knowledge whose effective or expiry time passed: bump each tenant's knowledge version."""
    from omnidesk.knowledge import state

    return state.expire_due(ctx.db)


@periodic("tickets.sla", timedelta(seconds=30))
def sla_tick(ctx: JobContext) -> dict[str, int]:
    from omnidesk.jobs import tickets

    counts = tickets.tick(ctx.db)
    return {k: v for k, v in counts.items() if v}


@periodic("tickets.mail", timedelta(seconds=30))
def mail(ctx: JobContext) -> int:
    from omnidesk.jobs import tickets

    return tickets.deliver_mail(ctx.db, ctx.settings)


@periodic("bot.suggestions", timedelta(minutes=1))
def faq_suggestions(ctx: JobContext) -> int:
    from omnidesk.bot import jobs as bot_jobs

    return bot_jobs.harvest_suggestions(ctx.db)


@periodic("routing.reconcile", timedelta(seconds=2), priority=20)
def routing_reconcile(ctx: JobContext) -> int:
    """Lapsed offers, agents who came online or freed capacity. Sees the agents connected to this process
    (embedded) or to every process (Redis presence)."""
    from omnidesk.routing import service

    return service.reconcile_once(ctx.db, ctx.presence)
