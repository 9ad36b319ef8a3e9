"""The widget's pre-chat and offline forms, and the agent's display name as the visitor sees it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.customers.models import Customer, CustomerIdentity
from omnidesk.security.permissions import Role
from omnidesk.tickets.models import Ticket
from tests.factories import World, session_csrf, sign_in, start_visitor, visitor_conversation

PRECHAT = {
    "enabled": True,
    "fields": [
        {"key": "name", "required": True},
        {"key": "email", "required": True},
        {"key": "phone", "required": False},
        {"key": "order_number", "label": "订单号 Order number", "required": True},
        {"key": "company", "label": "公司", "enabled": False},
    ],
}


def _configure(client: TestClient, world: World, **changes: Any) -> dict[str, Any]:
    response = client.patch("/api/v1/widget/config", json=changes, headers=world.headers())
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _customer_of(db: Database, world: World, visitor: dict[str, Any]) -> uuid.UUID:
    with db.tenant_read(world.tenant_id) as s:
        customer_id = s.scalar(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.kind == "web_visitor", CustomerIdentity.value == visitor["visitor_id"]
            )
        )
    assert customer_id is not None
    return customer_id


def _contact_audits(db: Database, world: World, customer_id: uuid.UUID) -> int:
    with db.tenant_read(world.tenant_id) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action == "customer.contact_update", AuditRecord.target_id == str(customer_id))
            )
            or 0
        )


def test_prechat_errors_name_each_field_in_the_visitors_language_and_change_nothing(
    client: TestClient, world: World, db: Database
) -> None:
    config = _configure(client, world, prechat=PRECHAT)
    assert config["prechat"]["enabled"] is True and len(config["prechat"]["fields"]) == 5
    visitor = start_visitor(client, world.slug, language="zh-CN")
    customer_id = _customer_of(db, world, visitor)
    url = f"{visitor['base']}/prechat"
    bad = {"values": {"email": "not-an-address", "phone": "call me", "company": "ACME"}}
    zh = client.post(url, json=bad, headers={**visitor["headers"], "Accept-Language": "zh-CN"})
    assert zh.status_code == 422, zh.text
    errors = {e["field"]: e["message"] for e in zh.json()["errors"]}
    # Missing required fields, a wrong e-mail and phone, and a field that is switched off: each named, in Chinese.
    assert set(errors) == {"name", "email", "phone", "order_number", "company"}
    assert errors["name"] == "称呼：请填写此项。"
    assert "电子邮箱" in errors["email"] and "订单号 Order number" in errors["order_number"]
    en = client.post(url, json=bad, headers={**visitor["headers"], "Accept-Language": "en"})
    assert {e["field"]: e["message"] for e in en.json()["errors"]}["name"] == "Name: please fill this in."
    with db.tenant_read(world.tenant_id) as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        assert not customer.name and not customer.email and not customer.phone
        assert not (customer.attributes or {}).get("order_number")
    assert _contact_audits(db, world, customer_id) == 0

    good = {"values": {"name": "韩梅梅", "email": "Han.Meimei@Example.com", "order_number": "SO-20261207"}}
    ok = client.post(url, json=good, headers=visitor["headers"])
    assert ok.status_code == 200, ok.text
    with db.tenant_read(world.tenant_id) as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        assert (customer.name, customer.email) == ("韩梅梅", "han.meimei@example.com")
        assert customer.attributes["order_number"] == "SO-20261207"
    assert _contact_audits(db, world, customer_id) == 1
    # The agent's inbox shows the answers beside the conversation.
    conv = visitor_conversation(client, visitor, "你好")
    sign_in(client, world, Role.AGENT)
    pane = client.get(f"/inbox?c={conv['id']}").text
    assert "SO-20261207" in pane and "订单号 Order number" in pane


def test_a_bad_form_setting_is_refused(client: TestClient, world: World) -> None:
    dup = {"enabled": True, "fields": [{"key": "email"}, {"key": "email"}]}
    assert client.patch("/api/v1/widget/config", json={"prechat": dup}, headers=world.headers()).status_code == 422
    unlabeled = {"enabled": True, "fields": [{"key": "vip_code"}]}
    response = client.patch("/api/v1/widget/config", json={"prechat": unlabeled}, headers=world.headers())
    assert response.status_code == 422
    agent = client.patch("/api/v1/widget/config", json={"offline_form": "no_agents"}, headers=world.headers(Role.AGENT))
    assert agent.status_code == 403


def test_the_offline_form_creates_exactly_one_ticket_for_the_visitor(
    client: TestClient, world: World, db: Database
) -> None:
    visitor = start_visitor(client, world.slug, language="en")
    before = client.get(f"{visitor['base']}/availability", headers=visitor["headers"]).json()
    assert before == {"agents_online": 0, "offline_form": False}  # the tenant has not chosen the form
    body = {"name": "Jo March", "email": "jo@example.com", "message": "My parcel never arrived.\nOrder SO-1."}
    assert client.post(f"{visitor['base']}/offline", json=body, headers=visitor["headers"]).status_code == 404
    _configure(client, world, offline_form="no_agents")
    assert client.get(f"{visitor['base']}/availability", headers=visitor["headers"]).json()["offline_form"] is True
    customer_id = _customer_of(db, world, visitor)
    url = f"{visitor['base']}/offline"

    def tickets() -> list[Ticket]:
        with db.tenant_read(world.tenant_id) as s:
            return list(s.scalars(select(Ticket).where(Ticket.customer_id == customer_id)))

    refused = client.post(url, json={"name": "Jo", "email": "jo@", "message": " "}, headers=visitor["headers"])
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"email", "message"}
    assert tickets() == []
    done = client.post(url, json=body, headers={**visitor["headers"], "Accept-Language": "zh-CN"})
    assert done.status_code == 201, done.text
    number = done.json()["ticket_number"]
    assert f"#{number}" in done.json()["message"] and "电子邮件" in done.json()["message"]
    [ticket] = tickets()
    assert ticket.number == number and ticket.channel == "web"
    assert ticket.subject == "My parcel never arrived. Order SO-1."
    with db.tenant_read(world.tenant_id) as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.email == "jo@example.com" and customer.name == "Jo March"


def test_the_visitor_sees_the_agents_display_name_and_never_their_id_or_email(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "有人吗？")
    agent = world.staff[Role.AGENT]
    with client.websocket_connect("/api/v1/realtime/ws") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": visitor["socket_token"]}))
        assert ws.receive_json()["type"] == "ready"
        sign_in(client, world, Role.AGENT)
        sent = client.post(
            f"/api/v1/conversations/{conv['id']}/messages",
            json={"body": "您好，我来帮您查"},
            headers={"X-CSRF-Token": session_csrf(client)},
        )
        assert sent.status_code == 201, sent.text
        event: dict[str, Any] = {}
        for _ in range(20):
            event = ws.receive_json()
            if event.get("type") == "message" and event["message"]["sender_type"] == "agent":
                break
    raw = json.dumps(event, ensure_ascii=False)
    assert event["message"]["sender_name"] == agent.display_name == "agent 员工"
    assert event["message"]["sender_id"] is None
    assert str(agent.id) not in raw and world.emails[Role.AGENT] not in raw
    # Resuming over HTTP gives the same: the name, no id.
    page = client.get(f"{visitor['base']}/conversations/{conv['id']}/messages", headers=visitor["headers"]).json()
    [reply] = [m for m in page["items"] if m["sender_type"] == "agent"]
    assert reply["sender_name"] == "agent 员工" and reply["sender_id"] is None
