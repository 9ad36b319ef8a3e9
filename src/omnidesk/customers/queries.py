"""Read helpers of the customers slice."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from omnidesk.core.errors import NotFound
from omnidesk.core.pagination import decode_cursor
from omnidesk.customers.models import Customer, CustomerIdentity


def get_customer(session: Session, customer_id: uuid.UUID) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound("no customer with this id")
    return customer


def identities_of(session: Session, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[CustomerIdentity]]:
    out: dict[uuid.UUID, list[CustomerIdentity]] = {c: [] for c in customer_ids}
    if customer_ids:
        for identity in session.scalars(
            select(CustomerIdentity)
            .where(CustomerIdentity.customer_id.in_(customer_ids))
            .order_by(CustomerIdentity.created_at)
        ):
            out[identity.customer_id].append(identity)
    return out


def find_by_identity(session: Session, kind: str, value: str) -> Customer | None:
    return session.scalar(
        select(Customer)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
        .where(CustomerIdentity.kind == kind, CustomerIdentity.value == value)
    )


def list_customers(
    session: Session, *, q: str | None, tag: str | None, cursor: str | None, limit: int
) -> tuple[list[Customer], bool]:
    stmt = select(Customer)
    if q:
        # Escape LIKE wildcards in the user's text so '%' and '_' match literally.
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Customer.name.like(pattern, escape="\\"),
                Customer.email.like(pattern, escape="\\"),
                Customer.phone.like(pattern, escape="\\"),
            )
        )
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Customer.created_at < created, (Customer.created_at == created) & (Customer.id < row_id)))
    stmt = stmt.order_by(Customer.created_at.desc(), Customer.id.desc())
    if tag:
        # Tags are a small JSON list; filter in Python over a bounded window to stay portable across databases.
        rows = [c for c in session.scalars(stmt.limit(limit * 20)) if tag in (c.tags or [])]
        return rows[:limit], len(rows) > limit
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], len(rows) > limit
