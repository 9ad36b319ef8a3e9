"""A real browser on the public help center: search in Chinese, open the article, rate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.knowledge.conftest import Shop
from tests.knowledge.helpers import category, published

pytestmark = pytest.mark.browser


def test_search_in_chinese_open_and_rate(
    browser: Any, live_server: str, shop: Shop, db: Database, client: TestClient, artifacts_dir: Path
) -> None:
    cat = category(db, shop)
    article = published(
        db,
        shop,
        "如何申请七天无理由退货？",
        "签收后 **7 天内** 可在订单页申请退货。",
        variants=["怎么退货"],
        category_id=cat,
    )
    published(db, shop, "退款多久到账？", "1–3 个工作日。", category_id=cat)
    published(db, shop, "How do I return an item?", "Within 7 days.", language="en", category_id=cat)
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        page.goto(f"{live_server}/help/{shop.slug}?lang=zh-CN")
        assert page.title().endswith("帮助中心")
        page.fill("#hc-q", "怎么退货")
        page.wait_for_selector("#hc-suggestions li a")  # as-you-type suggestions (help.js)
        page.press("#hc-q", "Enter")
        page.wait_for_selector("ol.hc-results")
        assert page.locator("ol.hc-results mark").count() >= 1
        page.screenshot(path=str(artifacts_dir / "knowledge-helpcenter-search.png"), full_page=True)
        page.click("ol.hc-results li:first-child a")
        page.wait_for_selector("article.hc-article h1")
        assert page.inner_text("article.hc-article h1") == "如何申请七天无理由退货？"
        assert page.locator("article.hc-article strong").inner_text() == "7 天内"
        page.click("button[name=helpful][value=yes]")
        page.wait_for_selector("#feedback [role=status]")
        page.screenshot(path=str(artifacts_dir / "knowledge-helpcenter-article.png"), full_page=True)
    finally:
        page.close()
    got = client.get(f"/api/v1/knowledge/articles/{article.id}", headers=shop.headers(Role.KNOWLEDGE_MANAGER)).json()
    assert got["helpful_yes"] == 1
    stats = client.get("/api/v1/knowledge/analytics", headers=shop.headers(Role.KNOWLEDGE_MANAGER)).json()
    assert stats["views"] >= 1 and stats["searches"] >= 1 and stats["helpful_rate"] == 1.0
    assert stats["sessions"] == 1 and stats["deflection_rate"] == 1.0


def test_help_center_without_javascript(client: TestClient, shop: Shop, db: Database) -> None:
    cat = category(db, shop)
    article = published(db, shop, "怎么开发票？", "下单时勾选发票。<script>alert(1)</script>", category_id=cat)
    home = client.get(f"/help/{shop.slug}", params={"lang": "zh-CN"})
    assert home.status_code == 200 and "怎么开发票？" in home.text and "退换货" in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]
    page = client.get(f"/help/{shop.slug}/articles/{article.id}")
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert '<meta name="description" content="下单时勾选发票。' in page.text
    r = client.get(f"/help/{shop.slug}/search", params={"q": "发票"})
    assert "<mark>发票</mark>" in r.text
    r = client.get(f"/help/{shop.slug}/search", params={"q": "无人问过的问题"})
    assert "/contact" in r.text
    r = client.post(f"/help/{shop.slug}/articles/{article.id}/feedback", data={"helpful": "no"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.get(f"/help/{shop.slug}/contact", follow_redirects=False)
    assert r.headers["location"] == f"/chat/{shop.slug}"
    sitemap = client.get(f"/help/{shop.slug}/sitemap.xml")
    assert f"/articles/{article.id}" in sitemap.text
    stats = client.get("/api/v1/knowledge/analytics", headers=shop.headers(Role.KNOWLEDGE_MANAGER)).json()
    assert stats["searches_without_result"] == 1 and stats["top_failed_searches"][0]["query"] == "无人问过的问题"
    assert stats["sessions_contacted"] == 1 and stats["helpful_no"] == 1
    assert client.get("/help/no-such-tenant").status_code == 404


def test_public_suggest_is_tenant_scoped(client: TestClient, shop: Shop, other_shop: Shop, db: Database) -> None:
    published(db, shop, "退货流程", "七天。")
    published(db, shop, "内部口径", "不公开。", visibility="internal")
    assert len(client.get(f"/help/{shop.slug}/api/suggest", params={"q": "退货"}).json()["items"]) == 1
    assert client.get(f"/help/{shop.slug}/api/suggest", params={"q": "内部口径"}).json()["items"] == []
    assert client.get(f"/help/{other_shop.slug}/api/suggest", params={"q": "退货"}).json()["items"] == []


def test_missing_pages_are_friendly_html(client: TestClient, shop: Shop) -> None:
    r = client.get(
        f"/help/{shop.slug}/articles/00000000-0000-0000-0000-000000000000", headers={"accept-language": "en"}
    )
    assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "Page not found" in r.text
    assert client.get(f"/help/{shop.slug}/api/suggest", params={"q": "x" * 300}).status_code == 422
