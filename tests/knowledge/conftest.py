"""A light tenant for knowledge tests: API keys per role and no staff passwords to hash (the persona ``world``
costs ~2 s per test; most knowledge tests need only a tenant and credentials)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import ApiKeyCreate
from omnidesk.core.actor import Actor, ActorKind, system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import make_tenant


@dataclass
class Shop:
    """A tenant with one API key per role; actors act as those keys."""

    tenant_id: uuid.UUID
    slug: str
    keys: dict[Role, str]
    key_ids: dict[Role, uuid.UUID]

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def actor(self, role: Role = Role.ADMIN) -> Actor:
        return Actor(tenant_id=self.tenant_id, kind=ActorKind.API_KEY, id=self.key_ids[role], role=role)


def make_shop(db: Database) -> Shop:
    tenant_id, slug, _ = make_tenant(db)
    keys: dict[Role, str] = {}
    key_ids: dict[Role, uuid.UUID] = {}
    with db.tenant_transaction(tenant_id) as s:
        for role in Role:
            key, keys[role] = accounts.do_create_api_key(
                s, system_actor(tenant_id), ApiKeyCreate(name=f"{role.value} key", role=role)
            )
            key_ids[role] = key.id
    return Shop(tenant_id, slug, keys, key_ids)


@pytest.fixture
def shop(db: Database) -> Shop:
    return make_shop(db)


@pytest.fixture
def other_shop(db: Database) -> Shop:
    return make_shop(db)
