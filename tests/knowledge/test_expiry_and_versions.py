"""Expiry and effective dates are honoured everywhere, and the knowledge version tells caches when to refresh."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from omnidesk.core.db import Database, utcnow
from omnidesk.events.outbox import pending_events
from omnidesk.knowledge import actions, queries, state
from omnidesk.knowledge.index import Visibility
from omnidesk.knowledge.search import IndexCache
from omnidesk.knowledge.states import ArticleStatus
from omnidesk.security.permissions import Role
from tests.knowledge.conftest import Shop
from tests.knowledge.helpers import published


def test_expired_promotion_is_neither_shown_nor_answered(client: TestClient, shop: Shop, db: Database) -> None:
    now = utcnow()
    expired = published(
        db,
        shop,
        "双11 价保怎么申请？",
        "已结束。",
        effective_from=now - timedelta(days=30),
        expires_at=now - timedelta(minutes=1),
    )
    future = published(db, shop, "元旦促销", "明年开始。", effective_from=now + timedelta(days=3))
    live = published(db, shop, "冬季满减券怎么用？", "满199减30。", expires_at=now + timedelta(days=10))
    with db.tenant_transaction(shop.tenant_id) as s:
        assert [e.id for e in queries.published_faq(s)] == [live.id]
        # Time travel: after the coupon expires and the new-year promotion starts.
        later = now + timedelta(days=11)
        assert [e.id for e in queries.published_faq(s, now=later)] == [future.id]
        stamp = queries.knowledge_stamp(s)
        assert stamp.valid_until is not None and stamp.valid_until <= now + timedelta(days=3)
    for q in ("双11", "价保"):
        assert client.get(f"/help/{shop.slug}/search", params={"q": q}).text.count("/articles/") == 0
        assert client.get(f"/help/{shop.slug}/api/suggest", params={"q": q}).json()["items"] == []
        assert client.get("/api/v1/knowledge/search", params={"q": q}, headers=shop.headers(Role.AGENT)).json() == []
    assert client.get(f"/help/{shop.slug}/articles/{expired.id}").status_code == 404
    assert client.get(f"/help/{shop.slug}/articles/{future.id}").status_code == 404
    assert client.get(f"/help/{shop.slug}/articles/{live.id}").status_code == 200


def test_index_cache_follows_the_version_and_time(shop: Shop, db: Database) -> None:
    cache = IndexCache()
    now = utcnow()
    art = published(db, shop, "退货流程", "七天无理由。", expires_at=now + timedelta(hours=1))
    with db.tenant_transaction(shop.tenant_id) as s:
        index, _ = cache.get(s, shop.tenant_id, now)
        assert [h.doc.id for h in index.search("退货", allow=Visibility(staff=False))] == [art.id]
        cache.get(s, shop.tenant_id, now)
        assert cache.builds == 1  # fresh: no rebuild
        index, _ = cache.get(s, shop.tenant_id, now + timedelta(hours=2))
        assert index.search("退货") == [] and cache.builds == 2  # the expiry boundary passed
    before = _version(db, shop)
    with db.tenant_transaction(shop.tenant_id) as s:
        actions.change_status(s, shop.actor(Role.KNOWLEDGE_MANAGER), art.id, ArticleStatus.DRAFT)
        events = pending_events(s)
    assert any(e["type"] == "knowledge" and e["version"] == before + 1 for e in events)
    assert _version(db, shop) == before + 1
    with db.tenant_transaction(shop.tenant_id) as s:
        cache.get(s, shop.tenant_id, now)
        assert cache.builds == 3


def test_expire_due_bumps_the_version_once_time_changes_the_published_set(shop: Shop, db: Database) -> None:
    published(db, shop, "限时活动", "今天有效。", expires_at=utcnow() + timedelta(milliseconds=50))
    before = _version(db, shop)
    import time

    time.sleep(0.1)
    assert state.expire_due(db) >= 1
    assert _version(db, shop) == before + 1


def _version(db: Database, shop: Shop) -> int:
    with db.tenant_transaction(shop.tenant_id) as s:
        return queries.knowledge_version(s)


def test_a_publish_reaches_another_process_without_restart(shop: Shop, db: Database, database_url: str) -> None:
    """Two "processes": separate engines and caches on one database; no events are delivered between them."""
    other = Database(database_url)
    other_cache = IndexCache()
    try:
        with other.tenant_transaction(shop.tenant_id) as s:
            assert other_cache.get(s, shop.tenant_id)[0].search("运费") == []
        published(db, shop, "运费谁出？", "满99包邮。")
        with other.tenant_transaction(shop.tenant_id) as s:
            hits = other_cache.get(s, shop.tenant_id)[0].search("运费")
            assert [h.doc.title for h in hits] == ["运费谁出？"]
            assert [e.question for e in queries.published_faq(s)] == ["运费谁出？"]
    finally:
        other.dispose()


def test_the_stamp_moves_to_the_next_boundary_once_one_passed(shop: Shop, db: Database) -> None:
    now = utcnow()
    published(db, shop, "第一波", "a", expires_at=now + timedelta(hours=1))
    published(db, shop, "第二波", "b", expires_at=now + timedelta(hours=3))
    with db.tenant_transaction(shop.tenant_id) as s:
        first = queries.knowledge_stamp(s, now)
        later = queries.knowledge_stamp(s, now + timedelta(hours=2))
    assert first.valid_until is not None and later.valid_until is not None
    assert first.version == later.version and later.valid_until - first.valid_until == timedelta(hours=2)
    assert not first.fresh(first.version, now + timedelta(hours=2))
    assert later.fresh(later.version, now + timedelta(hours=2))
