"""Who is acting: the subject every action authorizes and every audit record names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from omnidesk.core.errors import PermissionDenied
from omnidesk.security.permissions import Perm, Role, has, require


class ActorKind(StrEnum):
    STAFF = "staff"
    API_KEY = "api_key"
    SYSTEM = "system"
    VISITOR = "visitor"


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
    session_id: uuid.UUID | None = None  # the browser session a staff member acts through, if any

    def require(self, perm: Perm) -> None:
        if self.kind == ActorKind.VISITOR:
            raise PermissionDenied("a widget visitor holds no staff permissions")
        require(self.role, perm)

    def can(self, perm: Perm) -> bool:
        return self.kind != ActorKind.VISITOR and has(self.role, perm)

    @property
    def staff_id(self) -> uuid.UUID | None:
        return self.id if self.kind == ActorKind.STAFF else None


def system_actor(tenant_id: uuid.UUID) -> Actor:
    """The product itself acting (seeding, scheduled jobs); audited as ``system``."""
    return Actor(tenant_id=tenant_id, kind=ActorKind.SYSTEM, id=None, role=Role.ADMIN)


def visitor_actor(tenant_id: uuid.UUID, customer_id: uuid.UUID, ip: str | None = None) -> Actor:
    """A widget visitor acting as customer ``customer_id``; it passes no permission check (``require`` refuses),
    so it can only drive the widget's own actions, which check ownership of each conversation themselves."""
    return Actor(tenant_id=tenant_id, kind=ActorKind.VISITOR, id=customer_id, role=Role.AGENT, ip=ip)
