"""The contacts pages without a browser: pagination, inline validation, the audit of a list read in clear."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.customers import actions as customer_actions
from omnidesk.customers.models import Customer
from omnidesk.customers.schemas import CustomerCreate
from omnidesk.security.permissions import Role
from tests.factories import World, session_csrf, sign_in


def test_search_pages_through_results_and_is_audited(client: TestClient, db: Database, world: World) -> None:
    tag = uuid.uuid4().hex[:6]
    with db.tenant_transaction(world.tenant_id) as s:
        for i in range(30):
            customer_actions.create_customer(
                s, system_actor(world.tenant_id), CustomerCreate(name=f"客户 {tag} {i:02d}")
            )
    sign_in(client, world, Role.AGENT)
    first = client.get("/contacts", params={"q": tag})
    assert first.status_code == 200
    names = re.findall(rf"客户 {tag} (\d\d)", first.text)
    assert len(names) == 25
    cursor = re.search(r'cursor=([^"&]+)" rel="next"', first.text)
    assert cursor
    second = client.get(f"/contacts?q={tag}&cursor={cursor.group(1)}")
    rest = re.findall(rf"客户 {tag} (\d\d)", second.text)
    assert len(rest) == 5 and not set(rest) & set(names) and 'rel="next"' not in second.text
    with db.tenant_read(world.tenant_id) as s:
        reads = list(s.scalars(select(AuditRecord).where(AuditRecord.action == "customer.list_read")))
    assert {r.changes["count"] for r in reads} >= {25, 5}


def test_an_invalid_edit_is_explained_beside_the_field_and_changes_nothing(
    client: TestClient, db: Database, world: World
) -> None:
    sign_in(client, world, Role.AGENT)
    csrf = session_csrf(client)
    form = {"csrf": csrf, "name": "李雷", "email": "nope", "phone": "12", "tags": "vip, 坏 tag", "notes": ""}
    response = client.post(f"/contacts/{world.customer.id}/edit", data=form, headers={"accept-language": "en"})
    assert response.status_code == 422
    for field in ("email", "phone", "tags"):
        assert f'id="err-{field}"' in response.text
    assert 'aria-describedby="err-email"' in response.text and 'value="nope"' in response.text
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(Customer.email).where(Customer.id == world.customer.id)) == world.customer.email
    form.update(email="li.lei.new@example.com", phone="+86 139 0000 1111", tags="vip, 老客户")
    saved = client.post(f"/contacts/{world.customer.id}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303
    with db.tenant_read(world.tenant_id) as s:
        customer = s.scalar(select(Customer).where(Customer.id == world.customer.id))
        assert (
            customer is not None and customer.email == "li.lei.new@example.com" and customer.tags == ["vip", "老客户"]
        )
