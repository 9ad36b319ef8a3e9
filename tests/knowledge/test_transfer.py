"""Import and export: CSV, XLSX, JSON and Markdown round trips; precise errors; re-import changes nothing."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.knowledge.states import Kind
from omnidesk.knowledge.transfer import COLUMNS
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.knowledge.conftest import Shop
from tests.knowledge.helpers import category, published

KM = Role.KNOWLEDGE_MANAGER
CSV = (
    "question,variants,answer,category,language,tags,status\n"
    '如何退货？,"怎么退货\n退货流程",签收后七天内可退。,退换货,zh-CN,"退货, 售后",published\n'
    'How do I return?,how to return,"Within **7 days**.",returns,en,returns,published\n'
    "=cmd|' /C calc'!A0,,formula injection stays text,,en,,draft\n"
)


def _import(client: TestClient, world: World | Shop, fmt: str, content: bytes, **params: object) -> object:
    return client.post(
        "/api/v1/knowledge/import",
        params={"format": fmt, **params},
        files={"file": (f"f.{fmt}", content)},
        headers=world.headers(KM),
    )


def test_csv_import_then_reimport_changes_nothing(client: TestClient, shop: Shop) -> None:
    r = _import(client, shop, "csv", CSV.encode())
    assert r.status_code == 200, r.text
    assert r.json() == {
        "created": 3, "updated": 0, "unchanged": 0, "skipped": 0, "errors": [], "notices": [], "dry_run": False
    }  # fmt: skip
    r = _import(client, shop, "csv", CSV.encode())
    assert r.json()["unchanged"] == 3 and r.json()["created"] == 0 and r.json()["updated"] == 0
    items = client.get("/api/v1/knowledge/articles", params={"language": "zh-CN"}, headers=shop.headers(KM)).json()[
        "items"
    ]
    assert items[0]["variants"] == ["怎么退货", "退货流程"] and items[0]["tags"] == ["退货", "售后"]
    assert items[0]["current_version"] == 1 and items[0]["status"] == "published"
    hits = client.get(f"/help/{shop.slug}/api/suggest", params={"q": "退货"}).json()["items"]
    assert len(hits) == 1


def test_bad_rows_are_reported_and_the_good_ones_imported_unless_all_or_nothing(client: TestClient, shop: Shop) -> None:
    bad = (
        "question,answer,language,tags\n"
        "好问题,好答案,zh-CN,\n"
        ",缺问题,zh-CN,\n"
        "语言错,答案,fr,\n"
        "标签错,答案,en,has space\n"
    )
    for refuse in ({"all_or_nothing": "true"}, {"skip_errors": "false"}):  # the old spelling of all-or-nothing
        r = _import(client, shop, "csv", bad.encode(), **refuse)
        assert r.status_code == 422
        errors = r.json()["errors"]
        assert {(e["row"], e["field"]) for e in errors} == {(3, "question"), (4, "language"), (5, "tags.0")}
        assert "unknown language 'fr'" in next(e["message"] for e in errors if e["row"] == 4)
        assert client.get("/api/v1/knowledge/articles", headers=shop.headers(KM)).json()["items"] == []
    r = _import(client, shop, "csv", bad.encode())
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["skipped"] == 3
    assert [e["row"] for e in r.json()["errors"]] == [3, 4, 5]
    r = _import(client, shop, "csv", b"question,answer,language\n,a,en\n")
    assert r.status_code == 422 and "no good one" in r.json()["detail"]  # nothing to import is still a refusal
    r = _import(client, shop, "csv", b"question,answer\nq,a\n")
    assert r.status_code == 422 and "missing column(s): language" in r.json()["detail"]
    r = _import(client, shop, "xlsx", b"not a workbook")
    assert r.status_code == 422
    assert client.post(
        "/api/v1/knowledge/import", params={"format": "csv"}, files={"file": ("f.csv", CSV.encode())},
        headers=shop.headers(Role.AGENT),
    ).status_code == 403  # fmt: skip


def _real_faq(variants: int = 2_000) -> str:
    """An FAQ as other systems export it: ids with ?, language tags zh / zh-Hans / en-US, thousands of variants,
    a variant far over 300 characters, a variant and a question written over two lines, and further variants of
    an entry on rows of their own."""
    many = "|".join(f"怎么开通第{i}号账户" for i in range(variants))
    long_variant = "我想问一下关于信用卡年费的问题，" * 30  # 480 characters
    return (
        "id,question,variants,answer,language\n"
        f'faq?id=1,如何开户,"{many}",带身份证到网点办理。,zh\n'
        f'faq?id=2,"信用卡年费\n怎么收","免年费吗|{long_variant}|年费\n多少钱",首年免年费。,zh-Hans\n'
        "faq?id=2,,再问一次年费|年费能退吗,,zh_CN\n"
        "faq?id=3,How do I open an account?,open account|new account,Bring your ID to a branch.,en-US\n"
        "faq?id=4,Broken row,,,en\n"
    )


def test_a_real_faq_previews_then_imports_without_losing_a_variant(client: TestClient, shop: Shop) -> None:
    content = _real_faq().encode()
    r = _import(client, shop, "csv", content, dry_run="true")
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["dry_run"] is True
    assert (preview["created"], preview["updated"], preview["unchanged"], preview["skipped"]) == (3, 0, 0, 1)
    assert [(e["row"], e["field"]) for e in preview["errors"]] == [(6, "answer")]
    notices = {(n["field"], n["message"]): n for n in preview["notices"]}
    assert notices[("language", "'zh' read as zh-CN")]["rows"] == [2]
    assert notices[("language", "'en-US' read as en")]["count"] == 1
    assert ("question", "a question on several lines was joined into one line") in notices
    assert any(f == "variants" and "first 300" in m for f, m in notices)
    assert client.get("/api/v1/knowledge/articles", headers=shop.headers(KM)).json()["items"] == []  # nothing yet

    r = _import(client, shop, "csv", content)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["skipped"], r.json()["dry_run"]) == (3, 1, False)
    items = {
        a["external_id"]: a
        for a in client.get("/api/v1/knowledge/articles", params={"limit": 100}, headers=shop.headers(KM)).json()[
            "items"
        ]
    }
    assert set(items) == {"faq?id=1", "faq?id=2", "faq?id=3"}
    assert len(items["faq?id=1"]["variants"]) == 2_000
    fee = items["faq?id=2"]
    assert fee["title"] == "信用卡年费 怎么收" and fee["language"] == "zh-CN"
    assert fee["variants"] == [
        "免年费吗",
        "我想问一下关于信用卡年费的问题，" * 30,
        "年费 多少钱",
        "再问一次年费",
        "年费能退吗",
    ]
    assert items["faq?id=3"]["language"] == "en"
    # the same file again: unchanged, in the preview and in the import
    again = _import(client, shop, "csv", content, dry_run="true").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert _import(client, shop, "csv", content).json()["unchanged"] == 3


def test_ids_that_cannot_be_stored_as_written_are_mapped_and_said_so(client: TestClient, shop: Shop) -> None:
    long_id = "https://help.example.com/faq?category=cards&question=" + "x" * 80
    csv_text = f"id,question,answer,language\n{long_id},Q,A,en\n"
    r = _import(client, shop, "csv", csv_text.encode())
    assert r.status_code == 200 and r.json()["created"] == 1
    notice = next(n for n in r.json()["notices"] if n["field"] == "external_id")
    stored = notice["message"].rsplit("'", 2)[1]
    assert len(stored) == 100 and stored.startswith("https://help.example.com/faq?")
    assert (
        client.get("/api/v1/knowledge/articles", headers=shop.headers(KM)).json()["items"][0]["external_id"] == stored
    )
    assert _import(client, shop, "csv", csv_text.encode()).json()["unchanged"] == 1  # the mapping is stable


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "markdown"])
def test_export_import_round_trip_is_identical(
    client: TestClient, shop: Shop, other_shop: Shop, db: Database, fmt: str
) -> None:
    cat = category(db, shop)
    published(
        db,
        shop,
        "如何退货？",
        "签收后 **七天** 内可退。\n\n- 免费上门取件",
        variants=["怎么退货", "退货流程"],
        category_id=cat,
        external_id="faq-return",
    )
    published(
        db, shop, "How do I return?", "Within 7 days.", language="en", variants=["return"], external_id="faq-return"
    )
    published(db, shop, "-5% 折扣", "=SUM(A1)", external_id="promo-1")
    published(
        db,
        shop,
        "破损怎么办",
        "## 拍照\n\n24 小时内申请。",
        kind=Kind.ARTICLE,
        external_id="guide-1",
        summary="拍照, 申请",
    )
    first = client.get("/api/v1/knowledge/export", params={"format": fmt}, headers=shop.headers(KM))
    assert first.status_code == 200
    # Importing the export into the same tenant changes nothing...
    r = _import(client, shop, fmt, first.content)
    assert r.status_code == 200, r.text
    assert r.json()["unchanged"] == 4 and r.json()["created"] == 0 and r.json()["updated"] == 0
    # ...and into an empty tenant recreates the same export.
    r = client.post(
        "/api/v1/knowledge/import", params={"format": fmt}, files={"file": (f"f.{fmt}", first.content)},
        headers=other_shop.headers(Role.ADMIN),
    )  # fmt: skip
    assert r.json()["created"] == 4, r.text
    json_a = client.get("/api/v1/knowledge/export", params={"format": "json"}, headers=shop.headers(KM)).json()
    json_b = client.get(
        "/api/v1/knowledge/export", params={"format": "json"}, headers=other_shop.headers(Role.ADMIN)
    ).json()
    assert json_a == json_b


def test_xlsx_has_the_faq_columns(client: TestClient, shop: Shop, db: Database) -> None:
    from openpyxl import load_workbook

    published(db, shop, "如何退货？", "七天内。", variants=["怎么退货"])
    r = client.get("/api/v1/knowledge/export", params={"format": "xlsx"}, headers=shop.headers(KM))
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and rows[1][1] == "如何退货？" and rows[1][2] == "怎么退货"
