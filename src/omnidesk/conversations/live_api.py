"""HTTP handlers for the live workspace: canned responses, agent read receipts, ratings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from sqlalchemy import select

from omnidesk.accounts.models import StaffUser, Tenant
from omnidesk.conversations import canned, feedback, queries
from omnidesk.conversations.canned import CannedCreate, CannedOut, CannedRendered, CannedUpdate
from omnidesk.conversations.schemas import ReceiptIn
from omnidesk.customers.models import Customer
from omnidesk.web.deps import ActorDep, DbDep

router = APIRouter(tags=["conversations"])


@router.get("/canned-responses")
def list_canned(db: DbDep, actor: ActorDep) -> list[CannedOut]:
    with db.tenant_transaction(actor.tenant_id) as s:
        return [CannedOut.model_validate(c) for c in canned.list_canned(s, actor)]


@router.post("/canned-responses", status_code=status.HTTP_201_CREATED)
def create_canned(data: CannedCreate, db: DbDep, actor: ActorDep) -> CannedOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return CannedOut.model_validate(canned.create_canned(s, actor, data))


@router.patch("/canned-responses/{canned_id}")
def update_canned(canned_id: uuid.UUID, data: CannedUpdate, db: DbDep, actor: ActorDep) -> CannedOut:
    with db.tenant_transaction(actor.tenant_id) as s:
        return CannedOut.model_validate(canned.update_canned(s, actor, canned_id, data))


@router.delete("/canned-responses/{canned_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_canned(canned_id: uuid.UUID, db: DbDep, actor: ActorDep) -> None:
    with db.tenant_transaction(actor.tenant_id) as s:
        canned.delete_canned(s, actor, canned_id)


@router.get("/conversations/{conversation_id}/canned-responses/{canned_id}")
def render_canned(conversation_id: uuid.UUID, canned_id: uuid.UUID, db: DbDep, actor: ActorDep) -> CannedRendered:
    """The canned response with its placeholders filled in for this conversation's customer and for you."""
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = queries.get_conversation(s, actor, conversation_id)
        row = canned.get_canned(s, actor, canned_id)
        customer_name = s.scalar(select(Customer.name).where(Customer.id == conversation.customer_id)) or ""
        agent_name = (
            s.scalar(select(StaffUser.display_name).where(StaffUser.id == actor.staff_id)) if actor.staff_id else ""
        )
        workspace = s.scalar(select(Tenant.name).where(Tenant.id == actor.tenant_id)) or ""
        values = {"customer_name": customer_name, "agent_name": agent_name or "", "workspace": workspace}
        return CannedRendered(id=row.id, text=canned.fill(row.body, values))


@router.post("/conversations/{conversation_id}/receipts", status_code=status.HTTP_204_NO_CONTENT)
def agent_receipts(conversation_id: uuid.UUID, data: ReceiptIn, db: DbDep, actor: ActorDep) -> None:
    """The agent side has received / read up to these sequence numbers (shown to the customer as read)."""
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = queries.get_conversation(s, actor, conversation_id)
        feedback.do_mark_read(
            s, actor, conversation, party="agent", delivered_seq=data.delivered_seq, read_seq=data.read_seq
        )


@router.get("/conversations/{conversation_id}/rating")
def get_rating(conversation_id: uuid.UUID, db: DbDep, actor: ActorDep) -> dict[str, int | str | None]:
    with db.tenant_transaction(actor.tenant_id) as s:
        conversation = queries.get_conversation(s, actor, conversation_id)
        rating = feedback.rating_of(s, conversation)
        return {"score": rating.score if rating else None, "comment": rating.comment if rating else None}
