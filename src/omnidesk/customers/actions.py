"""Actions of the customers slice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, NotFound
from omnidesk.customers import queries
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.customers.schemas import CustomerCreate, CustomerUpdate, IdentityIn, IdentityKind
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import CustomerAdded, CustomerUpdated
from omnidesk.security.permissions import Perm

_WRITABLE = ("name", "email", "phone", "language", "tags", "attributes", "notes")


def create_customer(session: Session, actor: Actor, data: CustomerCreate) -> Customer:
    actor.require(Perm.CUSTOMERS_WRITE)
    return do_create_customer(session, actor, data)


def do_create_customer(session: Session, actor: Actor, data: CustomerCreate) -> Customer:
    customer = Customer(
        tenant_id=actor.tenant_id,
        name=data.name,
        email=data.email,
        phone=data.phone,
        language=data.language,
        tags=list(dict.fromkeys(data.tags)),
        attributes=dict(data.attributes),
    )
    session.add(customer)
    session.flush()
    identities = list(data.identities)
    if data.email and not any(i.kind == "email" and i.value == data.email for i in identities):
        identities.append(IdentityIn(kind=IdentityKind.EMAIL, value=data.email))
    if data.phone and not any(i.kind == "phone" for i in identities):
        identities.append(IdentityIn(kind=IdentityKind.PHONE, value=data.phone))
    for identity in identities:
        _add_identity(session, actor, customer, identity)
    audit.record(session, actor, "customer.create", "customer", customer.id, {"name": customer.name})
    publish_on_commit(session, CustomerAdded(tenant_id=actor.tenant_id, customer_id=customer.id))
    return customer


def _add_identity(session: Session, actor: Actor, customer: Customer, data: IdentityIn) -> CustomerIdentity:
    owner = session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.kind == data.kind.value, CustomerIdentity.value == data.value
        )
    )
    if owner is not None:
        raise Conflict(f"the {data.kind.value} identity '{data.value}' already belongs to a customer")
    identity = CustomerIdentity(
        tenant_id=actor.tenant_id, customer_id=customer.id, kind=data.kind.value, value=data.value
    )
    session.add(identity)
    session.flush()
    return identity


def update_customer(session: Session, actor: Actor, customer_id: uuid.UUID, data: CustomerUpdate) -> Customer:
    actor.require(Perm.CUSTOMERS_WRITE)
    customer = queries.get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict("this customer was merged into another profile; edit that one")
    changes = data.model_dump(exclude_unset=True)
    before = {k: getattr(customer, k) for k in _WRITABLE}
    for name in _WRITABLE:
        if name in changes:
            value = changes[name]
            if name in ("tags",) and value is not None:
                value = list(dict.fromkeys(value))
            if value is None and name in ("tags", "attributes", "notes", "name"):
                continue
            setattr(customer, name, value)
    customer.updated_at = utcnow()
    after = {k: getattr(customer, k) for k in _WRITABLE}
    audit.record(session, actor, "customer.update", "customer", customer.id, audit.diff(before, after))
    publish_on_commit(session, CustomerUpdated(tenant_id=actor.tenant_id, customer_id=customer.id))
    return customer


def add_identity(session: Session, actor: Actor, customer_id: uuid.UUID, data: IdentityIn) -> CustomerIdentity:
    actor.require(Perm.CUSTOMERS_WRITE)
    customer = queries.get_customer(session, customer_id)
    identity = _add_identity(session, actor, customer, data)
    audit.record(session, actor, "customer.identity_add", "customer", customer.id, {"kind": identity.kind})
    return identity


def remove_identity(session: Session, actor: Actor, customer_id: uuid.UUID, identity_id: uuid.UUID) -> None:
    actor.require(Perm.CUSTOMERS_WRITE)
    customer = queries.get_customer(session, customer_id)
    identity = session.scalar(
        select(CustomerIdentity).where(CustomerIdentity.id == identity_id, CustomerIdentity.customer_id == customer.id)
    )
    if identity is None:
        raise NotFound("no identity with this id on this customer")
    session.delete(identity)
    audit.record(session, actor, "customer.identity_remove", "customer", customer.id, {"kind": identity.kind})


# --- customers as channels meet them -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelIdentity:
    """An identity a channel vouches for to the degree ``verified`` says (a signed-in host-site user is verified;
    an address typed into a form is not)."""

    kind: str
    value: str
    verified: bool = False


def do_create_from_channel(
    session: Session,
    actor: Actor,
    identities: Sequence[ChannelIdentity],
    *,
    name: str = "",
    language: str | None = None,
    source: str,
) -> Customer:
    """A new customer first met on a channel (a widget visitor, an e-mail sender), holding ``identities``.

    Trusts its caller, a channel adapter that authenticated what it could; an identity that already belongs to a
    customer is a conflict (the caller looks identities up first)."""
    customer = Customer(
        tenant_id=actor.tenant_id, name=name[:200], language=language if language in ("zh-CN", "en") else None
    )
    session.add(customer)
    session.flush()
    for identity in identities:
        _add_channel_identity(session, actor, customer, identity)
    verified = any(i.verified for i in identities)
    audit.record(session, actor, "customer.create", "customer", customer.id, {"source": source, "verified": verified})
    publish_on_commit(session, CustomerAdded(tenant_id=actor.tenant_id, customer_id=customer.id))
    return customer


def do_link_identity(session: Session, actor: Actor, customer: Customer, identity: ChannelIdentity) -> None:
    """Give ``customer`` one more identity a channel vouched for (a visitor who signed in on the host site)."""
    _add_channel_identity(session, actor, customer, identity)
    audit.record(
        session,
        actor,
        "customer.identity_add",
        "customer",
        customer.id,
        {"kind": identity.kind, "verified": identity.verified},
    )
    publish_on_commit(session, CustomerUpdated(tenant_id=actor.tenant_id, customer_id=customer.id))


def do_resolve_sender(session: Session, actor: Actor, identity: ChannelIdentity, *, name: str = "",
                      language: str | None = None, source: str) -> Customer:  # fmt: skip
    """The customer who holds ``identity``, or a new one holding it (how a message from an unknown address
    becomes a customer)."""
    known = queries.find_by_identity(session, identity.kind, identity.value)
    if known is not None:
        return known
    return do_create_from_channel(session, actor, [identity], name=name, language=language, source=source)


def do_update_contact(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    attributes: dict[str, str] | None = None,
    only_if_empty: bool = False,
) -> Customer:
    """Contact details the customer gave about themselves (the widget's form): stored on their own profile,
    unverified, never used to merge profiles. ``only_if_empty`` keeps what is there (a name from sign-in does not
    overwrite one the customer typed). ``attributes`` (the widget's custom pre-chat fields) are merged into the
    customer's attributes. The audit record says which fields changed, not their values."""
    customer = queries.get_customer(session, customer_id)
    changed: dict[str, str] = {}
    for field_name, value in (("name", name), ("email", email), ("phone", phone)):
        if not value:
            continue
        value = value.lower() if field_name == "email" else value[:200] if field_name == "name" else value
        current = getattr(customer, field_name)
        if (only_if_empty and current) or current == value:
            continue
        setattr(customer, field_name, value)
        changed[field_name] = "set"
    extra = {k: v for k, v in (attributes or {}).items() if v and (customer.attributes or {}).get(k) != v}
    if extra and only_if_empty:
        extra = {k: v for k, v in extra.items() if not (customer.attributes or {}).get(k)}
    if extra:
        customer.attributes = {**(customer.attributes or {}), **extra}
        changed.update({f"attributes.{k}": "set" for k in extra})
    if not changed:
        return customer
    customer.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "customer.contact_update", "customer", customer.id, changed)
    publish_on_commit(session, CustomerUpdated(tenant_id=actor.tenant_id, customer_id=customer.id))
    return customer


def _add_channel_identity(session: Session, actor: Actor, customer: Customer, identity: ChannelIdentity) -> None:
    owner = session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.kind == identity.kind, CustomerIdentity.value == identity.value
        )
    )
    if owner is not None:
        raise Conflict(f"the {identity.kind} identity already belongs to a customer")
    session.add(
        CustomerIdentity(
            tenant_id=actor.tenant_id,
            customer_id=customer.id,
            kind=identity.kind,
            value=identity.value,
            verified=identity.verified,
        )
    )
    session.flush()
