"""Who is acting: the subject every action authorizes and every audit record names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from omnidesk.security.permissions import Perm, Role, has, require


class ActorKind(StrEnum):
    STAFF = "staff"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    tenant_id: uuid.UUID
    kind: ActorKind
    id: uuid.UUID | None
    role: Role
    team_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    request_id: str | None = None
    ip: str | None = None
    language: str = "en"

    def require(self, perm: Perm) -> None:
        require(self.role, perm)

    def can(self, perm: Perm) -> bool:
        return has(self.role, perm)

    @property
    def staff_id(self) -> uuid.UUID | None:
        return self.id if self.kind == ActorKind.STAFF else None


def system_actor(tenant_id: uuid.UUID) -> Actor:
    """The product itself acting (seeding, scheduled jobs); audited as ``system``."""
    return Actor(tenant_id=tenant_id, kind=ActorKind.SYSTEM, id=None, role=Role.ADMIN)
