"""Real peers for the e-mail channel: an SMTP relay (aiosmtpd, recording what it is handed, as the tenant's
relay would) and the product's own SMTP ingress on loopback, plus a mailbox of the test's tenant between them."""

from __future__ import annotations

import smtplib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from omnidesk.channels.email.actions import MailboxInput, save_mailbox
from omnidesk.channels.email.ingress import Ingress
from omnidesk.core.actor import system_actor
from omnidesk.core.blobs import MemoryBlobStore
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.security.keys import Purpose, for_purpose
from tests.factories import World
from tests.servers import free_port

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str, **placeholders: str) -> bytes:
    text = (FIXTURES / name).read_bytes()
    for key, value in placeholders.items():
        text = text.replace(f"__{key.upper()}__".encode(), value.encode())
    return text


@dataclass
class Relay:
    """What the tenant's SMTP relay was handed: envelope and parsed message, in order. ``answers`` are SMTP
    replies to give to the next DATA commands (then 250)."""

    port: int = 0
    received: list[tuple[str, list[str], EmailMessage, bytes]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.answers:
                return self.answers.pop(0)
            data = envelope.original_content or b""
            parsed = BytesParser(policy=policy.default).parsebytes(data)
            assert isinstance(parsed, EmailMessage)
            self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed, data))
        return "250 2.0.0 queued"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [m for _, _, m, _ in self.received]


@pytest.fixture(scope="session")
def relay() -> Iterator[Relay]:
    state = Relay(port=free_port())
    controller = Controller(state, hostname="127.0.0.1", port=state.port)
    controller.start()
    yield state
    controller.stop()


@pytest.fixture(scope="session")
def ingress(db: Database) -> Iterator[Ingress]:
    server = Ingress(db, MemoryBlobStore(), "127.0.0.1", free_port()).start()
    yield server
    server.stop()


@dataclass
class Mailbox:
    inbound: str
    from_address: str
    id: uuid.UUID


@pytest.fixture
def mailbox(db: Database, settings: Settings, world: World, relay: Relay) -> Mailbox:
    inbound = f"support-{uuid.uuid4().hex[:8]}@shop.example"
    data = MailboxInput(
        inbound_address=inbound,
        from_address="support@shop.example",
        from_name="Shop Support",
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_security="none",
    )
    with db.tenant_transaction(world.tenant_id) as s:
        row = save_mailbox(s, system_actor(world.tenant_id), for_purpose(settings, Purpose.TENANT_SECRETS), data)
        return Mailbox(inbound, row.from_address, row.id)


def send_to_ingress(ingress: Ingress, rcpt: str, data: bytes, mail_from: str = "sender@example.net") -> Any:
    with smtplib.SMTP("127.0.0.1", ingress.port, timeout=30) as client:
        return client.sendmail(mail_from, [rcpt], data)
