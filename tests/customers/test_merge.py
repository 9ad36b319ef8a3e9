"""Merging duplicate customer profiles: everything moves to the survivor in one audited transaction, the duplicate
redirects, and a merge never crosses workspaces or folds a profile into itself."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.schemas import ConversationCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.customers import actions as customer_actions
from omnidesk.customers import merge
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.customers.schemas import CustomerCreate
from omnidesk.events.outbox import queued_events
from omnidesk.events.types import CustomerMerged
from omnidesk.security.permissions import Role
from omnidesk.tickets import actions as ticket_actions
from omnidesk.tickets.models import Ticket, TicketChange
from omnidesk.tickets.schemas import TicketCreate
from tests.factories import World, sign_in


def _duplicate(db: Database, world: World, *, external: str = "crm-7781") -> Customer:
    """A second profile of Li Lei, met on another channel, with a conversation, a ticket, notes and tags."""
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        dup = customer_actions.create_customer(
            s,
            system,
            CustomerCreate(name="Li Lei", tags=["vip"], identities=[{"kind": "external", "value": external}]),  # type: ignore[list-item]
        )
        customer_actions.update_customer(s, system, dup.id, customer_actions.CustomerUpdate(notes="prefers e-mail"))
        conversation_actions.open_conversation(
            s, system, ConversationCreate(customer_id=dup.id, channel="email", subject="发票", message="请开发票")
        )
        ticket_actions.create_ticket(s, world.actor(Role.AGENT), TicketCreate(subject="Invoice", customer_id=dup.id))
        s.expunge(dup)
    return dup


def test_merge_moves_everything_to_the_survivor_in_one_audited_transaction(
    client: TestClient, db: Database, world: World
) -> None:
    dup = _duplicate(db, world)
    survivor = world.customer.id
    with db.tenant_transaction(world.tenant_id) as s:
        result = merge.merge_customers(s, world.actor(Role.AGENT), survivor, dup.id)
        assert result.moved == {"identities": 1, "conversations": 1, "tickets": 1}
        events = queued_events(s)
        assert [e for e in events if isinstance(e, CustomerMerged)] == [
            CustomerMerged(tenant_id=world.tenant_id, customer_id=survivor, merged_id=dup.id)
        ]
    with db.tenant_read(world.tenant_id) as s:
        kept = s.scalar(select(Customer).where(Customer.id == survivor))
        gone = s.scalar(select(Customer).where(Customer.id == dup.id))
        assert kept is not None and gone is not None
        assert gone.merged_into_id == survivor and gone.merged_at is not None
        assert "vip" in kept.tags and "prefers e-mail" in kept.notes
        owners = set(s.scalars(select(CustomerIdentity.customer_id).where(CustomerIdentity.value == "crm-7781")))
        assert owners == {survivor}
        assert set(s.scalars(select(Conversation.customer_id).where(Conversation.subject == "发票"))) == {survivor}
        ticket = s.scalar(select(Ticket).where(Ticket.subject == "Invoice"))
        assert ticket is not None and ticket.customer_id == survivor
        change = s.scalar(
            select(TicketChange).where(TicketChange.ticket_id == ticket.id, TicketChange.field == "customer_id")
        )
        assert change is not None and change.new == str(survivor)
        audits = {a.action: a for a in s.scalars(select(AuditRecord).where(AuditRecord.action.like("customer.merge%")))}
        assert audits["customer.merge"].target_id == str(survivor)
        assert audits["customer.merge"].changes["moved"] == {"identities": 1, "conversations": 1, "tickets": 1}
        assert audits["customer.merged_away"].target_id == str(dup.id)
    # The API names the survivor on the retired profile, leaves it out of lists, and search finds the survivor by
    # the external id it took over.
    h = world.headers(Role.AGENT)
    assert client.get(f"/api/v1/customers/{dup.id}", headers=h).json()["merged_into_id"] == str(survivor)
    found = client.get("/api/v1/customers", params={"q": "crm-7781"}, headers=h).json()["items"]
    assert [c["id"] for c in found] == [str(survivor)]
    # The retired profile's page redirects to the survivor.
    sign_in(client, world, Role.AGENT)
    page = client.get(f"/contacts/{dup.id}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith(f"/contacts/{survivor}")


def test_merge_over_the_api_refuses_another_workspace_and_itself(
    client: TestClient, db: Database, world: World, other_world: World
) -> None:
    dup = _duplicate(db, world, external="crm-9001")
    h = world.headers(Role.AGENT)
    theirs = other_world.customer.id
    # Another workspace's profile, as the duplicate or as the survivor, is not found: nothing moves.
    assert (
        client.post(f"/api/v1/customers/{dup.id}/merge", json={"duplicate_id": str(theirs)}, headers=h).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/customers/{theirs}/merge", json={"duplicate_id": str(dup.id)}, headers=h).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/customers/{dup.id}/merge", json={"duplicate_id": str(dup.id)}, headers=h).status_code
        == 422
    )
    # A role without customers.write may not merge.
    inspector = world.headers(Role.QUALITY_INSPECTOR)
    refused = client.post(
        f"/api/v1/customers/{world.customer.id}/merge", json={"duplicate_id": str(dup.id)}, headers=inspector
    )
    assert refused.status_code == 403
    with db.tenant_read(other_world.tenant_id) as s:
        other = s.scalar(select(Customer).where(Customer.id == theirs))
        assert other is not None and other.merged_into_id is None
        assert (
            s.scalar(select(Conversation.customer_id).where(Conversation.id == other_world.conversation.id)) == theirs
        )
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(Customer.merged_into_id).where(Customer.id == dup.id)) is None
        assert not list(s.scalars(select(AuditRecord).where(AuditRecord.action == "customer.merge")))
    # Done properly, it works once; merging the retired profile again is a conflict.
    ok = client.post(f"/api/v1/customers/{world.customer.id}/merge", json={"duplicate_id": str(dup.id)}, headers=h)
    assert ok.status_code == 200, ok.text
    again = client.post(f"/api/v1/customers/{world.customer.id}/merge", json={"duplicate_id": str(dup.id)}, headers=h)
    assert again.status_code == 409


def test_readers_without_personal_data_see_masked_contacts_and_cannot_search_by_address(
    client: TestClient, world: World
) -> None:
    sign_in(client, world, Role.QUALITY_INSPECTOR)
    profile = client.get(f"/contacts/{world.customer.id}")
    assert profile.status_code == 200
    assert world.customer.email not in profile.text and "+8613800138000" not in profile.text
    assert "l***@" in profile.text
    # Searching by an address they may not see finds nothing (no oracle); by name it works.
    assert str(world.customer.id) not in client.get("/contacts", params={"q": world.customer.email}).text
    assert str(world.customer.id) in client.get("/contacts", params={"q": "李雷"}).text


def test_roles_without_customer_access_get_403_on_contacts(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.AUDITOR)
    assert client.get("/contacts").status_code == 403
    assert client.get(f"/contacts/{world.customer.id}").status_code == 403
