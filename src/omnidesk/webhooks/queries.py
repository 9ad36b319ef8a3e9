"""Reads of a tenant's webhook subscriptions and delivery log (the tenant scope is the session's)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.core.errors import NotFound
from omnidesk.security.permissions import Perm
from omnidesk.webhooks.models import WebhookDelivery, WebhookSubscription


def list_subscriptions(session: Session, actor: Actor) -> list[WebhookSubscription]:
    actor.require(Perm.TENANT_SETTINGS)
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)))


def get_subscription(session: Session, actor: Actor, subscription_id: uuid.UUID) -> WebhookSubscription:
    actor.require(Perm.TENANT_SETTINGS)
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound("no such webhook")
    return sub


def list_deliveries(
    session: Session, actor: Actor, subscription_id: uuid.UUID, limit: int = 50
) -> list[WebhookDelivery]:
    """Newest first."""
    get_subscription(session, actor, subscription_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(limit)
        )
    )


def get_delivery(session: Session, actor: Actor, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    get_subscription(session, actor, subscription_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound("no such delivery")
    return delivery


def recent_deliveries(session: Session, actor: Actor, limit: int = 30) -> list[WebhookDelivery]:
    """The workspace's latest deliveries over all its webhooks, newest first (the admin page's log)."""
    actor.require(Perm.TENANT_SETTINGS)
    return list(
        session.scalars(
            select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)
        )
    )
