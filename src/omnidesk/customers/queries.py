"""Read helpers of the customers slice."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from omnidesk.core.errors import NotFound
from omnidesk.core.pagination import decode_cursor
from omnidesk.customers.models import Customer, CustomerIdentity


def get_customer(session: Session, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer:
    stmt = select(Customer).where(Customer.id == customer_id)
    customer = session.scalar(stmt.with_for_update() if for_update else stmt)
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


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with the user's '%', '_' and '\\' taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


#: Identity kinds a search looks into (web visitor ids are credentials: never searchable).
SEARCHABLE_KINDS = ("email", "phone", "external", "wechat", "whatsapp")


def list_customers(
    session: Session,
    *,
    q: str | None,
    tag: str | None,
    cursor: str | None,
    limit: int,
    contact_details: bool = True,
) -> tuple[list[Customer], bool]:
    """Live profiles (merged duplicates left out), newest first; ``q`` matches part of the name, e-mail, phone or
    any searchable identity (an external id, a second address). Without ``contact_details`` (a reader who may not
    see them) only names are searched, so a search cannot tell whether an address is known."""
    stmt = select(Customer).where(Customer.merged_into_id.is_(None))
    if q:
        pattern = _like(q.strip())
        by_identity = (
            select(CustomerIdentity.id)
            .where(
                CustomerIdentity.customer_id == Customer.id,
                CustomerIdentity.kind.in_(SEARCHABLE_KINDS),
                func.lower(CustomerIdentity.value).like(pattern.lower(), escape="\\"),
            )
            .exists()
        )
        by_name = func.lower(Customer.name).like(pattern.lower(), escape="\\")
        if contact_details:
            stmt = stmt.where(
                or_(
                    by_name,
                    func.lower(Customer.email).like(pattern.lower(), escape="\\"),
                    Customer.phone.like(pattern, escape="\\"),
                    by_identity,
                )
            )
        else:
            stmt = stmt.where(by_name)
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


def possible_duplicates(session: Session, customer: Customer, limit: int = 10) -> list[Customer]:
    """Other live profiles sharing this one's name, e-mail or phone: candidates for a merge."""
    same = []
    if customer.name.strip():
        same.append(Customer.name == customer.name)
    if customer.email:
        same.append(func.lower(Customer.email) == customer.email.lower())
    if customer.phone:
        same.append(Customer.phone == customer.phone)
    if not same:
        return []
    return list(
        session.scalars(
            select(Customer)
            .where(Customer.id != customer.id, Customer.merged_into_id.is_(None), or_(*same))
            .order_by(Customer.created_at.desc())
            .limit(limit)
        )
    )


def live_customer_id(session: Session, customer_id: uuid.UUID) -> uuid.UUID:
    """Where a profile lives now: its own id, or the survivor's if it was merged (404 if it never existed)."""
    customer = get_customer(session, customer_id)
    return customer.merged_into_id or customer.id
