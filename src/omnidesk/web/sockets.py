"""Minting a staff member's dedicated socket token through their authenticated session or API key.

An HTTP handler, so it lives with the web adapters: the gateway (``realtime/``) knows nothing of accounts or the audit
trail, it only redeems the tokens minted here."""

from __future__ import annotations

from fastapi import APIRouter

from omnidesk.accounts.auth import socket_epoch
from omnidesk.compliance import audit
from omnidesk.realtime.tokens import TTL_SECONDS, SocketGrant, mint
from omnidesk.security.keys import keyring
from omnidesk.security.permissions import Perm
from omnidesk.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(tags=["realtime"])


@router.post("/realtime/token")
def socket_token(actor: ActorDep, settings: SettingsDep, db: DbDep) -> dict[str, str | int]:
    """A short-lived token for the first frame of ``/api/v1/realtime/ws``: it carries what the caller may see
    (their tenant, role scope and teams) so the gateway authorizes every event without the database."""
    actor.require(Perm.CONVERSATIONS_READ)
    grant = SocketGrant(
        tenant_id=actor.tenant_id,
        kind="staff",
        staff_id=actor.staff_id,
        # An API key is nobody's inbox: without read_all its socket gets what an agent with no assignments and
        # no teams gets (the unassigned queue), exactly like its HTTP reads (conversations.queries.visible_to).
        read_all=actor.can(Perm.CONVERSATIONS_READ_ALL),
        team_ids=actor.team_ids,
        supervise=actor.can(Perm.ROUTING_SUPERVISE),
        epoch=socket_epoch(db, actor),
        session_id=actor.session_id,
    )
    # A socket token opens a live feed of the tenant's conversations for five minutes: who got one, with what scope.
    scope = {"read_all": grant.read_all, "teams": len(grant.team_ids), "supervise": grant.supervise}
    audit.record_read(db, actor, "realtime.token_mint", actor.kind.value, actor.id or actor.tenant_id, scope)
    return {"token": mint(keyring(settings), grant), "expires_in": TTL_SECONDS}
