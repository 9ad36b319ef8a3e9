"""Switching the language keeps the person on the page they were reading, and never sends them off the site."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_switch_returns_to_the_page_it_was_made_on(client: TestClient) -> None:
    here = "http://testserver/password-reset/abc?x=1"
    response = client.get("/lang/en", headers={"referer": here}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/password-reset/abc?x=1"
    assert "omnidesk_lang=en" in response.headers["set-cookie"] or "en" in response.headers["set-cookie"]


def test_switch_never_redirects_off_site(client: TestClient) -> None:
    for referer in ("https://evil.example/phish", "http://testserver//evil.example/x", None):
        headers = {"referer": referer} if referer else {}
        response = client.get("/lang/zh-CN", headers=headers, follow_redirects=False)
        assert response.headers["location"] == "/", referer


def test_the_page_says_where_it_is_and_bad_next_values_go_home(client: TestClient) -> None:
    page = client.get("/login")
    assert 'href="/lang/en?next=/login"' in page.text or 'href="/lang/en?next=%2Flogin"' in page.text
    assert client.get("/lang/en?next=/tickets", follow_redirects=False).headers["location"] == "/tickets"
    for bad in ("//evil.example", "/\\evil.example", "https://evil.example/"):
        assert client.get("/lang/en", params={"next": bad}, follow_redirects=False).headers["location"] == "/", bad
