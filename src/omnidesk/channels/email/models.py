"""Storage of the e-mail channel: a tenant's mailboxes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class EmailMailbox(TenantOwned, Base):
    """One support address of a tenant: mail to ``inbound_address`` (forwarded by the tenant's MTA to the ingress)
    becomes conversations; answers leave from ``from_address`` through the SMTP relay. The relay's password and the
    DKIM key are tenant secrets (``smtp.<id hex>``, ``dkim.<id hex>``), never columns."""

    __tablename__ = "email_mailboxes"
    # The ingress maps a recipient to its tenant before any tenant is known: the address is unique platform-wide.
    __table_args__ = (UniqueConstraint("inbound_address"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    inbound_address: Mapped[str] = mapped_column(String(254))
    from_address: Mapped[str] = mapped_column(String(254))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    smtp_host: Mapped[str] = mapped_column(String(253), default="")
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[str] = mapped_column(String(16), default="starttls")  # none | starttls | tls
    smtp_username: Mapped[str] = mapped_column(String(254), default="")
    dkim_selector: Mapped[str] = mapped_column(String(63), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Tenant secret names hold at most 40 characters (accounts/tenant_secrets.py): the id goes in as bare hex.
    @property
    def password_secret(self) -> str:
        return f"smtp.{self.id.hex}"

    @property
    def dkim_secret(self) -> str:
        return f"dkim.{self.id.hex}"
