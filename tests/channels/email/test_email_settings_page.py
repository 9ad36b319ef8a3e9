"""``/settings/channels/email``: an admin adds a mailbox (the password write-only), tests its relay (the real
aiosmtpd relay of these tests), and the page is listed in the settings navigation; an agent may not open it."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.channels.email.conftest import Relay
from tests.factories import World, session_csrf, sign_in


def test_an_admin_adds_a_mailbox_and_tests_its_relay(client: TestClient, world: World, relay: Relay) -> None:
    sign_in(client, world, Role.ADMIN)
    page = client.get("/settings/channels/email")
    assert page.status_code == 200 and 'href="/settings/channels/email"' in page.text
    inbound = f"help-{uuid.uuid4().hex[:8]}@shop.example"
    saved = client.post(
        "/settings/channels/email",
        data={
            "csrf": session_csrf(client),
            "inbound_address": inbound,
            "from_address": "help@shop.example",
            "from_name": "Shop",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(relay.port),
            "smtp_security": "none",
            "smtp_username": "",
            "smtp_password": "s3cret-relay-password",
            "enabled": "1",
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200, saved.text
    assert inbound in saved.text and "s3cret-relay-password" not in saved.text
    mailbox_id = re.search(r'name="mailbox_id" value="([0-9a-f-]{36})"', saved.text)
    assert mailbox_id is not None
    tested = client.post(
        "/settings/channels/email/test", data={"csrf": session_csrf(client), "mailbox_id": mailbox_id.group(1)}
    )
    assert tested.status_code == 200 and 'id="email-test-result"' in tested.text
    # A malformed address is refused in the form, nothing stored.
    bad = client.post(
        "/settings/channels/email",
        data={"csrf": session_csrf(client), "inbound_address": "not-an-address", "from_address": "x@shop.example"},
    )
    assert bad.status_code == 422 and 'id="email-error"' in bad.text


def test_an_agent_may_not_open_the_mailboxes(client: TestClient, world: World) -> None:
    sign_in(client, world, Role.AGENT)
    assert client.get("/settings/channels/email").status_code == 403
