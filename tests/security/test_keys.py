"""One key per purpose: a token signed with the raw secret key, or with the key of another purpose, opens nothing;
previous secret keys keep working during a rotation; stored attachments stay readable."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi.testclient import TestClient

from omnidesk.channels.widget.api import VISITOR_PURPOSE
from omnidesk.core.blobs import LocalEncryptedBlobStore
from omnidesk.core.errors import Unauthenticated
from omnidesk.core.settings import Settings
from omnidesk.realtime.tokens import PURPOSE as SOCKET_PURPOSE
from omnidesk.realtime.tokens import SocketGrant, mint, redeem
from omnidesk.security import signing
from omnidesk.security.keys import Keyring, Purpose, keyring
from tests.factories import World

OLD = "old-secret-" + "o" * 40
NEW = "new-secret-" + "n" * 40


def test_every_purpose_has_its_own_key() -> None:
    ring = Keyring(NEW)
    derived = {ring[p].current for p in Purpose}
    assert len(derived) == len(Purpose)
    assert NEW.encode() not in derived


def test_socket_tokens_need_their_own_key() -> None:
    ring = Keyring(NEW)
    tenant, staff = uuid.uuid4(), uuid.uuid4()
    staff_claim = {"t": str(tenant), "k": "staff", "s": str(staff), "ra": 1}
    forged_with = [
        NEW.encode(),  # the raw secret key, as the probe's attacker had it
        ring[Purpose.VISITOR_SOCKET].current,  # a visitor socket key cannot mint staff sockets
        ring[Purpose.VISITOR_SESSION].current,
        ring[Purpose.BLOBS].current,
        ring[Purpose.TENANT_SECRETS].current,
    ]
    for key in forged_with:
        with pytest.raises(Unauthenticated):
            redeem(ring, signing.sign(key, SOCKET_PURPOSE, staff_claim, 60))
    assert redeem(ring, signing.sign(ring[Purpose.STAFF_SOCKET].current, SOCKET_PURPOSE, staff_claim, 60)).read_all


def test_visitor_tokens_signed_with_the_raw_secret_are_refused(
    client: TestClient, world: World, settings: Settings
) -> None:
    slug = world.slug
    session = client.post(f"/api/v1/widget/{slug}/session", json={}).json()
    me = client.get(f"/api/v1/widget/{slug}/conversations", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.status_code == 200
    payload = signing.unverified_payload(session["token"])
    raw = settings.effective_secret_key.encode()
    for key in (raw, keyring(settings)[Purpose.STAFF_SOCKET].current):
        forged = signing.sign(key, VISITOR_PURPOSE, {k: v for k, v in payload.items() if k != "exp"}, 600)
        refused = client.get(f"/api/v1/widget/{slug}/conversations", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401


def test_previous_secret_keeps_tokens_and_files_working_during_rotation(tmp_path: Path) -> None:
    before, during, after = Keyring(OLD), Keyring(NEW, (OLD,)), Keyring(NEW)
    grant = SocketGrant(tenant_id=uuid.uuid4(), kind="visitor", customer_id=uuid.uuid4())
    issued_before = mint(before, grant)
    assert redeem(during, issued_before) == grant
    with pytest.raises(Unauthenticated):
        redeem(after, issued_before)
    with pytest.raises(Unauthenticated):
        redeem(before, mint(during, grant))

    old_store = LocalEncryptedBlobStore(tmp_path, before[Purpose.BLOBS])
    ref = old_store.put(b"evidence", "text/plain")
    assert LocalEncryptedBlobStore(tmp_path, during[Purpose.BLOBS]).get(ref.key) == b"evidence"


def test_attachments_encrypted_before_the_keyring_stay_readable(tmp_path: Path) -> None:
    """Files written by the earlier code (its own HKDF derivation straight from the secret key) still open."""
    secret = "s" * 48
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"omnidesk-blobs-v1", info=b"blob-encryption")
    legacy = AESGCM(hkdf.derive(secret.encode()))
    key = uuid.uuid4().hex
    nonce = os.urandom(12)
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / key).write_bytes(nonce + legacy.encrypt(nonce, b"old attachment", key.encode()))
    assert LocalEncryptedBlobStore(tmp_path, Keyring(secret)[Purpose.BLOBS]).get(key) == b"old attachment"
