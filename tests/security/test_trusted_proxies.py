"""The client address behind a load balancer: X-Forwarded-For counts only from OMNIDESK_TRUSTED_PROXIES.

Before, every per-IP limit saw the balancer's address (one bucket for everyone) if the peer was a proxy, and any
client could pick its own bucket and audit IP if the header had been believed. Now: the header of an untrusted peer
is ignored, and behind a trusted proxy each client gets its own limit and its own address in the audit trail.
"""

from __future__ import annotations

import ipaddress
import json
import random
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.compliance.models import AuditRecord
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings, SettingsError, load_settings
from omnidesk.security.proxies import client_address, networks
from omnidesk.web.app import create_app
from tests.factories import World, start_visitor, visitor_conversation

PROXY = "10.20.30.40"
SESSIONS_PER_IP = 3


def _public_ip() -> str:
    """A fresh documentation-range address per call, so reruns against a shared limiter never collide."""
    return str(ipaddress.ip_address("198.18.0.0") + random.randrange(1, 2**17))


def _app(settings: Settings, db: Database, **update: object) -> FastAPI:
    return create_app(
        settings.model_copy(update={"widget_sessions_per_ip": SESSIONS_PER_IP, **update}), db=db, bus=db.bus
    )


def _sessions_until_limited(c: TestClient, slug: str, forwarded: list[str]) -> int:
    """Start sessions, one per X-Forwarded-For value in turn, until one is refused; how many were let in.

    Bounded: a fixed window can roll over once during the loop, so 2 × limit + 1 attempts always reach a refusal
    when the requests share one bucket."""
    for attempt in range(2 * SESSIONS_PER_IP + 1):
        value = forwarded[attempt % len(forwarded)]
        answer = c.post(f"/api/v1/widget/{slug}/session", json={}, headers={"X-Forwarded-For": value})
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0
            return attempt
        assert answer.status_code == 200, answer.text
    return -1


def test_a_forged_header_from_an_untrusted_peer_does_not_change_the_limiter_key(
    settings: Settings, db: Database, world: World
) -> None:
    peer = _public_ip()
    with TestClient(_app(settings, db, trusted_proxies=[PROXY]), client=(peer, 50000)) as c:
        # Each request claims another address; they all count against the real peer all the same.
        forged = [_public_ip() for _ in range(2 * SESSIONS_PER_IP + 1)]
        assert _sessions_until_limited(c, world.slug, forged) in range(1, 2 * SESSIONS_PER_IP + 1)


def test_behind_a_trusted_proxy_two_clients_get_separate_limits(settings: Settings, db: Database, world: World) -> None:
    alice, bob = _public_ip(), _public_ip()
    with TestClient(_app(settings, db, trusted_proxies=["10.20.30.0/24"]), client=(PROXY, 50000)) as c:
        # Alice prepends a forged address of her own: the proxy appended her real one, which is what counts.
        assert _sessions_until_limited(c, world.slug, [f"{bob}, {alice}"]) in range(1, 2 * SESSIONS_PER_IP + 1)
        bobs = c.post(f"/api/v1/widget/{world.slug}/session", json={}, headers={"X-Forwarded-For": bob})
        assert bobs.status_code == 200, "Bob shares the proxy with Alice but not her limit"


def test_without_trusted_proxies_everyone_behind_a_balancer_shares_its_address(
    settings: Settings, db: Database, world: World
) -> None:
    """The default trusts nobody: the header is ignored and the peer is the client (safe, if coarse)."""
    with TestClient(_app(settings, db), client=(PROXY, 50000)) as c:
        assert _sessions_until_limited(c, world.slug, [_public_ip(), _public_ip()]) in range(1, 2 * SESSIONS_PER_IP + 1)


def _audit_ips(db: Database, world: World, action: str) -> list[str | None]:
    with db.tenant_read(world.tenant_id) as s:
        return list(s.scalars(select(AuditRecord.ip).where(AuditRecord.action == action)))


def test_audit_records_name_the_forwarded_client_only_behind_a_trusted_proxy(
    settings: Settings, db: Database, world: World
) -> None:
    client, forged = _public_ip(), _public_ip()
    app = _app(settings, db, trusted_proxies=[PROXY])
    with TestClient(app, client=(PROXY, 50000)) as c:
        created = c.post(
            "/api/v1/customers",
            json={"name": "经代理创建"},
            headers={**world.headers(), "X-Forwarded-For": f"{forged}, {client}"},
        )
        assert created.status_code == 201, created.text
    with TestClient(app, client=("203.0.113.9", 50000)) as c:
        created = c.post(
            "/api/v1/customers", json={"name": "直接创建"}, headers={**world.headers(), "X-Forwarded-For": forged}
        )
        assert created.status_code == 201, created.text
    # The forged address appears nowhere; world's own customers were created by the system (no IP).
    assert sorted(ip for ip in _audit_ips(db, world, "customer.create") if ip) == sorted([client, "203.0.113.9"])


def test_a_socket_handshake_through_a_trusted_proxy_records_the_client(
    settings: Settings, db: Database, world: World
) -> None:
    client = _public_ip()
    with TestClient(_app(settings, db, trusted_proxies=[PROXY]), client=(PROXY, 50000)) as c:
        visitor = start_visitor(c, world.slug)
        conversation = visitor_conversation(c, visitor)
        with c.websocket_connect("/api/v1/realtime/ws", headers={"X-Forwarded-For": client}) as ws:
            ws.send_text(json.dumps({"type": "auth", "token": visitor["socket_token"]}))
            assert ws.receive_json()["type"] == "ready"
            client_id = f"c-{uuid.uuid4().hex[:12]}"
            ws.send_text(
                json.dumps(
                    {"type": "send", "conversation_id": conversation["id"], "client_id": client_id, "body": "hi"}
                )
            )
            for _ in range(20):
                frame = ws.receive_json()
                if frame.get("client_id") == client_id:
                    break
            assert frame["type"] == "ack", frame
    with db.tenant_read(world.tenant_id) as s:
        ips = s.scalars(
            select(AuditRecord.ip).where(
                AuditRecord.action == "conversation.message_add",
                AuditRecord.target_id == conversation["id"],
            )
        ).all()
    assert client in ips


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        ("203.0.113.5", ["1.2.3.4"], [], "203.0.113.5"),  # nobody trusted: the header is never read
        ("203.0.113.5", ["1.2.3.4"], ["10.0.0.0/8"], "203.0.113.5"),  # untrusted peer: forged header ignored
        ("10.0.0.1", ["1.2.3.4, 5.6.7.8"], ["10.0.0.0/8"], "5.6.7.8"),  # rightmost untrusted hop, not the leftmost
        ("10.0.0.1", ["1.2.3.4, 10.0.0.2"], ["10.0.0.0/8"], "1.2.3.4"),  # two proxies of ours
        ("10.0.0.1", ["1.2.3.4", "10.0.0.2"], ["10.0.0.0/8"], "1.2.3.4"),  # the same in two header lines
        ("10.0.0.1", ["nonsense, 10.0.0.2"], ["10.0.0.0/8"], "10.0.0.2"),  # stop at the hop that passed garbage on
        ("10.0.0.1", [], ["10.0.0.0/8"], "10.0.0.1"),  # a proxy that sent no header is the client
        ("10.0.0.1", ["10.0.0.3"], ["10.0.0.0/8"], "10.0.0.3"),  # all trusted: the leftmost
        ("::ffff:10.0.0.1", ["[2001:db8::7]:4711"], ["10.0.0.0/8"], "2001:db8::7"),  # dual stack, v6 with port
        ("fd00::1", ["198.51.100.4:8080"], ["fd00::/8"], "198.51.100.4"),
        ("testclient", ["1.2.3.4"], ["10.0.0.0/8"], "testclient"),  # not an address at all: kept as it is
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, header: list[str], trusted: list[str], expected: str
) -> None:
    assert client_address(peer, header, networks(tuple(trusted))) == expected


def test_trusted_proxies_setting_is_validated() -> None:
    assert load_settings(trusted_proxies="10.0.0.0/8, 192.0.2.7 ,fd00::/8").trusted_proxies == [
        "10.0.0.0/8",
        "192.0.2.7",
        "fd00::/8",
    ]
    with pytest.raises(SettingsError, match="OMNIDESK_TRUSTED_PROXIES"):
        load_settings(trusted_proxies="10.0.0.0/8,lb.internal")
    with pytest.raises(SettingsError, match="OMNIDESK_TRUSTED_PROXIES"):
        load_settings(trusted_proxies="10.0.0.1/8")
