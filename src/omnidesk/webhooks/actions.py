"""What an admin does with webhooks: create (the secret is shown once), change, disable, delete, replay one
delivery. Authorised, audited (never the secret or the URL's query, which may hold a token), tenant-scoped."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session

from omnidesk.accounts.tenant_secrets import seal
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput
from omnidesk.jobs.outbox import enqueue
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.outbound import OutboundFailed, OutboundPolicy, OutboundRefused
from omnidesk.security.permissions import Perm
from omnidesk.webhooks import queries, signing
from omnidesk.webhooks.catalogue import EVENT_TYPES
from omnidesk.webhooks.delivery import secret_name
from omnidesk.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from omnidesk.webhooks.schemas import SubscriptionIn, SubscriptionPatch
from omnidesk.webhooks.subscriber import JOB_KIND, MAX_JOB_ATTEMPTS, forget


@dataclass(frozen=True)
class Created:
    subscription: WebhookSubscription
    secret: str


def check_url(policy: OutboundPolicy, url: str) -> str:
    """https anywhere public; http only to a host the operator opened (OMNIDESK_OUTBOUND_ALLOW); never a
    destination the outbound policy refuses (checked again at every delivery: DNS may change)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise InvalidInput("the webhook URL is not a valid URL") from None
    host = parsed.host
    if parsed.scheme not in ("http", "https") or not host:
        raise InvalidInput("the webhook URL must start with https://")
    if parsed.userinfo:
        raise InvalidInput("the webhook URL must not contain a user name or password")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if parsed.scheme == "http" and not _operator_allowed(policy, host, port):
        raise InvalidInput("the webhook URL must use https:// (http:// only for hosts the operator allowed)")
    try:
        policy.resolve(host, port)
    except OutboundRefused as exc:
        raise InvalidInput(exc.reason) from None
    except OutboundFailed:
        pass  # not resolvable now: every delivery checks again
    return str(parsed)


def _operator_allowed(policy: OutboundPolicy, host: str, port: int) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(r.host == host.lower().rstrip(".") and r.port in (None, port) for r in policy.rules)
    return any(r.matches(host, address, port) for r in policy.rules)


def _event_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"unknown event types: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    return [t for t in EVENT_TYPES if t in set(types)]


def _safe_url(url: str) -> str:
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def create(session: Session, actor: Actor, data: SubscriptionIn, policy: OutboundPolicy, keys: PurposeKeys) -> Created:
    actor.require(Perm.TENANT_SETTINGS)
    url = check_url(policy, data.url)
    types = _event_types(data.event_types)
    secret = signing.new_secret()
    sub_id = uuid.uuid4()
    sub = WebhookSubscription(
        id=sub_id, tenant_id=actor.tenant_id, url=url, description=data.description, event_types=types,
        sealed_secret=seal(keys, actor.tenant_id, secret_name(sub_id), secret), enabled=data.enabled,
        created_by=actor.staff_id,
    )  # fmt: skip
    session.add(sub)
    session.flush()
    forget(session, actor.tenant_id)
    audit.record(session, actor, "webhook.created", "webhook", sub.id, {"url": _safe_url(url), "event_types": types})
    return Created(sub, secret)


def update(
    session: Session, actor: Actor, subscription_id: uuid.UUID, data: SubscriptionPatch, policy: OutboundPolicy
) -> WebhookSubscription:
    sub = queries.get_subscription(session, actor, subscription_id)
    before = {"url": _safe_url(sub.url), "event_types": list(sub.event_types), "enabled": sub.enabled,
              "description": sub.description}  # fmt: skip
    if data.url is not None:
        sub.url = check_url(policy, data.url)
    if data.event_types is not None:
        sub.event_types = _event_types(data.event_types)
    if data.description is not None:
        sub.description = data.description
    if data.enabled is not None:
        sub.enabled = data.enabled
        if data.enabled:
            sub.disabled_reason = ""
    after = {"url": _safe_url(sub.url), "event_types": list(sub.event_types), "enabled": sub.enabled,
             "description": sub.description}  # fmt: skip
    changed = audit.diff(before, after)
    if changed:
        sub.updated_at = utcnow()
        session.flush()
        forget(session, actor.tenant_id)
        audit.record(session, actor, "webhook.updated", "webhook", sub.id, changed)
    return sub


def delete(session: Session, actor: Actor, subscription_id: uuid.UUID) -> None:
    sub = queries.get_subscription(session, actor, subscription_id)
    audit.record(session, actor, "webhook.deleted", "webhook", sub.id, {"url": _safe_url(sub.url)})
    session.delete(sub)
    session.flush()
    forget(session, actor.tenant_id)


def replay(session: Session, actor: Actor, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send one delivery again, with the same id and body (a receiver that already has it can ignore it)."""
    delivery = queries.get_delivery(session, actor, subscription_id, delivery_id)
    sub = queries.get_subscription(session, actor, subscription_id)
    if delivery.state == DeliveryState.PENDING:
        raise Conflict("this delivery is still being sent; replay it once it is delivered or failed")
    if not sub.enabled:
        raise Conflict("the webhook is disabled; enable it before replaying")
    previous = delivery.state
    delivery.state = DeliveryState.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.delivered_at = None
    session.flush()
    enqueue(session, JOB_KIND, {"delivery_id": str(delivery.id)},
            key=f"{delivery.id}:replay:{uuid.uuid4().hex[:8]}", max_attempts=MAX_JOB_ATTEMPTS)  # fmt: skip
    audit.record(session, actor, "webhook.replayed", "webhook_delivery", delivery.id,
                 {"subscription_id": str(subscription_id), "state": previous})  # fmt: skip
    return delivery


def reseal_all(session: Session, keys: PurposeKeys) -> int:
    """Re-encrypt every webhook secret (all tenants: a platform session) under the current key
    (``omnidesk secrets rotate``); raises ``SecretUnreadable`` and changes nothing if one does not open."""
    from sqlalchemy import select

    from omnidesk.accounts.tenant_secrets import unseal

    count = 0
    for sub in session.scalars(select(WebhookSubscription)):
        name = secret_name(sub.id)
        sub.sealed_secret = seal(keys, sub.tenant_id, name, unseal(keys, sub.tenant_id, name, sub.sealed_secret))
        count += 1
    return count
