"""Issue "The staff console", bug 6: every HTML section answers a person without the permission with the same
403 page (HTML, in their language), never raw JSON."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from omnidesk.webhooks.ui import PAGE as WEBHOOKS
from tests.factories import World, sign_in

SECTIONS = ("/inbox", "/tickets", "/tickets/board", "/supervisor", "/settings/widget", "/admin/assistant",
            "/knowledge", "/admin/jobs", WEBHOOKS)  # fmt: skip


def test_one_403_page_for_every_section(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.AUDITOR)
    for lang, words in (("zh-CN", "您没有权限"), ("en", "You do not have permission")):
        client.cookies.set("omnidesk_lang", lang)
        for path in SECTIONS:
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 403, (path, response.status_code)
            assert response.headers["content-type"].startswith("text/html"), (path, response.text[:200])
            assert 'data-page="forbidden"' in response.text and words in response.text, (path, lang)
