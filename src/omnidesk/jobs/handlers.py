"""Every job kind and periodic task the queue runs. Imported by :class:`omnidesk.jobs.queue.JobQueue`.

Job kinds are enqueued by actions in the transaction they follow (``jobs.outbox.enqueue``); periodic tasks re-derive
their work from the database each time, so a lost or repeated tick loses nothing and doubles nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select, update

from omnidesk.core.db import utcnow
from omnidesk.jobs import maintenance, serials
from omnidesk.jobs.context import JobContext
from omnidesk.jobs.models import Job, JobState
from omnidesk.jobs.registry import job, periodic

log = logging.getLogger("omnidesk.jobs")

LATE_TURNS = Counter(
    "omnidesk_bot_turns_handed_over_late_total",
    "customer messages passed to people with a holding message because the assistant's turn waited too long",
)

LATE_PER_TICK = 2000  # every 2 s: the tick keeps up with 1,000 late customer messages a second

# --- jobs enqueued in a transaction ------------------------------------------------------------------------------


def bot_turns(ctx: JobContext, items: list[tuple[uuid.UUID, dict[str, Any]]]) -> None:
    """Many turns at once (``bot.turns.take_turns``): one read, the assistant's thinking, one write per tenant."""
    from omnidesk.bot.turns import take_turns

    take_turns(ctx.db, ctx.brains, ctx.assistant,
               [(t, uuid.UUID(p["conversation_id"]), uuid.UUID(p["message_id"])) for t, p in items])  # fmt: skip


@job("bot.turn", priority=5, batch=bot_turns)
def bot_turn(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """The assistant answers one customer message: ``bot.turns.take_turn`` (queued by ``bot.arrivals`` in the
    transaction that stored the message)."""
    from omnidesk.bot.turns import take_turn

    take_turn(ctx.db, ctx.brains, ctx.assistant, tenant_id,
              uuid.UUID(payload["conversation_id"]), uuid.UUID(payload["message_id"]))  # fmt: skip


@job("bot.train")
def train_intent_model(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    from omnidesk.bot import jobs as bot_jobs

    bot_jobs.claim_and_train(ctx.db, tenant_id, uuid.UUID(payload["model_id"]), ctx.brains)


@job("knowledge.import")
def knowledge_import(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    from omnidesk.knowledge import imports

    imports.run(ctx.db, tenant_id, uuid.UUID(payload["import_id"]), ctx.limits)


@job("webhooks.deliver")
def webhook_delivery(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """One attempt of an outgoing webhook delivery (queued with the change it announces, or by a replay); the
    delivery row schedules its own next attempt, so this job only fails when the worker does."""
    from omnidesk.webhooks import delivery

    delivery.attempt(ctx.db, ctx.tenant_secret_keys, ctx.outbound, tenant_id, uuid.UUID(payload["delivery_id"]))


def quality_scores(ctx: JobContext, items: list[tuple[uuid.UUID, dict[str, Any]]]) -> None:
    """Many conversations' scores at once: one transaction and one transcript read per tenant."""
    from omnidesk.core.actor import system_actor
    from omnidesk.quality import actions as quality

    by_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
    for tenant_id, payload in items:
        by_tenant.setdefault(tenant_id, []).append(uuid.UUID(payload["conversation_id"]))
    for tenant_id, ids in by_tenant.items():
        with ctx.db.tenant_transaction(tenant_id) as s:
            quality.do_score_conversations(s, system_actor(tenant_id), ids)


@job("quality.score", priority=1, batch=quality_scores)
def quality_score(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """Score one resolved conversation with the tenant's active scorecard (queued by ``quality.actions.queue_score``
    in the transaction that resolved it); idempotent per (conversation, scorecard version)."""
    quality_scores(ctx, [(tenant_id, payload)])


@job("channels.media")
def channel_media(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """Fetch a file a customer sent on a provider channel (queued with the message) into the attachment store.
    A failed download raises, so the queue retries it; a file we do not accept is recorded as such."""
    from omnidesk.channels.providers import actions as channel_actions
    from omnidesk.channels.providers import media
    from omnidesk.channels.whatsapp.adapter import WhatsAppAdapter
    from omnidesk.core.blobs import LocalEncryptedBlobStore
    from omnidesk.security.keys import Purpose, for_purpose

    keys = ctx.tenant_secret_keys
    with ctx.db.tenant_read(tenant_id) as s:
        account = channel_actions.account_of(s, keys, tenant_id, str(payload["provider"]))
    if account is None:
        return
    if account.provider != "whatsapp":
        raise ValueError(f"no media download for {account.provider}")
    data, content_type = WhatsAppAdapter(ctx.db, keys, ctx.outbound).download_media(account, str(payload["media_id"]))
    store = LocalEncryptedBlobStore(ctx.settings.data_dir / "blobs", for_purpose(ctx.settings, Purpose.BLOBS))
    with ctx.db.tenant_transaction(tenant_id) as s:
        media.do_attach(s, tenant_id, uuid.UUID(payload["message_id"]), filename=str(payload["filename"]),
                        content_type=str(payload.get("content_type") or content_type), data=data, store=store)  # fmt: skip


@job("channels.deliver", priority=5)
def channel_delivery(ctx: JobContext, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    """One attempt to deliver an outbound message on its channel (queued by the outbound writer in the message's
    transaction, ``channels.delivery``); a temporary failure raises, so the queue retries after its back-off."""
    from omnidesk.channels import delivery

    delivery.attempt(ctx, tenant_id, uuid.UUID(payload["message_id"]))


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


@periodic("knowledge.previews", timedelta(minutes=10))
def knowledge_previews(ctx: JobContext) -> int:
    """Import previews nobody confirmed in time: their uploaded files are not kept longer."""
    from omnidesk.knowledge import imports

    return imports.discard_stale_previews(ctx.db)


@periodic("tickets.sla", timedelta(seconds=30))
def sla_tick(ctx: JobContext) -> dict[str, int]:
    from omnidesk.jobs import tickets

    counts = tickets.tick(ctx.db)
    return {k: v for k, v in counts.items() if v}


@periodic("tickets.mail", timedelta(seconds=30))
def mail(ctx: JobContext) -> int:
    from omnidesk.jobs import tickets

    return tickets.deliver_mail(ctx.db, ctx.settings)


@periodic("analytics.rollup", timedelta(minutes=1))
def analytics_rollup(ctx: JobContext) -> int:
    """Interval tables: recompute every tenant-local day touched since the last run (idempotent)."""
    from omnidesk.analytics import rollup

    return rollup.run(ctx.db)


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


@periodic("bot.turn_lag", timedelta(seconds=2), priority=20)
def late_bot_turns(ctx: JobContext) -> int:
    """Follow-ups behind: every customer message whose assistant turn has waited longer than
    ``OMNIDESK_BOT_TURN_MAX_LAG_SECONDS`` without starting goes to people with a holding message (the customer is
    told something true instead of silence), and its job is settled so the assistant does not answer it later."""
    from omnidesk.bot import pipeline

    now = utcnow()
    cutoff = now - timedelta(seconds=ctx.settings.bot_turn_max_lag_seconds)
    with ctx.db.platform_read() as s:
        late = s.execute(
            select(Job.id, Job.tenant_id, Job.payload, Job.created_at, Job.serial)
            .where(Job.state == JobState.QUEUED, Job.kind == pipeline.TURN, Job.created_at < cutoff)
            .order_by(Job.run_after)
            .limit(LATE_PER_TICK)
        ).all()
    by_tenant: dict[uuid.UUID, list[Any]] = {}
    for row in late:
        by_tenant.setdefault(row[1], []).append(row)
    handed = 0
    for tenant_id, rows in by_tenant.items():
        # One transaction per tenant: settle every late job with one UPDATE, then tell each conversation once
        # (its oldest late message gets the holding message; the conversation is the people's from then on).
        with ctx.db.tenant_transaction(tenant_id) as s:
            settled = set(
                s.scalars(
                    update(Job)
                    .where(Job.id.in_([r[0] for r in rows]), Job.state == JobState.QUEUED)
                    .values(state=JobState.DONE, finished_at=now, last_error="passed to people: waited too long")
                    .returning(Job.id)
                )
            )
            for serial in {r[4] for r in rows if r[0] in settled and r[4] is not None}:
                # the conversation's next turn need not wait for these any more (the sweep sends it)
                serials.release_next(s.connection(), tenant_id, serial)
            told: set[str] = set()
            for job_id, _, payload, created_at, _ in rows:
                if job_id not in settled or payload["conversation_id"] in told:
                    continue
                if pipeline.hand_over_delayed(
                    s, tenant_id, uuid.UUID(payload["conversation_id"]), uuid.UUID(payload["message_id"]),
                    (now - created_at).total_seconds(),
                ):  # fmt: skip
                    told.add(payload["conversation_id"])
                    handed += 1
    if handed:
        LATE_TURNS.inc(handed)
    return handed
