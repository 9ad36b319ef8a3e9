"""E-mail through a real local SMTP server (aiosmtpd), and encrypted attachments through the blob store."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.core import mail
from omnidesk.core.blobs import LocalEncryptedBlobStore, MemoryBlobStore
from omnidesk.core.db import Database
from omnidesk.core.errors import NotFound
from omnidesk.core.settings import Settings, load_settings
from omnidesk.jobs import tickets as jobs
from omnidesk.security.keys import Keyring, Purpose
from omnidesk.security.permissions import Role
from tests.factories import World
from tests.tickets.helpers import move, new_ticket

API = "/api/v1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            inbox,
            load_settings(
                **{**settings.model_dump(), "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
            ),
        )
    finally:
        controller.stop()


def test_public_reply_and_survey_reach_an_email_customer(
    client: TestClient, world: World, db: Database, smtp: tuple[Inbox, Settings]
) -> None:
    inbox, settings = smtp
    t = new_ticket(client, world, channel="email", subject="发票 invoice")
    client.post(
        f"{API}/tickets/{t['id']}/messages",
        json={"body": "发票已开具 invoice issued", "public": True},
        headers=world.headers(Role.AGENT),
    )
    t = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["ticket"]
    move(client, world, t, "resolved", resolution="sent")
    assert jobs.deliver_mail(db, settings) >= 2
    mine = [m for m in inbox.messages if m["To"] == world.customer.email]
    subjects = [str(m["Subject"]) for m in mine]
    assert f"[#{t['number']}] 发票 invoice" in subjects
    assert any("发票已开具" in m.get_payload(decode=True).decode() for m in mine)  # type: ignore[union-attr]
    assert any(f"#{t['number']}" in s and s != f"[#{t['number']}] 发票 invoice" for s in subjects), "the survey"
    assert len(mine) == 2, "the reply and the satisfaction survey"
    assert jobs.deliver_mail(db, settings) == 0, "each e-mail is sent once"
    survey = client.get(f"{API}/tickets/{t['id']}", headers=world.headers(Role.AGENT)).json()["surveys"][0]
    assert survey["channel"] == "email"
    url = f"{API}/ticket-surveys/{survey['id']}/answer"
    assert client.post(url, json={"score": 9}, headers=world.headers(Role.AGENT)).status_code == 422
    assert client.post(url, json={"score": 5, "comment": "很快"}, headers=world.headers(Role.AGENT)).status_code == 200
    assert client.post(url, json={"score": 1}, headers=world.headers(Role.AGENT)).status_code == 409
    csat = client.get(f"{API}/ticket-reports/csat", headers=world.headers(Role.SUPERVISOR)).json()
    assert csat["answered"] == 1 and csat["mean_score"] == 5.0


def test_mail_is_off_without_smtp_and_refuses_header_injection(settings: Settings, db: Database) -> None:
    assert jobs.deliver_mail(db, settings) == 0
    configured = load_settings(**{**settings.model_dump(), "smtp_host": "127.0.0.1"})
    with pytest.raises(mail.MailError):
        mail.send(configured, "a@example.com", "hi\r\nBcc: evil@example.com", "x")


def test_encrypted_local_blobs(tmp_path: Path) -> None:
    store = LocalEncryptedBlobStore(tmp_path, Keyring("k" * 40)[Purpose.BLOBS])
    ref = store.put(b"secret evidence", "text/plain")
    on_disk = next(p for p in tmp_path.rglob("*") if p.is_file())
    assert b"secret evidence" not in on_disk.read_bytes(), "encrypted at rest"
    assert store.get(ref.key) == b"secret evidence"
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")
    on_disk.write_bytes(on_disk.read_bytes()[:-1] + b"x")
    with pytest.raises(NotFound):
        store.get(ref.key)


def test_attachments_checked_stored_and_isolated(
    client: TestClient, app: FastAPI, world: World, other_world: World
) -> None:
    app.state.blobs = MemoryBlobStore()
    t = new_ticket(client, world, type="complaint")
    url = f"{API}/tickets/{t['id']}/attachments"
    r = client.post(
        url,
        files={"file": ("破损.png", PNG, "image/png")},
        data={"evidence": "true"},
        headers=world.headers(Role.AGENT),
    )
    assert r.status_code == 201 and r.json()["evidence"] is True
    fake = client.post(url, files={"file": ("x.png", b"MZ\x90\x00", "image/png")}, headers=world.headers(Role.AGENT))
    assert fake.status_code == 422
    exe = client.post(
        url, files={"file": ("x.exe", b"MZ\x90\x00", "application/x-msdownload")}, headers=world.headers(Role.AGENT)
    )
    assert exe.status_code == 422
    got = client.get(f"{url}/{r.json()['id']}", headers=world.headers(Role.AGENT))
    assert got.content == PNG and got.headers["content-disposition"] == "attachment"
    assert client.get(f"{url}/{r.json()['id']}", headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert (
        client.post(
            url, files={"file": ("a.png", PNG, "image/png")}, headers=other_world.headers(Role.ADMIN)
        ).status_code
        == 404
    )
