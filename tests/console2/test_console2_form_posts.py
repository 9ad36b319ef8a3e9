"""Every staff form post has one shape (``web/forms.submit``): signed out → /login, wrong CSRF → 403 and nothing
read, no permission → the 403 page, a refusal → the form again with why (nothing stored), success → redirect
with a notice. Walked over a ticket form, a console form and a people form."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from omnidesk.tickets.models import Ticket
from tests.factories import World, make_world, sign_in


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def test_one_shape_for_ticket_console_and_people_forms(client: TestClient, db: Database) -> None:
    world: World = make_world(db)
    ticket = client.post("/api/v1/tickets", json={"subject": "发票"}, headers=world.headers()).json()
    page = f"/tickets/{ticket['id']}"
    anonymous = client.post(f"{page}/assign", data={"csrf": "x", "version": "1"}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"

    sign_in(client, world, Role.ADMIN)
    client.cookies.set("omnidesk_lang", "en")
    csrf = _csrf(client, page)
    forged = client.post(f"{page}/macro", data={"csrf": "wrong", "version": "1", "macro_id": ticket["id"]})
    assert forged.status_code == 403

    # a stale version is a conflict, said on the ticket page; nothing changed
    agent = str(world.staff[Role.AGENT].id)
    stale = client.post(f"{page}/assign", data={"csrf": csrf, "version": "999", "assignee_id": agent})
    assert stale.status_code == 200 and "Someone else changed this ticket meanwhile" in stale.text
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(Ticket.assignee_id).where(Ticket.id == uuid.UUID(ticket["id"]))) is None
    done = client.post(f"{page}/assign", data={"csrf": csrf, "version": str(ticket["version"]), "assignee_id": agent},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == page

    # a console form: the refusal comes back in the form (422), success redirects with the notice
    bad = client.post("/settings/canned", data={"csrf": csrf, "shortcut": "hi there", "title": "", "body": ""})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    good = client.post("/settings/canned", data={"csrf": csrf, "shortcut": "hi", "title": "Hi", "body": "Hello!"},
                       follow_redirects=False)  # fmt: skip
    assert good.status_code == 303 and good.headers["location"] == "/settings/canned?done=created"

    # a people form: ending the sessions of a person who does not exist is the user's page saying so (404)
    missing = client.post(f"/settings/users/{ticket['id']}/sessions/end-all", data={"csrf": csrf})
    assert missing.status_code == 404

    # without the permission: the 403 page, in the reader's language
    sign_in(client, world, Role.AGENT)
    client.cookies.set("omnidesk_lang", "zh-CN")
    agent_csrf = _csrf(client, page)
    refused = client.post("/settings/canned", data={"csrf": agent_csrf, "shortcut": "x", "title": "x", "body": "x"})
    assert refused.status_code == 403 and "没有权限" in refused.text
