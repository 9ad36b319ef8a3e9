"""The SMTP/LMTP ingress: a listener the tenant's MTA forwards support mail to (aiosmtpd).

``RCPT TO`` is accepted only for a known, enabled mailbox (``email_mailboxes.inbound_address``, plus-addressing
ignored), which also names the tenant; anything else is refused with 550 before the data is sent. ``DATA`` is
answered 250 **only after** the message was committed (``channels.email.intake``); a failure answers 451, so the
MTA keeps the message and tries again, and the redelivery is stored once (Message-ID). Parsing and storing run in
a worker thread: the event loop keeps accepting connections meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from omnidesk.channels.email import intake
from omnidesk.channels.email.models import EmailMailbox
from omnidesk.channels.email.threads import base_address
from omnidesk.core.blobs import BlobStore
from omnidesk.core.db import Database

log = logging.getLogger("omnidesk.email.ingress")

MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # a message with its attachments, base64-encoded
CACHE_SECONDS = 30.0


class IngressHandler:
    """aiosmtpd handler: recipient → tenant at RCPT, store at DATA, acknowledge after the commit."""

    def __init__(self, db: Database, blobs: BlobStore, *, lmtp: bool = False) -> None:
        self.db = db
        self.blobs = blobs
        self.lmtp = lmtp
        self._cache: dict[str, tuple[float, uuid.UUID | None]] = {}
        self._lock = threading.Lock()

    def tenant_of(self, address: str) -> uuid.UUID | None:
        key = base_address(address)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.db.platform_read() as s:
            tenant = s.scalar(
                select(EmailMailbox.tenant_id).where(
                    EmailMailbox.inbound_address == key, EmailMailbox.enabled.is_(True)
                )
            )
        with self._lock:
            self._cache[key] = (now + CACHE_SECONDS, tenant)
        return tenant

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        tenant = await asyncio.to_thread(self.tenant_of, address)
        if tenant is None:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        tenants: list[uuid.UUID] = []
        for rcpt in envelope.rcpt_tos:
            tenant = await asyncio.to_thread(self.tenant_of, rcpt)
            if tenant is not None and tenant not in tenants:
                tenants.append(tenant)
        try:
            # One copy per tenant addressed (two tenants' mailboxes on one message are two customers' mail).
            for tenant in tenants:
                await asyncio.to_thread(intake.store, self.db, self.blobs, tenant, data)
        except Exception:
            log.exception("storing an e-mail failed; the sender's MTA will try again")
            status = "451 4.3.0 could not store the message now, try again later"
        else:
            status = "250 2.0.0 stored"
        if self.lmtp:  # LMTP answers once per recipient
            return "\r\n".join([status] * max(len(envelope.rcpt_tos), 1))
        return status


class Ingress:
    """The listener in its own thread (aiosmtpd's ``Controller``); ``start``/``stop`` for the CLI and tests."""

    def __init__(
        self, db: Database, blobs: BlobStore, host: str = "127.0.0.1", port: int = 2525, *, lmtp: bool = False
    ):
        self.handler = IngressHandler(db, blobs, lmtp=lmtp)
        kwargs: dict[str, Any] = {"data_size_limit": MAX_MESSAGE_BYTES, "enable_SMTPUTF8": True}
        if lmtp:
            self.controller: Controller = _LMTPController(self.handler, hostname=host, port=port, **kwargs)
        else:
            self.controller = Controller(self.handler, hostname=host, port=port, **kwargs)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> Ingress:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class _LMTPController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)
