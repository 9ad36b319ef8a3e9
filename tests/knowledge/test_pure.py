"""Pure parts without a database: tokenising, ranking, typo tolerance, highlighting, sanitising, the workflow."""

from __future__ import annotations

import re
import uuid

import pytest

from omnidesk.core.errors import Conflict
from omnidesk.knowledge import render
from omnidesk.knowledge.index import IndexDoc, SearchIndex, Visibility, highlight
from omnidesk.knowledge.states import ArticleStatus, check_transition
from omnidesk.knowledge.tokenize import tokens


def _doc(title: str, text: str, language: str = "zh-CN", visibility: str = "public") -> IndexDoc:
    return IndexDoc(uuid.uuid4(), title, (), (), text, language, None, visibility)


def test_chinese_is_segmented_with_bigrams() -> None:
    terms = tokens("如何申请七天无理由退货")
    assert "退货" in terms and "申请" in terms and "由退" in terms
    assert tokens("Orders ORDERS") == ["order", "order"]


def test_ranking_typos_prefixes_and_visibility() -> None:
    a = _doc("如何申请退货", "七天无理由退货。")
    b = _doc("Delivery times", "Parcels arrive in two days.", "en")
    c = _doc("Internal refund rules", "Staff only.", "en", "internal")
    index = SearchIndex.build([a, b, c])
    assert index.search("退货")[0].doc is a
    assert index.search("delivrey")[0].doc is b  # transposition
    assert index.search("deliv", prefix=True)[0].doc is b
    assert index.search("refund", allow=Visibility(staff=False)) == []
    assert index.search("refund", allow=Visibility(staff=True))[0].doc is c
    assert index.search("退货", language="en") == []


def test_highlight_escapes_html() -> None:
    assert highlight("<b>退货</b>", ["退货"]) == "&lt;b&gt;<mark>退货</mark>&lt;/b&gt;"


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        '<img src=x onerror="alert(1)">',
        "![x](javascript:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ],
)
def test_markdown_is_sanitised(markdown: str) -> None:
    html = render.to_html(markdown)
    assert "<script" not in html
    assert re.search(r"<[^>]*\bon\w+\s*=", html) is None  # no event handler inside a real tag
    assert 'href="javascript' not in html and 'src="javascript' not in html and 'href="data' not in html


def test_markdown_keeps_images_and_links() -> None:
    html = render.to_html("![box](https://img.example/box.png) [help](https://example.com)")
    assert '<img src="https://img.example/box.png" alt="box">' in html
    assert 'rel="nofollow noopener noreferrer"' in html


def test_workflow_refuses_illegal_moves() -> None:
    check_transition(ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW)
    check_transition(ArticleStatus.ARCHIVED, ArticleStatus.PUBLISHED)
    with pytest.raises(Conflict):
        check_transition(ArticleStatus.PUBLISHED, ArticleStatus.IN_REVIEW)


def test_an_index_never_offers_an_entry_outside_its_dates() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2027, 1, 1, tzinfo=UTC)
    gone = IndexDoc(uuid.uuid4(), "双11 价保", (), (), "已结束", "zh-CN", None, "public", ends=now)
    soon = IndexDoc(
        uuid.uuid4(), "元旦 价保", (), (), "未开始", "zh-CN", None, "public", starts=now + timedelta(days=1)
    )
    index = SearchIndex.build([gone, soon])
    assert index.search("价保", now=now) == []
    assert [h.doc for h in index.search("价保", now=now - timedelta(seconds=1))] == [gone]


def test_rebuilds_reuse_the_counts_of_unchanged_entries() -> None:
    a, b = _doc("退货", "七天"), _doc("发票", "电子发票")
    counted: dict[IndexDoc, dict[str, int]] = {}
    SearchIndex.build([a, b], counted)
    first = counted[a]
    b2 = _doc("发票", "纸质发票")
    again = {d: counted[d] for d in (a, b2) if d in counted}
    index = SearchIndex.build([a, b2], again)
    assert again[a] is first and b2 in again
    assert index.search("纸质")[0].doc is b2
