"""HTTP handlers of the customers slice."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.pagination import MAX_LIMIT, encode_cursor
from omnidesk.core.schemas import Page
from omnidesk.customers import actions, merge, queries
from omnidesk.customers.models import Customer
from omnidesk.customers.schemas import CustomerCreate, CustomerOut, CustomerUpdate, IdentityIn, IdentityOut, MergeIn
from omnidesk.security.masking import mask_email, mask_phone, present_identity
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["customers"])


def present(s: Session, actor: Actor, customers: list[Customer]) -> list[CustomerOut]:
    """Serialise customers with their identities, masking contact details for roles without ``customers.pii`` and
    visitor ids (credentials) for everyone (security/masking.py)."""
    identities = queries.identities_of(s, [c.id for c in customers])
    reveal = actor.can(Perm.CUSTOMERS_PII)
    out = []
    for customer in customers:
        item = CustomerOut.model_validate(customer)
        item.identities = [IdentityOut.model_validate(i) for i in identities.get(customer.id, [])]
        if not reveal:
            item.email = mask_email(item.email)
            item.phone = mask_phone(item.phone)
        for identity in item.identities:
            identity.value = present_identity(identity.kind, identity.value, reveal_pii=reveal)
        out.append(item)
    return out


@router.get("/customers")
def list_customers(
    db: DbDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=100, description="part of the name, e-mail or phone")] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[CustomerOut]:
    actor.require(Perm.CUSTOMERS_READ)
    with db.tenant_read(actor.tenant_id) as s:
        rows, more = queries.list_customers(
            s, q=q, tag=tag, cursor=cursor, limit=limit, contact_details=actor.can(Perm.CUSTOMERS_PII)
        )
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        page = Page[CustomerOut](items=present(s, actor, rows), next_cursor=next_cursor)
    if rows and actor.can(Perm.CUSTOMERS_PII):
        # A list with contact details in clear is a bulk read of personal data: who read how many, with what search.
        details = {"count": len(rows), "search": q, "tag": tag, "page": bool(cursor)}
        audit.record_read(db, actor, "customer.list_read", "customer", "list", details)
    return page


@router.post("/customers", status_code=status.HTTP_201_CREATED)
def create_customer(data: CustomerCreate, db: DbDep, actor: ActorDep) -> CustomerOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return present(s, actor, [actions.create_customer(s, actor, data)])[0]


@router.get("/customers/{customer_id}")
def get_customer(customer_id: uuid.UUID, db: DbDep, actor: ActorDep) -> CustomerOut:
    actor.require(Perm.CUSTOMERS_READ)
    with db.tenant_read(actor.tenant_id) as s:
        return present(s, actor, [queries.get_customer(s, customer_id)])[0]


@router.patch("/customers/{customer_id}")
def update_customer(customer_id: uuid.UUID, data: CustomerUpdate, db: DbDep, actor: ActorDep) -> CustomerOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return present(s, actor, [actions.update_customer(s, actor, customer_id, data)])[0]


@router.post("/customers/{customer_id}/merge")
def merge_customer(customer_id: uuid.UUID, data: MergeIn, db: DbDep, actor: ActorDep) -> CustomerOut:
    """Merge the duplicate ``duplicate_id`` into this customer (the survivor): its identities, conversations,
    tickets, tags and notes move here, and it is marked merged (``merged_into_id``). One transaction, audited."""
    with db.tenant_transaction(actor.tenant_id) as s:
        result = merge.merge_customers(s, actor, customer_id, data.duplicate_id)
        return present(s, actor, [result.survivor])[0]


@router.post("/customers/{customer_id}/identities", status_code=status.HTTP_201_CREATED)
def add_identity(customer_id: uuid.UUID, data: IdentityIn, db: DbDep, actor: ActorDep) -> IdentityOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return IdentityOut.model_validate(actions.add_identity(s, actor, customer_id, data))


@router.delete("/customers/{customer_id}/identities/{identity_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_identity(customer_id: uuid.UUID, identity_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        actions.remove_identity(s, actor, customer_id, identity_id)
