"""What the audit trail and customer views show: personal data masked by the reader's permissions, credentials
never, and visitor ids (bearer credentials) masked for everyone."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, sign_in, start_visitor, visitor_conversation

API = "/api/v1"


def _audit(client: TestClient, world: World, role: Role, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/audit", params={"limit": "200", **params}, headers=world.headers(role))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_auditor_reads_a_phone_change_masked_and_an_admin_in_clear(client: TestClient, world: World) -> None:
    old_phone, new_phone = "+8613800138000", "+8613912345678"
    r = client.patch(
        f"{API}/customers/{world.customer.id}",
        json={"phone": new_phone, "email": "han.meimei@example.com"},
        headers=world.headers(Role.SUPERVISOR),
    )
    assert r.status_code == 200, r.text

    [seen_by_auditor] = _audit(client, world, Role.AUDITOR, action="customer.update")
    text = json.dumps(seen_by_auditor, ensure_ascii=False)
    assert old_phone not in text and new_phone not in text and "han.meimei@" not in text
    assert seen_by_auditor["changes"]["phone"] == ["+86*******8000", "+86*******5678"]
    assert seen_by_auditor["changes"]["email"][1] == "h***@example.com"
    assert seen_by_auditor["actor_type"] == "api_key" and seen_by_auditor["ip"] and seen_by_auditor["request_id"]

    [seen_by_admin] = _audit(client, world, Role.ADMIN, action="customer.update")
    assert seen_by_admin["changes"]["phone"] == [old_phone, new_phone]
    assert seen_by_admin["changes"]["email"][1] == "han.meimei@example.com"


def test_no_audit_record_ever_shows_a_credential(client: TestClient, db: Database, world: World) -> None:
    admin = world.headers(Role.ADMIN)
    key = client.post(f"{API}/api-keys", json={"name": "CRM sync", "role": "agent"}, headers=admin).json()["key"]
    staff = client.post(
        f"{API}/staff",
        json={"email": f"new.hire@{world.slug}.example", "display_name": "新同事", "role": "agent"},
        headers=admin,
    ).json()
    secret = client.get(f"{API}/widget/config/identity-secret", headers=admin).json()["identity_secret"]
    client.patch(f"{API}/widget/config", json={"rotate_identity_secret": True}, headers=admin)
    visitor = start_visitor(client, world.slug)
    # A row written before the redaction rules existed (or by a careless caller): it is cleaned when read.
    with db.tenant_transaction(world.tenant_id) as s:
        s.add(
            AuditRecord(
                tenant_id=world.tenant_id,
                actor_type="system",
                action="legacy.import",
                target_type="api_key",
                target_id=str(uuid.uuid4()),
                changes={
                    "api_key": "sk-live-1234567890",
                    "nested": {"password": "hunter2", "token_digest": "ab" * 32},
                    "note": f"pasted {key} and visitor {visitor['visitor_id']}",
                    "identity_secret": "rotated",
                },
            )
        )

    credentials = [key, key.split("_", 2)[2], secret, staff["one_time_password"], visitor["visitor_id"]]
    credentials += ["sk-live-1234567890", "hunter2", "ab" * 32]
    for role in (Role.ADMIN, Role.AUDITOR):
        records = _audit(client, world, role)
        text = json.dumps(records, ensure_ascii=False)
        assert [c for c in credentials if c and c in text] == []
        [legacy] = [r for r in records if r["action"] == "legacy.import"]
        assert legacy["changes"]["api_key"] == "[redacted]"
        assert legacy["changes"]["nested"] == {"password": "[redacted]", "token_digest": "[redacted]"}
        assert legacy["changes"]["note"] == "pasted [redacted] and visitor [redacted]"
        assert legacy["changes"]["identity_secret"] == "rotated"  # a marker of what happened, not a secret


def test_visitor_ids_are_masked_for_everyone_and_external_ids_without_pii(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "我的包裹呢")
    customer_id = client.get(f"{API}/conversations/{conv['id']}", headers=world.headers()).json()["customer_id"]
    client.post(
        f"{API}/customers/{customer_id}/identities",
        json={"kind": "external", "value": "crm-user-884213"},
        headers=world.headers(),
    )
    visitor_id = visitor["visitor_id"]

    def identities(role: Role) -> dict[str, str]:
        body = client.get(f"{API}/customers/{customer_id}", headers=world.headers(role)).json()
        return {i["kind"]: i["value"] for i in body["identities"]}

    inspector = identities(Role.QUALITY_INSPECTOR)
    assert inspector["web_visitor"] == "…" + visitor_id[-4:]
    assert inspector["external"] == "cr***13"
    listed = client.get(f"{API}/customers", headers=world.headers(Role.QUALITY_INSPECTOR)).text
    assert visitor_id not in listed and "crm-user-884213" not in listed
    admin = identities(Role.ADMIN)
    assert admin["web_visitor"] == "…" + visitor_id[-4:]
    assert admin["external"] == "crm-user-884213"

    # The workspace pane shows the same, and says that values are masked.
    sign_in(client, world, Role.QUALITY_INSPECTOR)
    pane = client.get("/inbox", params={"view": "all", "c": conv["id"]})
    assert pane.status_code == 200
    assert visitor_id not in pane.text and "crm-user-884213" not in pane.text
    assert "…" + visitor_id[-4:] in pane.text and 'data-test="identities-masked"' in pane.text
