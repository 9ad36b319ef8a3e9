"""HTTP API of outgoing webhooks (admins): subscriptions CRUD, the delivery log, replay of one delivery."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from omnidesk.security.keys import Purpose, for_purpose
from omnidesk.security.outbound import OutboundPolicy
from omnidesk.web.deps import ActorDep, DbDep, SettingsDep
from omnidesk.webhooks import actions, queries
from omnidesk.webhooks.catalogue import EVENT_TYPES
from omnidesk.webhooks.schemas import (
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks/event-types")
def event_types(actor: ActorDep) -> list[str]:
    """The event types a webhook can subscribe to (docs/webhooks.md)."""
    return list(EVENT_TYPES)


@router.get("/webhooks")
def list_webhooks(db: DbDep, actor: ActorDep) -> list[SubscriptionOut]:
    """This workspace's webhook subscriptions. Needs the tenant settings permission (admins)."""
    with db.tenant_read(actor.tenant_id) as s:
        return [SubscriptionOut.model_validate(w) for w in queries.list_subscriptions(s, actor)]


@router.post("/webhooks", status_code=201)
def create_webhook(data: SubscriptionIn, db: DbDep, actor: ActorDep, settings: SettingsDep) -> SubscriptionCreated:
    """Subscribe a URL to event types. The answer holds the signing secret, shown this once."""
    keys = for_purpose(settings, Purpose.TENANT_SECRETS)
    with db.tenant_transaction(actor.tenant_id) as s:
        created = actions.create(s, actor, data, OutboundPolicy.from_settings(settings), keys)
        out = SubscriptionOut.model_validate(created.subscription)
    return SubscriptionCreated(**out.model_dump(), secret=created.secret)


@router.get("/webhooks/{webhook_id}")
def get_webhook(webhook_id: uuid.UUID, db: DbDep, actor: ActorDep) -> SubscriptionOut:
    with db.tenant_read(actor.tenant_id) as s:
        return SubscriptionOut.model_validate(queries.get_subscription(s, actor, webhook_id))


@router.patch("/webhooks/{webhook_id}")
def update_webhook(
    webhook_id: uuid.UUID, data: SubscriptionPatch, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> SubscriptionOut:
    """Change the URL, event types or description; ``enabled: false`` disables it (a 410 answer does too)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        sub = actions.update(s, actor, webhook_id, data, OutboundPolicy.from_settings(settings))
        return SubscriptionOut.model_validate(sub)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: uuid.UUID, db: DbDep, actor: ActorDep) -> Response:
    """Delete the subscription and its delivery log."""
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.delete(s, actor, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: uuid.UUID, db: DbDep, actor: ActorDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[DeliveryOut]:
    """The delivery log, newest first: state, attempts, last response code or error, timings."""
    with db.tenant_read(actor.tenant_id) as s:
        return [DeliveryOut.model_validate(d) for d in queries.list_deliveries(s, actor, webhook_id, limit)]


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/replay")
def replay_delivery(webhook_id: uuid.UUID, delivery_id: uuid.UUID, db: DbDep, actor: ActorDep) -> DeliveryOut:
    """Send a delivered or failed delivery again, with the same delivery id and body (409 while pending)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        delivery = actions.replay(s, actor, webhook_id, delivery_id)
        out = DeliveryOut.model_validate(delivery)
    return out
