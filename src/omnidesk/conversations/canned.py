"""Canned responses: per-tenant reply templates with placeholders, and filling them in for one conversation.

Placeholders are a fixed allow-list (``{customer_name}``, ``{agent_name}``, ``{workspace}``) substituted by plain
string replacement: a template is never evaluated, so a template cannot reach anything else.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.conversations.models import CannedResponse
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, NotFound
from omnidesk.core.schemas import Input, Output, SingleLine
from omnidesk.security.permissions import Perm

PLACEHOLDERS = ("customer_name", "agent_name", "workspace")

Shortcut = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[\w-]+$")]


class CannedCreate(Input):
    shortcut: Shortcut
    title: Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class CannedUpdate(Input):
    shortcut: Shortcut | None = None
    title: Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000)] | None = None


class CannedOut(Output):
    id: uuid.UUID
    shortcut: str
    title: str
    body: str


class CannedRendered(Output):
    id: uuid.UUID
    text: str = Field(description="the body with its placeholders filled in")


def fill(template: str, values: dict[str, str]) -> str:
    """Replace each known ``{placeholder}``; anything else in braces is left as typed."""
    out = template
    for name in PLACEHOLDERS:
        out = out.replace("{" + name + "}", values.get(name, ""))
    return out


def list_canned(session: Session, actor: Actor) -> list[CannedResponse]:
    actor.require(Perm.CONVERSATIONS_READ)
    return list(session.scalars(select(CannedResponse).order_by(CannedResponse.shortcut)))


def get_canned(session: Session, actor: Actor, canned_id: uuid.UUID) -> CannedResponse:
    actor.require(Perm.CONVERSATIONS_READ)
    row = session.scalar(select(CannedResponse).where(CannedResponse.id == canned_id))
    if row is None:
        raise NotFound("no canned response with this id")
    return row


def _unique(session: Session, shortcut: str, exclude: uuid.UUID | None = None) -> None:
    other = session.scalar(select(CannedResponse.id).where(CannedResponse.shortcut == shortcut))
    if other is not None and other != exclude:
        raise Conflict(f"the shortcut '{shortcut}' is already used")


def create_canned(session: Session, actor: Actor, data: CannedCreate) -> CannedResponse:
    actor.require(Perm.CANNED_RESPONSES_MANAGE)
    _unique(session, data.shortcut)
    row = CannedResponse(tenant_id=actor.tenant_id, shortcut=data.shortcut, title=data.title, body=data.body)
    session.add(row)
    session.flush()
    audit.record(session, actor, "canned.create", "canned_response", row.id, {"shortcut": row.shortcut})
    return row


def update_canned(session: Session, actor: Actor, canned_id: uuid.UUID, data: CannedUpdate) -> CannedResponse:
    actor.require(Perm.CANNED_RESPONSES_MANAGE)
    row = get_canned(session, actor, canned_id)
    before = {"shortcut": row.shortcut, "title": row.title, "body": row.body}
    if data.shortcut is not None:
        _unique(session, data.shortcut, exclude=row.id)
        row.shortcut = data.shortcut
    if data.title is not None:
        row.title = data.title
    if data.body is not None:
        row.body = data.body
    row.updated_at = utcnow()
    session.flush()
    after = {"shortcut": row.shortcut, "title": row.title, "body": row.body}
    audit.record(session, actor, "canned.update", "canned_response", row.id, audit.diff(before, after))
    return row


def delete_canned(session: Session, actor: Actor, canned_id: uuid.UUID) -> None:
    actor.require(Perm.CANNED_RESPONSES_MANAGE)
    row = get_canned(session, actor, canned_id)
    session.delete(row)
    audit.record(session, actor, "canned.delete", "canned_response", canned_id, {"shortcut": row.shortcut})
