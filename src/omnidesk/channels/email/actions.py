"""Actions on a tenant's mailboxes (the settings page and ``omnidesk mailbox-add`` use these)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnidesk.accounts import tenant_secrets
from omnidesk.channels.email.models import EmailMailbox
from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict, InvalidInput, NotFound
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.permissions import Perm

_ADDRESS = re.compile(r"^[^@\s+]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True, slots=True)
class MailboxInput:
    inbound_address: str
    from_address: str
    from_name: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    dkim_selector: str = ""
    enabled: bool = True
    smtp_password: str | None = None  # None: keep the stored one (write-only)
    dkim_private_key: str | None = None


def _check(data: MailboxInput) -> list[dict[str, str]]:
    errors = []
    for name in ("inbound_address", "from_address"):
        if not _ADDRESS.match(getattr(data, name).strip()):
            errors.append({"field": name, "message": "not an e-mail address (no plus sign)", "type": "address"})
    if data.smtp_security not in SECURITY:
        errors.append({"field": "smtp_security", "message": "starttls, tls or none", "type": "choice"})
    if not 1 <= data.smtp_port <= 65535:
        errors.append({"field": "smtp_port", "message": "1–65535", "type": "range"})
    if data.dkim_private_key and "PRIVATE KEY" not in data.dkim_private_key:
        errors.append({"field": "dkim_private_key", "message": "a PEM private key", "type": "pem"})
    return errors


def save_mailbox(
    session: Session, actor: Actor, keys: PurposeKeys, data: MailboxInput, mailbox_id: uuid.UUID | None = None
) -> EmailMailbox:
    """Create or change a mailbox; its password and DKIM key go to the tenant's sealed secrets, never a column."""
    actor.require(Perm.TENANT_SETTINGS)
    errors = _check(data)
    if errors:
        raise InvalidInput("the mailbox settings are not valid", errors=errors)
    inbound = data.inbound_address.strip().lower()
    if mailbox_id is None:
        mailbox = EmailMailbox(tenant_id=actor.tenant_id, inbound_address=inbound, from_address="")
        session.add(mailbox)
    else:
        found = session.get(EmailMailbox, mailbox_id)
        if found is None:
            raise NotFound("mailbox not found")
        mailbox = found
    mailbox.inbound_address = inbound
    mailbox.from_address = data.from_address.strip().lower()
    mailbox.from_name = data.from_name.strip()[:200]
    mailbox.smtp_host = data.smtp_host.strip()
    mailbox.smtp_port = data.smtp_port
    mailbox.smtp_security = data.smtp_security
    mailbox.smtp_username = data.smtp_username.strip()
    mailbox.dkim_selector = data.dkim_selector.strip()
    mailbox.enabled = data.enabled
    mailbox.updated_at = utcnow()
    try:
        # The ingress finds the tenant by this address before any tenant is known, so it is unique platform-wide
        # (a unique constraint: a tenant's session cannot see another tenant's row to check first).
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("that inbound address is already in use") from None
    if data.smtp_password:
        tenant_secrets.set_secret(
            session, actor, keys, mailbox.password_secret, data.smtp_password, permission=Perm.TENANT_SETTINGS
        )
    if data.dkim_private_key:
        tenant_secrets.set_secret(
            session, actor, keys, mailbox.dkim_secret, data.dkim_private_key.strip(), permission=Perm.TENANT_SETTINGS
        )
    audit.record(
        session,
        actor,
        "email.mailbox_save",
        "email_mailbox",
        mailbox.id,
        {"inbound_address": inbound, "from_address": mailbox.from_address, "smtp_host": mailbox.smtp_host},
    )
    return mailbox
