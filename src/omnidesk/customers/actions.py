"""Actions of the customers slice."""

from __future__ import annotations

import uuid

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
    publish_on_commit(session, actor.tenant_id, "customer", "add", customer_id=str(customer.id))
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
    publish_on_commit(session, actor.tenant_id, "customer", "update", customer_id=str(customer.id))
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
