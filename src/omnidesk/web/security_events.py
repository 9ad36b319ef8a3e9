"""Security events of a request, recorded after it: authorization failures and probes for objects by id.

* **Denials.** Every :class:`PermissionDenied` raised while serving a request (noted by ``core/denials``, even when
  a page caught it to show a friendly message) and every 403 answer becomes an audit record
  ``security.denied`` of the caller's tenant, with who, where (method, route, path), why, the IP and the request
  id. It is written in its own short transaction after the request's own one has rolled back.
* **Probes.** A 404 answer to a path naming an object by id (``/tickets/{ticket_id}``, ...) is looked up once,
  across tenants: an id that exists in *another* tenant (ids are random: knowing one is itself a sign) is logged
  as a warning and audited as ``security.cross_tenant_probe`` in the tenant that owns the object (with the
  prober's actor id, IP and request id), never in the prober's own trail, which would reveal that the id exists;
  an id of the caller's own tenant that they may not see is audited as ``security.not_visible``. Ids that exist
  nowhere are only logged.

Nothing here runs on the happy path: a request that is neither refused nor answered 404 costs one context
variable and one comparison. Every event is also a line of the ``omnidesk.security`` log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnidesk.compliance import audit
from omnidesk.compliance.models import AuditRecord
from omnidesk.core import denials
from omnidesk.core.actor import Actor, ActorKind
from omnidesk.core.db import Base, Database

log = logging.getLogger("omnidesk.security")

# Path parameters that name an object, and the table it lives in. The tenant-isolation walk
# (tests/web/test_tenant_isolation.py) knows the same names.
ID_PARAMETERS: dict[str, str] = {
    "approval_id": "ticket_approvals",
    "article_id": "kb_articles",
    "attachment_id": "ticket_attachments",
    "canned_id": "canned_responses",
    "category_id": "kb_categories",
    "conversation_id": "conversations",
    "customer_id": "customers",
    "faq_suggestion_id": "bot_faq_suggestions",
    "identity_id": "customer_identities",
    "key_id": "api_keys",
    "notification_id": "notifications",
    "rule_id": "automation_rules",
    "staff_id": "staff_users",
    "suggestion_id": "kb_suggestions",
    "survey_id": "ticket_surveys",
    "team_id": "teams",
    "ticket_id": "tickets",
    "user_id": "staff_users",
    "view_id": "ticket_views",
}

_AUDITED_KINDS = frozenset({ActorKind.STAFF, ActorKind.API_KEY})


class SecurityEvents:
    """ASGI middleware: collects the denials of a request and, after it, records them and any 404 probe."""

    def __init__(self, app: ASGIApp, db_getter: Callable[[], Database]) -> None:
        self.app = app
        self.db_getter = db_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        noted, token = denials.start()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            denials.stop(token)
        if noted or status["code"] in (403, 404):
            try:
                await run_in_threadpool(record, self.db_getter(), scope, status["code"], noted)
            except Exception:  # the answer has been sent; a failed record must not turn into a second error
                log.exception("security event not recorded", extra={"path": scope.get("path", "")[:200]})


def record(db: Database, scope: Scope, status: int, noted: list[str]) -> None:
    actor: Actor | None = scope.get("state", {}).get("actor")
    method = scope.get("method", "")
    route = _template(scope)
    where = {"method": method, "route": route, "path": _path(scope)[:300], "status": status}
    if noted or status == 403:
        _denied(db, actor, where, noted)
    if status == 404:
        _probe(db, actor, where, scope.get("path_params") or {})


def _denied(db: Database, actor: Actor | None, where: dict[str, Any], noted: list[str]) -> None:
    reasons = [n[:300] for n in noted] or ["answered 403"]
    log.warning("authorization failure", extra={**where, **_who(actor), "reason": reasons[0]})
    if actor is not None and actor.kind in _AUDITED_KINDS:
        with db.tenant_transaction(actor.tenant_id) as s:
            target = f"{where['method']} {where['route']}"[:64]
            audit.record(s, actor, "security.denied", "route", target, {**where, "reasons": reasons})


def _probe(db: Database, actor: Actor | None, where: dict[str, Any], params: dict[str, Any]) -> None:
    ids: dict[str, uuid.UUID] = {}
    for name, value in params.items():
        parsed = _as_uuid(value) if name in ID_PARAMETERS else None
        if parsed is not None:
            ids[name] = parsed
    if not ids:
        return
    owners: dict[str, uuid.UUID | None] = {}
    with db.platform_read() as s:
        for name, value in ids.items():
            table = Base.metadata.tables[ID_PARAMETERS[name]]
            owners[name] = s.scalar(select(table.c.tenant_id).where(table.c.id == value))
    for name, owner in owners.items():
        found = {"param": name, "id": str(ids[name]), "owner_tenant": str(owner) if owner else None}
        if owner is None or actor is None:
            log.info("not found", extra={**where, **_who(actor), **found})
            continue
        if actor.kind not in _AUDITED_KINDS:
            log.info("not found", extra={**where, **_who(actor), **found})
            continue
        if owner != actor.tenant_id:
            log.warning("cross-tenant probe", extra={**where, **_who(actor), **found})
            # Recorded where the object lives, for that tenant's auditor. Never in the caller's own trail: a record
            # there would tell the caller's admins which ids exist elsewhere, which the identical 404 hides.
            changes = {**where, "param": name, "actor_of_another_workspace": True}
            row = audit.values(actor, "security.cross_tenant_probe", ID_PARAMETERS[name], ids[name], changes)
            with db.tenant_transaction(owner) as s:
                s.add(AuditRecord(**{**row, "tenant_id": owner}))
        else:
            log.info("object not visible to the caller", extra={**where, **_who(actor), **found})
            with db.tenant_transaction(actor.tenant_id) as s:
                audit.record(s, actor, "security.not_visible", ID_PARAMETERS[name], ids[name], {**where, "param": name})


def _template(scope: Scope) -> str:
    """The route as written (``/api/v1/tickets/{ticket_id}``): the path with each parameter's value put back as
    its name (routers nested in routers know only their own part of the template)."""
    if scope.get("route") is None:
        return "unmatched"
    values = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    segments = str(scope.get("path", "")).split("/")
    return "/".join("{" + values[seg] + "}" if seg in values else seg for seg in segments)[:200]


def _path(scope: Scope) -> str:
    """The path as asked, except the values of parameters named like credentials (a reset link's token)."""
    secret = {str(v) for k, v in (scope.get("path_params") or {}).items() if audit.is_credential_field(k)}
    segments = str(scope.get("path", "")).split("/")
    return "/".join(audit.REDACTED if seg in secret else seg for seg in segments)


def _who(actor: Actor | None) -> dict[str, Any]:
    if actor is None:
        return {"actor_type": None}
    return {
        "tenant_id": str(actor.tenant_id),
        "actor_type": actor.kind.value,
        "actor_id": str(actor.id) if actor.id else None,
        "ip": actor.ip,
        "request_id": actor.request_id,
    }


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
