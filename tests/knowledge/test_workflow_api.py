"""The staff API: workflow, versions, diffs, rollback, suggestions, permissions, audit, isolation."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.core.errors import NotFound
from omnidesk.knowledge import queries
from omnidesk.knowledge.api import reader_of
from omnidesk.knowledge.search import CACHE
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.knowledge.conftest import Shop

KM = Role.KNOWLEDGE_MANAGER


def _create(client: TestClient, world: World | Shop, **extra: object) -> dict[str, object]:
    body = {"kind": "faq", "language": "zh-CN", "title": "怎么退货？", "body": "七天内可退。", **extra}
    r = client.post("/api/v1/knowledge/articles", json=body, headers=world.headers(KM))
    assert r.status_code == 201, r.text
    return r.json()


def test_draft_review_publish_archive_with_versions_diff_and_rollback(
    client: TestClient, shop: Shop, db: Database
) -> None:
    h = shop.headers(KM)
    art = _create(client, shop, variants=["退货流程"], tags=["售后"])
    assert art["status"] == "draft" and art["current_version"] == 1
    aid = art["id"]
    # A draft is not searchable yet.
    assert client.get("/api/v1/knowledge/search", params={"q": "退货"}, headers=h).json() == []
    r = client.post(f"/api/v1/knowledge/articles/{aid}/status", json={"status": "in_review"}, headers=h)
    assert r.json()["status"] == "in_review"
    r = client.post(f"/api/v1/knowledge/articles/{aid}/status", json={"status": "published"}, headers=h)
    assert r.json()["status"] == "published" and r.json()["published_by"]
    publisher = r.json()["published_by"]
    hits = client.get("/api/v1/knowledge/search", params={"q": "退货"}, headers=h).json()
    assert [x["id"] for x in hits] == [aid] and "<mark>" in hits[0]["title_html"]

    r = client.patch(f"/api/v1/knowledge/articles/{aid}", json={"body": "十五天内可退。", "note": "新政策"}, headers=h)
    assert r.status_code == 200 and r.json()["current_version"] == 2
    diff = client.get(f"/api/v1/knowledge/articles/{aid}/diff", params={"from": 1, "to": 2}, headers=h).json()
    assert "-七天内可退。" in diff["fields"]["body"] and "+十五天内可退。" in diff["fields"]["body"]
    r = client.post(f"/api/v1/knowledge/articles/{aid}/rollback", json={"to_version": 1}, headers=h)
    assert r.json()["body"] == "七天内可退。" and r.json()["current_version"] == 3
    versions = client.get(f"/api/v1/knowledge/articles/{aid}/versions", headers=h).json()
    assert [v["number"] for v in versions] == [3, 2, 1]

    r = client.post(f"/api/v1/knowledge/articles/{aid}/status", json={"status": "archived"}, headers=h)
    assert r.json()["status"] == "archived"
    assert client.get("/api/v1/knowledge/search", params={"q": "退货"}, headers=h).json() == []
    # Illegal move.
    r = client.post(f"/api/v1/knowledge/articles/{aid}/status", json={"status": "in_review"}, headers=h)
    assert r.status_code == 409

    with db.tenant_transaction(shop.tenant_id) as s:
        actions = {a.action: a.actor_id for a in s.scalars(select(AuditRecord).where(AuditRecord.target_id == aid))}
    assert str(actions["knowledge.publish"]) == publisher  # the knowledge manager's API key
    assert "knowledge.archive" in actions and "knowledge.article_rollback" in actions


def test_agents_suggest_edits_and_cannot_publish(client: TestClient, shop: Shop) -> None:
    art = _create(client, shop)
    aid = art["id"]
    agent = shop.headers(Role.AGENT)
    assert (
        client.post(f"/api/v1/knowledge/articles/{aid}/status", json={"status": "published"}, headers=agent).status_code
        == 403
    )
    assert client.patch(f"/api/v1/knowledge/articles/{aid}", json={"body": "x"}, headers=agent).status_code == 403
    r = client.post(
        f"/api/v1/knowledge/articles/{aid}/suggestions",
        json={"body": "七天内可退，运费我们出。", "note": "客户常问运费"},
        headers=agent,
    )
    assert r.status_code == 201
    sid = r.json()["id"]
    assert (
        client.post(f"/api/v1/knowledge/suggestions/{sid}/decision", json={"accept": True}, headers=agent).status_code
        == 403
    )
    r = client.post(f"/api/v1/knowledge/suggestions/{sid}/decision", json={"accept": True}, headers=shop.headers(KM))
    assert r.json()["status"] == "accepted"
    got = client.get(f"/api/v1/knowledge/articles/{aid}", headers=agent).json()
    assert got["body"] == "七天内可退，运费我们出。" and got["current_version"] == 2


def test_translations_are_linked(client: TestClient, shop: Shop) -> None:
    zh = _create(client, shop)
    en = _create(client, shop, language="en", title="How to return?", body="Within 7 days.", translation_of=zh["id"])
    assert en["translation_group"] == zh["translation_group"]
    r = client.get(f"/api/v1/knowledge/articles/{zh['id']}/translations", headers=shop.headers(KM))
    assert [a["id"] for a in r.json()] == [en["id"]]
    again = {"kind": "faq", "language": "en", "title": "dup", "body": "x", "translation_of": zh["id"]}
    assert client.post("/api/v1/knowledge/articles", json=again, headers=shop.headers(KM)).status_code == 409


def test_restricted_articles_only_for_their_teams(client: TestClient, world: World, db: Database) -> None:
    art = _create(client, world, visibility="restricted", team_ids=[str(world.team_id)], title="内部退款口径")
    client.post(
        f"/api/v1/knowledge/articles/{art['id']}/status", json={"status": "published"}, headers=world.headers(KM)
    )
    member = dataclasses.replace(world.actor(Role.AGENT), team_ids=frozenset({world.team_id}))
    outsider = world.actor(Role.AGENT)  # an agent of no team
    aid = uuid.UUID(art["id"])
    with db.tenant_transaction(world.tenant_id) as s:
        assert queries.get_article(s, member, aid).id == aid
        with pytest.raises(NotFound):
            queries.get_article(s, outsider, aid)
        index, _ = CACHE.get(s, world.tenant_id)
    assert [h.doc.id for h in index.search("退款口径", allow=reader_of(member))] == [aid]
    assert index.search("退款口径", allow=reader_of(outsider)) == []
    # An API key belongs to no team: restricted entries stay hidden from it.
    assert (
        client.get("/api/v1/knowledge/search", params={"q": "退款口径"}, headers=world.headers(Role.AGENT)).json() == []
    )


def test_bad_input_is_refused_without_writing(client: TestClient, shop: Shop) -> None:
    h = shop.headers(KM)
    cases = [
        {"language": "fr", "title": "x"},
        {"language": "zh-CN", "title": ""},
        {"language": "zh-CN", "title": "x", "unknown": 1},
        {
            "language": "zh-CN",
            "title": "x",
            "effective_from": "2027-01-02T00:00:00Z",
            "expires_at": "2027-01-01T00:00:00Z",
        },
        {"language": "zh-CN", "title": "x", "visibility": "restricted"},
        {"language": "zh-CN", "title": "x", "category_id": "00000000-0000-0000-0000-000000000000"},
    ]
    for body in cases:
        r = client.post("/api/v1/knowledge/articles", json=body, headers=h)
        assert r.status_code in (404, 422), (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/knowledge/articles", headers=h).json()["items"] == []
    empty = _create(client, shop, body="")
    r = client.post(f"/api/v1/knowledge/articles/{empty['id']}/status", json={"status": "published"}, headers=h)
    assert r.status_code == 422


def test_tenant_isolation_on_every_route(client: TestClient, world: World, other_shop: Shop) -> None:
    art = _create(client, world)
    aid = art["id"]
    client.post(f"/api/v1/knowledge/articles/{aid}/status", json={"status": "published"}, headers=world.headers(KM))
    sug = client.post(
        f"/api/v1/knowledge/articles/{aid}/suggestions", json={"body": "x"}, headers=world.headers(Role.AGENT)
    ).json()
    cat = client.post(
        "/api/v1/knowledge/categories", json={"slug": "returns", "names": {"en": "Returns"}}, headers=world.headers(KM)
    ).json()
    b = other_shop.headers(Role.ADMIN)
    for method, url, body in [
        ("GET", f"/api/v1/knowledge/articles/{aid}", None),
        ("PATCH", f"/api/v1/knowledge/articles/{aid}", {"body": "hacked"}),
        ("POST", f"/api/v1/knowledge/articles/{aid}/status", {"status": "archived"}),
        ("GET", f"/api/v1/knowledge/articles/{aid}/versions", None),
        ("GET", f"/api/v1/knowledge/articles/{aid}/diff?from=1&to=1", None),
        ("POST", f"/api/v1/knowledge/articles/{aid}/rollback", {"to_version": 1}),
        ("GET", f"/api/v1/knowledge/articles/{aid}/translations", None),
        ("POST", f"/api/v1/knowledge/articles/{aid}/suggestions", {"body": "x"}),
        ("POST", f"/api/v1/knowledge/suggestions/{sug['id']}/decision", {"accept": True}),
        ("PATCH", f"/api/v1/knowledge/categories/{cat['id']}", {"position": 3}),
        ("GET", f"/api/v1/knowledge/suggest?conversation_id={world.conversation.id}", None),
    ]:
        r = client.request(method, url, json=body, headers=b)
        assert r.status_code == 404, (method, url, r.status_code)
    for url in ["/api/v1/knowledge/articles", "/api/v1/knowledge/categories", "/api/v1/knowledge/suggestions"]:
        data = client.get(url, headers=b).json()
        assert (data["items"] if isinstance(data, dict) else data) == [], url
    assert client.get("/api/v1/knowledge/search", params={"q": "退货"}, headers=b).json() == []
    assert client.get("/api/v1/knowledge/export", params={"format": "json"}, headers=b).json() == {"entries": []}
    assert client.get("/api/v1/knowledge/analytics", headers=b).json()["views"] == 0
    # And tenant A's article is untouched.
    assert client.get(f"/api/v1/knowledge/articles/{aid}", headers=world.headers(KM)).json()["status"] == "published"


def test_agent_workspace_suggestions_for_a_conversation(client: TestClient, world: World) -> None:
    art = _create(client, world, title="快递多久到？", body="当日或次日送达。", variants=["快递到哪了"])
    client.post(
        f"/api/v1/knowledge/articles/{art['id']}/status", json={"status": "published"}, headers=world.headers(KM)
    )
    # The world's conversation: the customer asked "我的快递到哪了？"
    r = client.get(
        "/api/v1/knowledge/suggest",
        params={"conversation_id": str(world.conversation.id)},
        headers=world.headers(Role.AGENT),
    )
    assert r.status_code == 200
    top = r.json()[0]
    assert top["id"] == art["id"] and top["answer_text"] == "当日或次日送达。"
    assert client.get("/api/v1/knowledge/suggest", headers=world.headers(Role.AGENT)).status_code == 422


def test_nul_characters_are_refused_not_a_database_error(client: TestClient, shop: Shop) -> None:
    h = shop.headers(KM)
    for body in (
        {"language": "zh-CN", "title": "a\x00b"},
        {"language": "zh-CN", "title": "ok", "body": "x\x00"},
        {"language": "zh-CN", "title": "ok", "tags": ["a\x00"]},
    ):
        assert client.post("/api/v1/knowledge/articles", json=body, headers=h).status_code == 422
    # A NUL in the URL is refused before any handler runs (PostgreSQL could not even compare with it).
    assert client.get("/api/v1/knowledge/articles", params={"q": "a\x00"}, headers=h).status_code == 400
    assert client.get(f"/help/{shop.slug}/search", params={"q": "退货\x00"}).status_code == 400
    r = client.post(
        "/api/v1/knowledge/import",
        params={"format": "csv"},
        files={"file": ("f.csv", b"question,answer,language\nq\x00,a,en\n")},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "question"
