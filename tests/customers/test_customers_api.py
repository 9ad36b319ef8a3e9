"""Customers with identities on several channels."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import World


def test_create_with_identities_search_and_update(client: TestClient, world: World) -> None:
    h = world.headers()
    body = {
        "name": "韩梅梅",
        "email": "Han.MeiMei@Example.com",
        "phone": "+86 139 0013 9000",
        "tags": ["vip"],
        "identities": [{"kind": "wechat", "value": "wx_han"}, {"kind": "external", "value": "crm:42"}],
    }
    created = client.post("/api/v1/customers", json=body, headers=h)
    assert created.status_code == 201, created.text
    customer = created.json()
    kinds = {i["kind"]: i["value"] for i in customer["identities"]}
    assert kinds == {
        "wechat": "wx_han",
        "external": "crm:42",
        "email": "han.meimei@example.com",
        "phone": "+8613900139000",
    }
    found = client.get("/api/v1/customers", params={"q": "梅梅"}, headers=h).json()["items"]
    assert [c["id"] for c in found] == [customer["id"]]
    assert client.get("/api/v1/customers", params={"q": "%"}, headers=h).json()["items"] == []
    patched = client.patch(f"/api/v1/customers/{customer['id']}", json={"tags": ["vip", "elderly"]}, headers=h).json()
    assert patched["tags"] == ["vip", "elderly"]


def test_an_identity_belongs_to_one_customer(client: TestClient, world: World) -> None:
    h = world.headers()
    first = client.post(
        "/api/v1/customers", json={"name": "A", "identities": [{"kind": "wechat", "value": "wx_1"}]}, headers=h
    )
    assert first.status_code == 201
    second = client.post(
        "/api/v1/customers",
        json={"name": "Bob Refused", "identities": [{"kind": "wechat", "value": "wx_1"}]},
        headers=h,
    )
    assert second.status_code == 409
    # Nothing of the refused customer was written.
    assert [
        c["name"] for c in client.get("/api/v1/customers", params={"q": "Bob Refused"}, headers=h).json()["items"]
    ] == []
    cid = first.json()["id"]
    added = client.post(
        f"/api/v1/customers/{cid}/identities", json={"kind": "phone", "value": "+44 7700 900123"}, headers=h
    )
    assert added.status_code == 201 and added.json()["value"] == "+447700900123"
    assert client.delete(f"/api/v1/customers/{cid}/identities/{added.json()['id']}", headers=h).status_code == 204
    bad = client.post(f"/api/v1/customers/{cid}/identities", json={"kind": "email", "value": "not an email"}, headers=h)
    assert bad.status_code == 422
