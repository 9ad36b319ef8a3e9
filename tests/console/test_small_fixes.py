"""Issue "The staff console", bug 6 (the parts an API answers): help-center language from the browser, ticket
@mentions by name."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import StaffCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import PASSWORD, World
from tests.tickets.helpers import new_ticket


def test_help_center_follows_the_browsers_language(client: TestClient, world: World) -> None:
    english = client.get(f"/help/{world.slug}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.status_code == 200 and '<html lang="en">' in english.text
    chinese = client.get(f"/help/{world.slug}", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN">' in chinese.text
    other = client.get(f"/help/{world.slug}", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="zh-CN">' in other.text  # neither: the tenant's default
    chosen = client.get(f"/help/{world.slug}", params={"lang": "zh-CN"}, headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in chosen.text  # an explicit choice wins


def test_a_ticket_comment_mentions_a_colleague_by_name(client: TestClient, db: Database, world: World) -> None:
    with db.tenant_transaction(world.tenant_id) as s:
        colleague, _ = accounts.do_create_staff(
            s, system_actor(world.tenant_id),
            StaffCreate(email=f"wang.fang@{world.slug}.example", display_name="王芳", role=Role.AGENT,
                        password=PASSWORD),
        )  # fmt: skip
    t = new_ticket(client, world)
    note = client.post(
        f"/api/v1/tickets/{t['id']}/messages",
        json={"body": "@王芳请看一下这个退款", "public": False},
        headers=world.headers(Role.AGENT),
    )
    assert note.status_code == 201, note.text
    assert note.json()["mentions"] == [colleague.email]
    plain = client.post(
        f"/api/v1/tickets/{t['id']}/messages",
        json={"body": "mail me at x@王芳.example", "public": False},
        headers=world.headers(Role.AGENT),
    )
    assert plain.json()["mentions"] == []


def test_ticket_page_shows_status_and_author_words_in_chinese(client: TestClient, world: World) -> None:
    from tests.factories import sign_in
    from tests.tickets.helpers import move

    t = new_ticket(client, world)
    t = move(client, world, t, "pending_customer")
    sign_in(client, world, Role.AGENT)
    client.cookies.set("omnidesk_lang", "zh-CN")
    page = client.get(f"/tickets/{t['id']}").text
    history = page.split('class="grid history"')[1]
    assert "等待客户" in history and "pending_customer" not in history
    assert ">status<" not in history
