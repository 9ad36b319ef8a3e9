"""Merging duplicate customer profiles: one survivor keeps everything, the duplicate is marked merged.

The customers slice sits below conversations and tickets, which hold rows pointing at a customer; each of those
slices registers a *mover* here (``wiring.install``) that re-points its rows, so a merge moves everything in the
caller's one transaction without this slice importing the slices above it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput
from omnidesk.customers import queries
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import CustomerMerged, CustomerUpdated
from omnidesk.security.permissions import Perm

#: Re-points a slice's rows from the duplicate (first id) to the survivor (second id); returns how many moved.
Mover = Callable[[Session, Actor, uuid.UUID, uuid.UUID], int]

_MOVERS: dict[str, Mover] = {}

NOTES_LIMIT = 4000


def register_mover(name: str, mover: Mover) -> None:
    """Register what moves ``name`` rows (e.g. "conversations") on a merge; registering again replaces it."""
    _MOVERS[name] = mover


@dataclass(frozen=True, slots=True)
class MergeResult:
    survivor: Customer
    merged: Customer
    moved: dict[str, int] = field(default_factory=dict)


def merge_customers(session: Session, actor: Actor, survivor_id: uuid.UUID, duplicate_id: uuid.UUID) -> MergeResult:
    """Merge ``duplicate_id`` into ``survivor_id``: identities, conversations, tickets (every registered mover),
    tags and notes move to the survivor, empty contact fields are filled from the duplicate, and the duplicate is
    marked merged (its page and API answer name the survivor). Both must be live profiles of the actor's tenant
    (another tenant's is simply not found); merging a profile into itself is refused."""
    actor.require(Perm.CUSTOMERS_WRITE)
    survivor = queries.get_customer(session, survivor_id, for_update=True)
    if survivor_id == duplicate_id:
        raise InvalidInput("a customer cannot be merged into itself")
    duplicate = queries.get_customer(session, duplicate_id, for_update=True)
    for customer in (survivor, duplicate):
        if customer.merged_into_id is not None:
            raise Conflict(f"customer {customer.id} was already merged into another profile")
    return do_merge(session, actor, survivor, duplicate)


def do_merge(session: Session, actor: Actor, survivor: Customer, duplicate: Customer) -> MergeResult:
    """Write the merge (trusts its caller to have authorized and checked both profiles)."""
    moved: dict[str, int] = {}
    result = session.execute(
        update(CustomerIdentity)
        .where(CustomerIdentity.customer_id == duplicate.id)
        .values(customer_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    moved["identities"] = int(getattr(result, "rowcount", 0) or 0)
    for name, mover in sorted(_MOVERS.items()):
        moved[name] = mover(session, actor, duplicate.id, survivor.id)
    # Profiles merged into the duplicate earlier now redirect straight to the survivor (no chains).
    session.execute(
        update(Customer)
        .where(Customer.merged_into_id == duplicate.id)
        .values(merged_into_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    filled = []
    for name in ("name", "email", "phone", "language"):
        if not getattr(survivor, name) and getattr(duplicate, name):
            setattr(survivor, name, getattr(duplicate, name))
            filled.append(name)
    survivor.tags = list(dict.fromkeys([*(survivor.tags or []), *(duplicate.tags or [])]))
    survivor.attributes = {**(duplicate.attributes or {}), **(survivor.attributes or {})}
    if duplicate.notes.strip():
        joined = f"{survivor.notes}\n\n{duplicate.notes}" if survivor.notes.strip() else duplicate.notes
        survivor.notes = joined[:NOTES_LIMIT]
    now = utcnow()
    survivor.updated_at = now
    duplicate.merged_into_id = survivor.id
    duplicate.merged_at = now
    duplicate.updated_at = now
    session.flush()
    details = {"survivor": str(survivor.id), "merged": str(duplicate.id), "moved": moved, "filled": filled}
    audit.record(session, actor, "customer.merge", "customer", survivor.id, details)
    audit.record(session, actor, "customer.merged_away", "customer", duplicate.id, details)
    publish_on_commit(session, CustomerMerged(tenant_id=actor.tenant_id, customer_id=survivor.id,
                                              merged_id=duplicate.id))  # fmt: skip
    publish_on_commit(session, CustomerUpdated(tenant_id=actor.tenant_id, customer_id=survivor.id))
    return MergeResult(survivor=survivor, merged=duplicate, moved=moved)
