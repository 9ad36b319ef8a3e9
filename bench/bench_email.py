"""Inbound e-mail: messages/s parsed and stored through the SMTP ingress, with realistic MIME.

One process: a fresh SQLite database, a tenant with a mailbox, the product's SMTP ingress (aiosmtpd) on loopback,
and a client sending the recorded fixtures (Gmail HTML+text, Outlook with an inline image, Apple Mail with a PDF,
Foxmail in GBK), each with a fresh Message-ID and one of many senders, one SMTP transaction each over a few
connections. The baseline, measured in the same process on the same messages, is parsing alone (``parse``).

    .venv/bin/python bench/bench_email.py [--messages 400] [--connections 4]
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "channels" / "email" / "fixtures"
KINDS = ["gmail__new.eml", "outlook__reply.eml", "apple_mail__attachment.eml", "foxmail__gbk.eml"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus(n: int) -> list[bytes]:
    """``n`` messages: the fixtures with a fresh Message-ID, sender and (for Outlook) unknown thread ids."""
    out = []
    for i in range(n):
        data = (FIXTURES / KINDS[i % len(KINDS)]).read_bytes().replace(b"__OUR_MESSAGE_ID__", b"<x@elsewhere>")
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = []
        for line in head.split(b"\r\n"):
            low = line.lower()
            if low.startswith(b"message-id:"):
                line = f"Message-ID: <{uuid.uuid4()}@bench.example>".encode()
            elif low.startswith(b"from:"):
                line = f"From: Customer {i % 200} <customer{i % 200}@bench.example>".encode()
            lines.append(line)
        out.append(b"\r\n".join(lines) + sep + body)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from omnidesk import wiring
    from omnidesk.accounts import actions as accounts
    from omnidesk.accounts.schemas import TenantCreate
    from omnidesk.channels.email.actions import MailboxInput, save_mailbox
    from omnidesk.channels.email.ingress import Ingress
    from omnidesk.channels.email.parse import parse
    from omnidesk.core import migrate
    from omnidesk.core.actor import system_actor
    from omnidesk.core.blobs import LocalEncryptedBlobStore
    from omnidesk.core.db import Database
    from omnidesk.core.settings import load_settings
    from omnidesk.security.keys import Purpose, for_purpose

    wiring.install()
    folder = Path(tempfile.mkdtemp(prefix="bench-email-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    settings = load_settings(environment="test", data_dir=folder, database_url=url)
    migrate.upgrade(url)
    db = Database(url)
    with db.platform_transaction() as s:
        tenant, _, _ = accounts.create_tenant(
            s, TenantCreate(slug="bench", name="Bench", admin_email="a@bench.example")
        )
    inbound = "support@bench.example"
    with db.tenant_transaction(tenant.id) as s:
        save_mailbox(s, system_actor(tenant.id), for_purpose(settings, Purpose.TENANT_SECRETS),
                     MailboxInput(inbound_address=inbound, from_address=inbound))  # fmt: skip
    blobs = LocalEncryptedBlobStore(folder / "blobs", for_purpose(settings, Purpose.BLOBS))

    messages = corpus(args.messages)
    size = sum(len(m) for m in messages) / len(messages)
    started = time.perf_counter()
    for data in messages:
        parse(data)
    parse_rate = len(messages) / (time.perf_counter() - started)

    ingress = Ingress(db, blobs, "127.0.0.1", free_port()).start()
    shares = [messages[i :: args.connections] for i in range(args.connections)]
    failures: list[str] = []

    def send(share: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", ingress.port, timeout=60) as client:
            for data in share:
                try:
                    client.sendmail("mta@bench.example", [inbound], data)
                except smtplib.SMTPException as exc:
                    failures.append(str(exc))

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ingress.stop()
    rate = len(messages) / elapsed
    print(f"messages: {len(messages)} (avg {size / 1024:.1f} KiB: HTML+text, inline image, PDF, GBK), "
          f"{args.connections} SMTP connections, SQLite")  # fmt: skip
    print(f"baseline parse only:          {parse_rate:8.0f} messages/s")
    print(f"SMTP ingress, parsed+stored:  {rate:8.0f} messages/s  (ratio to parse-only {rate / parse_rate:.2f})")
    if failures:
        print(f"failures: {len(failures)}: {failures[0]}")


if __name__ == "__main__":
    main()
