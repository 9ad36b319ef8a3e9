"""The staff knowledge UI: a knowledge manager writes, publishes and rolls back; an agent can only suggest."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World


def _login(client: TestClient, world: World, role: Role) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login",
        data={"workspace": world.slug, "email": world.emails[role], "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_manager_writes_publishes_and_restores(client: TestClient, world: World) -> None:
    _login(client, world, Role.KNOWLEDGE_MANAGER)
    form = client.get("/knowledge/new")
    assert form.status_code == 200
    r = client.post(
        "/knowledge/new",
        data={
            "csrf": _csrf(form.text), "kind": "faq", "language": "zh-CN", "title": "怎么退货？",
            "variants": "退货流程\n买错了能退吗", "body": "七天内可退。", "tags": "退货, 售后",
            "expires_at": "2099-01-01T00:00",
        },
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    url = r.headers["location"]
    page = client.get(url)
    assert "怎么退货？" in page.text and "买错了能退吗" in page.text
    csrf = _csrf(page.text)
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post(f"{url}/status", data={"csrf": csrf, "status": "published"})
    r = client.post(
        url,
        data={
            "csrf": csrf,
            "version": str(int(version) + 1),
            "title": "怎么退货？",
            "body": "十五天内可退。",
            "note": "新政策",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"], r.headers["location"]
    assert "十五天内可退。" in client.get(f"/help/{world.slug}/search", params={"q": "退货"}).text
    client.post(f"{url}/rollback", data={"csrf": csrf, "to_version": "1"})
    page = client.get(url, params={"diff_from": 2, "diff_to": 3})
    assert "七天内可退。" in page.text and "+七天内可退。" in page.text
    # A forged form without the session's token changes nothing.
    assert client.post(f"{url}/status", data={"csrf": "forged", "status": "archived"}).status_code == 403
    listing = client.get("/knowledge", params={"status": "published"})
    assert "怎么退货？" in listing.text
    assert "自助服务" in listing.text or "Self-service" in listing.text  # the analytics card


def test_agent_edits_become_suggestions(client: TestClient, world: World) -> None:
    h = world.headers(Role.KNOWLEDGE_MANAGER)
    art = client.post(
        "/api/v1/knowledge/articles", json={"language": "zh-CN", "title": "运费", "body": "包邮。"}, headers=h
    ).json()
    client.post(f"/api/v1/knowledge/articles/{art['id']}/status", json={"status": "published"}, headers=h)
    _login(client, world, Role.AGENT)
    page = client.get(f"/knowledge/{art['id']}")
    assert "提交修改建议" in page.text or "Suggest this edit" in page.text
    assert 'data-status="archived"' not in page.text  # no publishing buttons for agents
    r = client.post(
        f"/knowledge/{art['id']}",
        data={"csrf": _csrf(page.text), "version": str(art["version"] + 1), "title": "运费", "body": "满99包邮。"},
        follow_redirects=False,
    )
    assert r.headers["location"].endswith("error=suggested")
    suggestions = client.get("/api/v1/knowledge/suggestions", headers=h).json()
    assert suggestions[0]["changes"]["body"] == "满99包邮。"
    assert client.get(f"/api/v1/knowledge/articles/{art['id']}", headers=h).json()["body"] == "包邮。"
    # The knowledge manager sees it on the entry's page and accepts it.
    client.cookies.clear()
    _login(client, world, Role.KNOWLEDGE_MANAGER)
    page = client.get(f"/knowledge/{art['id']}")
    assert "满99包邮。" in page.text
    r = client.post(
        f"/knowledge/suggestions/{suggestions[0]['id']}",
        data={"csrf": _csrf(page.text), "decision": "accept"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"]
    assert client.get(f"/api/v1/knowledge/articles/{art['id']}", headers=h).json()["body"] == "满99包邮。"


def test_import_page_reports_bad_rows(client: TestClient, world: World) -> None:
    _login(client, world, Role.KNOWLEDGE_MANAGER)
    csrf = _csrf(client.get("/knowledge").text)
    bad = "question,answer,language\n好问题,好答案,zh-CN\n,缺问题,zh-CN\n".encode()
    r = client.post(
        "/knowledge/import",
        data={"csrf": csrf, "format": "csv", "all_or_nothing": "on"},
        files={"file": ("faq.csv", bad)},
    )
    assert r.status_code == 422 and "<td>3</td><td>question</td>" in r.text
    r = client.post("/knowledge/import", data={"csrf": csrf, "format": "csv"}, files={"file": ("faq.csv", bad)})
    assert r.status_code == 200 and "<td>3</td>" in r.text


def test_the_import_preview_shows_what_would_happen_then_imports_on_confirmation(
    client: TestClient, world: World
) -> None:
    _login(client, world, Role.KNOWLEDGE_MANAGER)
    h = world.headers(Role.KNOWLEDGE_MANAGER)
    client.cookies.set("omnidesk_lang", "zh-CN")
    listing = client.get("/knowledge").text
    assert 'value="preview"' in listing and "有任何一行出错就全部不导入" in listing
    csrf = _csrf(listing)
    faq = (
        "id,question,variants,answer,language\n"
        'q?1,怎么退货,"退货流程|退货\n怎么弄",七天内可退。,zh\n'
        "q?2,,没有答案,,zh-CN\n"
        "q?3,Shipping fees,shipping cost,Free over 99.,en-US\n"
    ).encode()
    r = client.post(
        "/knowledge/import",
        data={"csrf": csrf, "format": "csv", "action": "preview"},
        files={"file": ("faq.csv", faq)},
    )
    assert r.status_code == 200
    assert 'data-created="2"' in r.text and 'data-skipped="1"' in r.text
    assert "尚未导入任何内容" in r.text and "&#39;zh&#39; read as zh-CN" in r.text and "<td>3</td>" in r.text
    assert client.get("/api/v1/knowledge/articles", headers=h).json()["items"] == []
    confirm = re.search(r'action="(/knowledge/imports/[^"]+/confirm)"', r.text).group(1)  # type: ignore[union-attr]
    assert "导入这 2 条" in r.text

    client.cookies.set("omnidesk_lang", "en")
    done = client.post(confirm, data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "The import has finished." in page.text and "2 new" in page.text and "<td>3</td>" in page.text
    items = client.get("/api/v1/knowledge/articles", headers=h).json()["items"]
    assert sorted(a["external_id"] for a in items) == ["q?1", "q?3"]
    # a preview is confirmed once; and the English page says the same as the Chinese one
    assert client.post(confirm, data={"csrf": csrf}).status_code == 404
    r = client.post(
        "/knowledge/import",
        data={"csrf": csrf, "format": "csv", "action": "preview", "all_or_nothing": "on"},
        files={"file": ("faq.csv", faq)},
    )
    assert "Nothing has been imported yet" in r.text and "the file would be refused" in r.text
    assert "/confirm" not in r.text  # nothing to confirm when the whole file would be refused


def test_another_tenants_entries_are_not_found_in_the_ui(client: TestClient, world: World, other_world: World) -> None:
    h = world.headers(Role.KNOWLEDGE_MANAGER)
    art = client.post(
        "/api/v1/knowledge/articles", json={"language": "zh-CN", "title": "A 的条目", "body": "x"}, headers=h
    ).json()
    _login(client, other_world, Role.KNOWLEDGE_MANAGER)
    page = client.get(f"/knowledge/{art['id']}")
    assert page.status_code == 404 and "A 的条目" not in page.text
    csrf = _csrf(client.get("/knowledge").text)
    assert "A 的条目" not in client.get("/knowledge").text
    for url, data in (
        (f"/knowledge/{art['id']}/status", {"status": "published"}),
        (f"/knowledge/{art['id']}/rollback", {"to_version": "1"}),
        (f"/knowledge/{art['id']}", {"version": "1", "title": "hacked", "body": "hacked"}),
    ):
        r = client.post(url, data={"csrf": csrf, **data}, follow_redirects=False)
        assert r.status_code == 303 and "error=" in r.headers["location"], url
    got = client.get(f"/api/v1/knowledge/articles/{art['id']}", headers=h).json()
    assert got["status"] == "draft" and got["title"] == "A 的条目"
