"""The visitor API: sessions, identity, conversations, idempotent sends, resume, receipts, rating, files, limits."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.channels.widget.identity import identity_hash
from omnidesk.channels.widget.models import WidgetConfig
from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, SettingsError, load_settings
from omnidesk.customers.models import CustomerIdentity
from omnidesk.events.bus import MemoryBus
from omnidesk.security.permissions import Role
from omnidesk.security.signing import hmac_hex
from omnidesk.web.app import create_app
from tests.factories import World, start_visitor, visitor_conversation

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_anonymous_visitor_returns_and_sees_history(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug, language="zh-CN")
    assert visitor["visitor_id"].startswith("v_") and visitor["conversations"] == []
    conv = visitor_conversation(client, visitor, "我的快递三天没动了")
    again = start_visitor(client, world.slug, visitor_id=visitor["visitor_id"])
    assert again["visitor_id"] == visitor["visitor_id"]
    assert [c["id"] for c in again["conversations"]] == [conv["id"]]
    messages = client.get(f"{again['base']}/conversations/{conv['id']}/messages", headers=again["headers"]).json()
    assert [m["body"] for m in messages["items"]] == ["我的快递三天没动了"]
    # An unknown (or made-up) visitor id starts a fresh, empty visitor instead of reaching anyone's history.
    stranger = start_visitor(client, world.slug, visitor_id="v_" + "A" * 32)
    assert stranger["visitor_id"] != "v_" + "A" * 32 and stranger["conversations"] == []


def _signed(secret: str, identifier: str, issued_at: int | None = None) -> dict[str, object]:
    """What a host site's server puts into ``window.OmniDeskSettings`` when it renders a page."""
    at = int(time.time()) if issued_at is None else issued_at
    return {
        "identifier": identifier,
        "identifier_issued_at": at,
        "identifier_hash": identity_hash(secret, identifier, at),
    }


def test_signed_identity_reaches_history_and_a_forged_one_does_not(client: TestClient, world: World) -> None:
    secret = client.get("/api/v1/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    good = start_visitor(client, world.slug, **_signed(secret, "shop-user-42"))
    assert good["identified"] is True
    conv = visitor_conversation(client, good)
    # Same user on another device: no visitor id, but a valid signature → the same history.
    other_device = start_visitor(client, world.slug, **_signed(secret, "shop-user-42"))
    assert [c["id"] for c in other_device["conversations"]] == [conv["id"]]
    forged = start_visitor(client, world.slug, **{**_signed(secret, "shop-user-42"), "identifier_hash": "0" * 64})
    assert forged["identified"] is False and forged["conversations"] == []
    # The time is signed too: moving it to make an old token look fresh breaks the signature.
    old = _signed(secret, "shop-user-42", int(time.time()) - 3600)
    moved = start_visitor(client, world.slug, **{**old, "identifier_issued_at": int(time.time())})
    assert moved["identified"] is False and moved["conversations"] == []


def test_an_identity_token_expires_and_cannot_be_replayed_later(client: TestClient, world: World) -> None:
    """A token copied from a page (a shared screenshot, a proxy log, a browser history) used to work forever."""
    secret = client.get("/api/v1/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    victim = start_visitor(client, world.slug, **_signed(secret, "shop-user-7"))
    conv = visitor_conversation(client, victim, "my card ends in 4242")
    now = int(time.time())
    for issued_at, words in [(now - 601, "issued 601 seconds ago"), (now + 3600, "in the future")]:
        replay = client.post(f"/api/v1/widget/{world.slug}/session", json=_signed(secret, "shop-user-7", issued_at))
        assert replay.status_code == 401, replay.text
        assert replay.json()["type"] == "/problems/identity-expired"
        assert words in replay.json()["detail"]
        assert conv["id"] not in replay.text
    # Within the age limit, and a few seconds of clock skew, it works.
    assert start_visitor(client, world.slug, **_signed(secret, "shop-user-7", now - 590))["identified"] is True
    assert start_visitor(client, world.slug, **_signed(secret, "shop-user-7", now + 30))["identified"] is True
    # A hash of the first scheme (identifier alone, no time) is refused by name.
    legacy = client.post(
        f"/api/v1/widget/{world.slug}/session",
        json={"identifier": "shop-user-7", "identifier_hash": hmac_hex(secret, "shop-user-7")},
    )
    assert legacy.status_code == 422
    assert "identifier_issued_at is required" in legacy.json()["detail"]


def test_the_identity_age_limit_is_a_setting(settings: Settings, db: Database, world: World) -> None:
    short = TestClient(
        create_app(settings.model_copy(update={"widget_identity_max_age_seconds": 60}), db=db, bus=db.bus)
    )
    secret = short.get("/api/v1/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    stale = short.post(f"/api/v1/widget/{world.slug}/session", json=_signed(secret, "u-1", int(time.time()) - 120))
    assert stale.status_code == 401
    with pytest.raises(SettingsError, match="OMNIDESK_WIDGET_IDENTITY_MAX_AGE_SECONDS"):
        load_settings(widget_identity_max_age_seconds=5)


def test_send_is_idempotent_and_ordered_and_notes_stay_internal(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor)
    url = f"{visitor['base']}/conversations/{conv['id']}/messages"
    first = client.post(url, json={"body": "在吗？", "client_id": "c-retry-1"}, headers=visitor["headers"])
    again = client.post(url, json={"body": "在吗？", "client_id": "c-retry-1"}, headers=visitor["headers"])
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and first.json()["seq"] == 2
    client.post(f"/api/v1/conversations/{conv['id']}/notes", json={"body": "VIP 客户"}, headers=world.headers())
    client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"body": "您好，我来帮您查"}, headers=world.headers()
    )
    items = client.get(url, headers=visitor["headers"]).json()["items"]
    assert [m["seq"] for m in items] == [1, 2, 4]
    assert "VIP 客户" not in str(items)
    resumed = client.get(url, params={"after_seq": 2}, headers=visitor["headers"]).json()["items"]
    assert [m["body"] for m in resumed] == ["您好，我来帮您查"]


def test_retried_first_message_opens_one_conversation(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    body = {"message": "第一次联系", "client_id": "c-open-1"}
    a = client.post(f"{visitor['base']}/conversations", json=body, headers=visitor["headers"])
    b = client.post(f"{visitor['base']}/conversations", json=body, headers=visitor["headers"])
    assert a.status_code == 201 and b.status_code == 200 and a.json()["id"] == b.json()["id"]


def test_visitors_reach_only_their_own_conversations(client: TestClient, world: World, other_world: World) -> None:
    alice = start_visitor(client, world.slug)
    bob = start_visitor(client, world.slug)
    conv = visitor_conversation(client, alice)
    base = f"{bob['base']}/conversations/{conv['id']}"
    for method, path, body in [
        ("GET", "/messages", None),
        ("POST", "/messages", {"body": "hi", "client_id": "c-x"}),
        ("POST", "/receipts", {"read_seq": 1}),
        ("POST", "/rating", {"score": 1}),
        ("GET", "/queue", None),
        ("GET", f"/attachments/{uuid.uuid4()}", None),
    ]:
        response = client.request(method, base + path, json=body, headers=bob["headers"])
        assert response.status_code == 404, (method, path, response.text)
    # The staff conversation of the factory world is not reachable either.
    staff_conv = f"{bob['base']}/conversations/{world.conversation.id}/messages"
    assert client.get(staff_conv, headers=bob["headers"]).status_code == 404
    # A token of one workspace is refused on another workspace's routes.
    foreign = client.get(f"/api/v1/widget/{other_world.slug}/conversations", headers=alice["headers"])
    assert foreign.status_code == 401
    # Staff API keys are no visitor tokens, and visitor tokens are no staff credentials.
    assert client.get(f"{alice['base']}/conversations", headers=world.headers()).status_code == 401
    assert client.get("/api/v1/conversations", headers=alice["headers"]).status_code == 401


def test_rating_after_resolution(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor)
    rating_url = f"{visitor['base']}/conversations/{conv['id']}/rating"
    assert client.post(rating_url, json={"score": 5}, headers=visitor["headers"]).status_code == 409
    client.patch(f"/api/v1/conversations/{conv['id']}", json={"status": "resolved"}, headers=world.headers())
    assert client.post(rating_url, json={"score": 6}, headers=visitor["headers"]).status_code == 422
    ok = client.post(rating_url, json={"score": 4, "comment": "很快，谢谢"}, headers=visitor["headers"])
    assert ok.status_code == 201
    seen = client.get(f"/api/v1/conversations/{conv['id']}/rating", headers=world.headers(Role.AGENT)).json()
    assert seen == {"score": 4, "comment": "很快，谢谢"}


def test_receipts_move_forward_only(client: TestClient, world: World, db: Database) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor)
    client.post(f"/api/v1/conversations/{conv['id']}/messages", json={"body": "好的"}, headers=world.headers())
    url = f"{visitor['base']}/conversations/{conv['id']}/receipts"
    assert client.post(url, json={"delivered_seq": 2, "read_seq": 2}, headers=visitor["headers"]).status_code == 204
    assert client.post(url, json={"delivered_seq": 1, "read_seq": 1}, headers=visitor["headers"]).status_code == 204
    assert client.post(url, json={"read_seq": 99}, headers=visitor["headers"]).status_code == 204
    from omnidesk.conversations import feedback
    from omnidesk.conversations.models import Conversation

    with db.tenant_transaction(world.tenant_id) as s:
        marker = feedback.markers(s, s.get(Conversation, uuid.UUID(conv["id"])))["customer"]  # type: ignore[arg-type]
        assert (marker.delivered_seq, marker.read_seq) == (2, 2)


def test_attachments_are_checked_encrypted_and_served_to_both_sides(
    client: TestClient, world: World, settings: object
) -> None:
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor)
    url = f"{visitor['base']}/conversations/{conv['id']}/attachments"
    bad = [
        ("evil.html", b"<script>alert(1)</script>", "text/html"),
        ("fake.png", b"%PDF-1.4 not a png", "image/png"),
        ("photo.pdf", PNG, "image/png"),
    ]
    for name, data, kind in bad:
        response = client.post(url, files={"file": (name, data, kind)}, headers=visitor["headers"])
        assert response.status_code == 422, (name, response.text)
    ok = client.post(
        url, files={"file": ("收据.png", PNG, "image/png")}, data={"client_id": "c-file-1"}, headers=visitor["headers"]
    )
    assert ok.status_code == 201, ok.text
    message = ok.json()
    attachment = message["payload"]["attachment"]
    assert message["kind"] == "attachment" and attachment["size"] == len(PNG)
    got = client.get(f"{url}/{attachment['id']}", headers=visitor["headers"])
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    assert "sandbox" in got.headers["content-security-policy"]
    staff = client.get(f"/api/v1/conversations/{conv['id']}/attachments/{attachment['id']}", headers=world.headers())
    assert staff.content == PNG
    # On disk the bytes are encrypted: the PNG signature appears nowhere under the blob directory.
    from pathlib import Path

    blob_root = Path(settings.data_dir) / "blobs"  # type: ignore[attr-defined]
    assert all(PNG[:8] not in f.read_bytes() for f in blob_root.rglob("*") if f.is_file())


def test_staff_attachment_isolation(client: TestClient, world: World, other_world: World) -> None:
    url = f"/api/v1/conversations/{world.conversation.id}/attachments"
    response = client.post(url, files={"file": ("a.png", PNG, "image/png")}, headers=other_world.headers())
    assert response.status_code == 404
    ok = client.post(url, files={"file": ("a.png", PNG, "image/png")}, headers=world.headers(Role.AGENT))
    assert ok.status_code == 201
    attachment_id = ok.json()["payload"]["attachment"]["id"]
    assert client.get(f"{url}/{attachment_id}", headers=other_world.headers()).status_code == 404


def test_bad_input_is_refused_cleanly(client: TestClient, world: World) -> None:
    base = f"/api/v1/widget/{world.slug}"
    assert client.post(f"{base}/session", json={"visitor_id": "../../etc"}).status_code == 422
    assert client.post(f"{base}/session", json={"surprise": 1}).status_code == 422
    assert client.post("/api/v1/widget/no-such-tenant/session", json={}).status_code == 404
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor)
    url = f"{base}/conversations/{conv['id']}/messages"
    assert client.post(url, json={"body": "", "client_id": "c1"}, headers=visitor["headers"]).status_code == 422
    assert client.post(url, json={"body": "x"}, headers=visitor["headers"]).status_code == 422
    assert (
        client.post(url, json={"body": "x" * 10_001, "client_id": "c2"}, headers=visitor["headers"]).status_code == 422
    )
    assert client.get(f"{base}/conversations", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_origin_allow_list_and_framing(client: TestClient, world: World) -> None:
    base = f"/api/v1/widget/{world.slug}/session"
    assert client.post(base, json={}, headers={"Origin": "https://evil.example"}).status_code == 403
    client.patch("/api/v1/widget/config", json={"allowed_origins": ["https://shop.example"]}, headers=world.headers())
    assert client.post(base, json={}, headers={"Origin": "https://shop.example"}).status_code == 200
    page = client.get(f"/chat/{world.slug}")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://shop.example" in csp and "script-src 'self';" in csp
    assert "x-frame-options" not in page.headers
    # Every other page stays unframeable.
    assert client.get("/login").headers["x-frame-options"] == "DENY"
    config = client.get("/api/v1/widget/config", headers=world.headers()).json()
    assert f'data-omnidesk-tenant="{world.slug}"' in config["snippet"]
    assert client.get("/api/v1/widget/config", headers=world.headers(Role.AGENT)).status_code == 403


def test_new_conversations_are_rate_limited_per_ip(settings: object, db: Database, world: World) -> None:
    strict = settings.model_copy(update={"widget_conversations_per_ip": 2})  # type: ignore[attr-defined]
    app = create_app(strict, db=db, bus=MemoryBus())
    with TestClient(app) as c:
        visitor = start_visitor(c, world.slug)
        for n in range(2):
            visitor_conversation(c, visitor, f"第 {n} 个")
        third = c.post(
            f"{visitor['base']}/conversations",
            json={"message": "再来一个", "client_id": "c-3"},
            headers=visitor["headers"],
        )
        assert third.status_code == 429 and "retry-after" in {k.lower() for k in third.headers}


def test_concurrent_copies_of_one_send_store_one_message(client: TestClient, world: World) -> None:
    """A retry racing its original (same client id) yields one stored message and the same answer for both."""
    from concurrent.futures import ThreadPoolExecutor

    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor)
    url = f"{visitor['base']}/conversations/{conv['id']}/messages"

    def send(_: int) -> tuple[int, str]:
        r = client.post(url, json={"body": "同一条消息", "client_id": "c-race"}, headers=visitor["headers"])
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))
    assert {code for code, _ in answers} <= {200, 201} and len({mid for _, mid in answers}) == 1
    items = client.get(url, headers=visitor["headers"]).json()["items"]
    assert [m["body"] for m in items].count("同一条消息") == 1


def test_contact_details_are_stored_but_never_merge_profiles(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    url = f"{visitor['base']}/contact"
    assert client.patch(url, json={"email": "not-an-email"}, headers=visitor["headers"]).status_code == 422
    # The factory customer already owns this address; typing it in does not reach that customer's history.
    ok = client.patch(url, json={"name": "李雷", "email": world.customer.email}, headers=visitor["headers"])
    assert ok.status_code == 200 and ok.json() == {"name": "李雷"}
    again = start_visitor(client, world.slug, visitor_id=visitor["visitor_id"])
    assert str(world.conversation.id) not in [c["id"] for c in again["conversations"]]


def test_a_huge_resume_point_is_422_not_500(client: TestClient, world: World) -> None:
    """Found by the schemathesis run once it fuzzed past the visitor token: SQLite cannot bind 2**64."""
    visitor = start_visitor(client, world.slug)
    conversation = visitor_conversation(client, visitor)
    url = f"{visitor['base']}/conversations/{conversation['id']}/messages"
    r = client.get(url, params={"after_seq": 2**64}, headers=visitor["headers"])
    assert r.status_code == 422, r.text
    staff = client.get(
        f"/api/v1/conversations/{conversation['id']}/messages",
        params={"after_seq": 2**64},
        headers=world.headers(Role.ADMIN),
    )
    assert staff.status_code == 422, staff.text
    assert client.get(url, params={"after_seq": 0}, headers=visitor["headers"]).status_code == 200


def test_visitors_become_customers_through_the_customers_slice(client: TestClient, world: World, db: Database) -> None:
    """The widget does not write customers itself: the customers slice creates them (audited, announced) and
    records which identity the host site vouched for."""
    secret = client.get("/api/v1/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    anonymous = start_visitor(client, world.slug, name="访客")
    signed = start_visitor(
        client,
        world.slug,
        visitor_id=anonymous["visitor_id"],
        **_signed(secret, "shop-user-77"),
        name="张三",
    )
    assert signed["identified"] is True and signed["customer_name"] == "访客"  # a typed name is kept
    with db.tenant_read(world.tenant_id) as s:
        identities = {
            i.kind: i
            for i in s.scalars(
                select(CustomerIdentity).where(CustomerIdentity.value.in_([anonymous["visitor_id"], "shop-user-77"]))
            )
        }
        assert identities["web_visitor"].customer_id == identities["external"].customer_id
        assert not identities["web_visitor"].verified and identities["external"].verified
        customer_id = str(identities["web_visitor"].customer_id)
        actions = [
            (r.action, r.changes)
            for r in s.scalars(
                select(AuditRecord).where(AuditRecord.target_id == customer_id).order_by(AuditRecord.created_at)
            )
        ]
    assert ("customer.create", {"source": "widget", "verified": False}) in actions
    assert ("customer.identity_add", {"kind": "external", "verified": True}) in actions


def test_reading_the_widget_settings_stores_nothing(client: TestClient, world: World, db: Database) -> None:
    config = client.get("/api/v1/widget/config", headers=world.headers())
    assert config.status_code == 200 and config.json()["enabled"] is True and config.json()["allowed_origins"] == []
    with db.tenant_read(world.tenant_id) as s:
        assert s.scalar(select(WidgetConfig.id)) is None
    # Revealing the identity secret creates it (an action, audited); the next reveal shows the same one.
    first = client.get("/api/v1/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    again = client.get("/api/v1/widget/config/identity-secret", headers=world.headers()).json()["identity_secret"]
    assert first == again and len(first) >= 32
    with db.tenant_read(world.tenant_id) as s:
        reads = s.scalars(select(AuditRecord.action).where(AuditRecord.action == "widget.identity_secret_read")).all()
    assert len(reads) == 2


def test_a_retried_open_racing_its_original_opens_one_conversation(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug)
    body = {"message": "同时发了两次", "client_id": "c-race-open"}

    def post(_: int) -> tuple[int, str]:
        r = client.post(f"{visitor['base']}/conversations", json=body, headers=visitor["headers"])
        return r.status_code, r.json().get("id", r.text)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(post, range(4)))
    assert sorted(code for code, _ in results) == [200, 200, 200, 201], results
    assert len({conversation_id for _, conversation_id in results}) == 1
    listed = client.get(f"{visitor['base']}/conversations", headers=visitor["headers"]).json()
    assert len(listed) == 1
