"""Provider channel actions: configure an account (credentials sealed, write-only), record its health, and keep
the delivery status of our messages as the provider reports it (on the
deliveries of ``channels.delivery``, which own queued → sent / failed).

``configure`` is the admin's action (``tenant.settings``, audited). The ``do_*`` functions are the adapters' own
bookkeeping, called from a webhook or a delivery job after the provider was authenticated."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnidesk.accounts import tenant_secrets
from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.providers.catalogue import PROVIDERS, ProviderSpec, secret_name
from omnidesk.channels.providers.models import ProviderChannel
from omnidesk.compliance import audit
from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import InvalidInput, NotFound
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import DeliveryUpdated, Scope
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.permissions import Perm

# Delivery states after "sent" that providers report; "failed" (the core's) is final whatever came before.
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass(frozen=True, slots=True)
class Account:
    """A configured channel as the adapters use it: its non-secret settings and its clear credentials."""

    tenant_id: uuid.UUID
    provider: str
    enabled: bool
    config: dict[str, str]
    secrets: dict[str, str]


def spec_of(provider: str) -> ProviderSpec:
    spec = PROVIDERS.get(provider)
    if spec is None:
        raise NotFound("no such channel provider")
    return spec


def channel_of(session: Session, provider: str) -> ProviderChannel | None:
    return session.scalar(select(ProviderChannel).where(ProviderChannel.provider == provider))


def account_of(session: Session, keys: PurposeKeys, tenant_id: uuid.UUID, provider: str) -> Account | None:
    """The tenant's account on ``provider`` with its credentials revealed (for the server's own calls), or None
    when it was never configured."""
    row = channel_of(session, provider)
    if row is None:
        return None
    spec = spec_of(provider)
    config = {name: str(row.config.get(name) or default) for name, default in spec.config}
    secrets = {
        name: tenant_secrets.reveal(session, keys, tenant_id, secret_name(provider, name)) for name in spec.secrets
    }
    return Account(tenant_id, provider, row.enabled, config, secrets)


def configure(
    session: Session,
    actor: Actor,
    keys: PurposeKeys,
    provider: str,
    *,
    config: dict[str, str],
    secrets: dict[str, str],
    enabled: bool = True,
) -> ProviderChannel:
    """Create or update the tenant's account on ``provider``. A secret left empty keeps the stored one (the form
    never shows it back); the audit record names the fields changed, never a secret's value."""
    actor.require(Perm.TENANT_SETTINGS)
    spec = spec_of(provider)
    unknown = (set(config) - {n for n, _ in spec.config}) | (set(secrets) - set(spec.secrets))
    if unknown:
        raise InvalidInput(f"unknown settings for {provider}: {', '.join(sorted(unknown))}")
    for name, value in config.items():
        if name == "api_base" and value and not value.startswith(("https://", "http://")):
            raise InvalidInput("the API base must be an http(s) URL")
        if len(value) > 300:
            raise InvalidInput(f"{name} is too long")
    row = channel_of(session, provider)
    if row is None:
        row = ProviderChannel(tenant_id=actor.tenant_id, provider=provider, config={})
        session.add(row)
    row.config = {**row.config, **{k: v.strip() for k, v in config.items()}}
    row.enabled = enabled
    row.updated_at = utcnow()
    for name, value in secrets.items():
        if value:
            tenant_secrets.set_secret(
                session, actor, keys, secret_name(provider, name), value.strip(), permission=Perm.TENANT_SETTINGS
            )
    session.flush()
    changed: dict[str, Any] = {"config": sorted(config), "secrets": sorted(k for k, v in secrets.items() if v)}
    audit.record(session, actor, "channel.configure", "provider_channel", row.id, {"provider": provider, **changed})
    return row


def list_channels(session: Session) -> list[ProviderChannel]:
    return list(session.scalars(select(ProviderChannel).order_by(ProviderChannel.provider)))


def do_record_received(session: Session, provider: str) -> None:
    session.execute(
        update(ProviderChannel).where(ProviderChannel.provider == provider).values(last_received_at=utcnow())
    )


def do_record_sent(session: Session, provider: str) -> None:
    session.execute(update(ProviderChannel).where(ProviderChannel.provider == provider).values(last_sent_at=utcnow()))


def do_record_error(session: Session, provider: str, error: str) -> None:
    """The latest thing that went wrong with the channel (a refused signature, a failed send), for its health."""
    session.execute(
        update(ProviderChannel)
        .where(ProviderChannel.provider == provider)
        .values(last_error=error[:500], last_error_at=utcnow())
    )


def do_record_status(
    session: Session, tenant_id: uuid.UUID, channel: str, provider_message_id: str, status: str, error: str = ""
) -> bool:
    """A provider's status callback for one of our messages (``delivered``, ``read``, ``failed``), kept on its
    delivery (``channels.models.MessageDelivery``) and announced to staff; False when the id is not ours (a
    message sent from the provider's own console). A status never moves back (a late "delivered" never hides
    "read"), and "failed" is final."""
    delivery = session.scalar(
        select(MessageDelivery).where(
            MessageDelivery.channel == channel, MessageDelivery.channel_message_id == provider_message_id
        )
    )
    if delivery is None:
        return False
    if delivery.state == "failed" or _RANK.get(status, -1) <= _RANK.get(delivery.state, 0):
        return True
    delivery.state = status
    delivery.error = error[:2000]
    delivery.updated_at = utcnow()
    conversation = session.get_one(Conversation, delivery.conversation_id)
    publish_on_commit(
        session,
        DeliveryUpdated(tenant_id=tenant_id, scope=Scope.of(conversation), message_id=delivery.message_id,
                        channel=channel, state=status, error=delivery.error, attempts=delivery.attempts),
    )  # fmt: skip
    return True
