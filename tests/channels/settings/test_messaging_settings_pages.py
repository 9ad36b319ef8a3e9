"""``/settings/channels``: the overview with each channel's health, and a provider's setup form (credentials
write-only, the webhook URL to paste, the connection test against the fake provider)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.accounts.tenant_secrets import TenantSecret
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.channels.messaging_support import TOKEN, FakeProviders
from tests.factories import World, session_csrf, sign_in


def test_an_admin_sets_up_whatsapp_tests_it_and_sees_its_health(
    msg_client: TestClient, db: Database, world: World, providers: FakeProviders
) -> None:
    sign_in(msg_client, world, Role.ADMIN)
    csrf = session_csrf(msg_client)
    overview = msg_client.get("/settings/channels", headers={"Accept-Language": "en"})
    assert overview.status_code == 200
    assert 'href="/settings/widget"' in overview.text and 'href="/settings/channels/whatsapp"' in overview.text
    assert 'href="/settings/channels"' in overview.text  # the settings navigation's "Channels" entry

    form = {
        "csrf": csrf,
        "config.phone_number_id": "106540352242922",
        "config.api_base": f"{providers.url}/graph/v21.0",
        "secret.app_secret": "whatsapp-app-secret-0123456789",
        "secret.access_token": TOKEN,
        "secret.verify_token": "verify-me-please",
        "enabled": "on",
    }
    saved = msg_client.post("/settings/channels/whatsapp", data=form, follow_redirects=True)
    assert saved.status_code == 200
    assert f"/api/v1/channels/whatsapp/{world.slug}/webhook" in saved.text
    for secret in (form["secret.app_secret"], TOKEN, "verify-me-please"):
        assert secret not in saved.text  # write-only
    with db.tenant_read(world.tenant_id) as s:
        sealed = {row.name: row.sealed for row in s.scalars(select(TenantSecret))}
    assert set(sealed) >= {"whatsapp.app_secret", "whatsapp.access_token", "whatsapp.verify_token"}
    assert all(TOKEN.encode() not in (value or b"") for value in sealed.values())  # encrypted at rest

    # Saving again with the secrets left empty keeps them.
    kept = {k: v for k, v in form.items() if not k.startswith("secret.")}
    assert msg_client.post("/settings/channels/whatsapp", data=kept, follow_redirects=True).status_code == 200
    tested = msg_client.post("/settings/channels/whatsapp/test", data={"csrf": csrf})
    assert 'data-tested="ok"' in tested.text
    assert any(c.path == "/graph/v21.0/106540352242922" for c in providers.calls)

    # A wrong token: the test says why, and the overview shows the error as the channel's health.
    msg_client.post("/settings/channels/whatsapp", data={**kept, "secret.access_token": "EAAG-revoked-token"})
    tested = msg_client.post("/settings/channels/whatsapp/test", data={"csrf": csrf})
    assert 'data-tested="failed"' in tested.text and "Invalid OAuth access token" in tested.text
    health = msg_client.get("/settings/channels").text
    row = re.search(r'<tr data-channel="whatsapp">(.*?)</tr>', health, re.S)
    assert row and "Invalid OAuth access token" in row.group(1)


def test_agents_cannot_open_the_channel_settings(msg_client: TestClient, world: World) -> None:
    sign_in(msg_client, world, Role.AGENT)
    assert msg_client.get("/settings/channels").status_code == 403
    assert msg_client.get("/settings/channels/telegram").status_code == 403
    csrf = session_csrf(msg_client)
    refused = msg_client.post("/settings/channels/telegram", data={"csrf": csrf, "secret.bot_token": "x"})
    assert refused.status_code == 403
