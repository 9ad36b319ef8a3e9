"""Storing what a provider's webhook delivered, the same way for every provider (docs/channels.md, "Writing the
receiving side"): the tenant and its account are looked up, the provider authenticated by the adapter, then one
transaction stores the batch through ``conversations.receive_messages``; follow-up work (fetching media) is queued
as jobs in that transaction, and the webhook is answered after the commit with nothing left running."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request

from omnidesk.accounts.models import Tenant
from omnidesk.channels.base import InboundMessage
from omnidesk.channels.providers import actions
from omnidesk.conversations.intake import Outcome, Stored, receive_messages
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.errors import DomainError, NotFound
from omnidesk.security.keys import PurposeKeys

AfterStore = Callable[[Session, Sequence[tuple[InboundMessage, Stored]]], None]

CACHE_SECONDS = 5.0


class BadSignature(DomainError):
    """The request does not carry the provider's signature or secret: 401, and nothing was read or stored."""

    status = 401
    code = "bad-signature"
    title = "Bad signature"


@dataclass(frozen=True, slots=True)
class _Cached:
    account: actions.Account
    until: float


class Accounts:
    """The tenants' provider accounts by (workspace slug, provider), credentials included, kept a few seconds.

    A provider's webhook traffic is many small requests for one account; reading the tenant, the channel row and
    unsealing its secrets for each of them cost more than storing the message. A change made on the setup page is
    seen within ``CACHE_SECONDS`` by every process (no shared memory, no events needed for that)."""

    def __init__(self, db: Database, keys: PurposeKeys) -> None:
        self._db = db
        self._keys = keys
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], _Cached] = {}

    def get(self, slug: str, provider: str) -> actions.Account:
        """The enabled account, or NotFound (an unknown workspace and an unconfigured channel look the same)."""
        now = time.monotonic()
        hit = self._cache.get((slug, provider))
        if hit is not None and hit.until > now:
            return hit.account
        with self._db.platform_transaction() as s:
            tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == slug, Tenant.is_active.is_(True)))
        if tenant_id is None:
            raise NotFound("no such channel")
        with self._db.tenant_read(tenant_id) as s:
            account = actions.account_of(s, self._keys, tenant_id, provider)
        if account is None or not account.enabled:
            raise NotFound("no such channel")
        with self._lock:
            self._cache[(slug, provider)] = _Cached(account, now + CACHE_SECONDS)
        return account

    def forget(self, slug: str, provider: str) -> None:
        with self._lock:
            self._cache.pop((slug, provider), None)


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.provider_accounts
    return accounts


def store(
    db: Database,
    tenant_id: uuid.UUID,
    provider: str,
    batch: Sequence[InboundMessage],
    *,
    after: AfterStore | None = None,
) -> list[Outcome]:
    """Store ``batch`` in one transaction (and the channel's "last message received"); ``after`` runs in the same
    transaction with the messages newly stored (to queue their media downloads). When the same message arrives
    on two processes at once the batch fails on the unique key; it is then stored one by one, and the second copy
    finds the first."""
    if not batch:
        return []
    try:
        with db.tenant_transaction(tenant_id) as s:
            outcomes = receive_messages(s, system_actor(tenant_id), batch)
            _after(s, provider, batch, outcomes, after)
        return outcomes
    except IntegrityError:
        results: list[Outcome] = []
        for item in batch:
            with db.tenant_transaction(tenant_id) as s:
                outcome = receive_messages(s, system_actor(tenant_id), [item])
                _after(s, provider, [item], outcome, after)
            results.extend(outcome)
        return results


def _after(
    session: Session,
    provider: str,
    batch: Sequence[InboundMessage],
    outcomes: Sequence[Outcome],
    after: AfterStore | None,
) -> None:
    actions.do_record_received(session, provider)
    created = [(item, o) for item, o in zip(batch, outcomes, strict=True) if isinstance(o, Stored) and o.created]
    if after is not None and created:
        after(session, created)
