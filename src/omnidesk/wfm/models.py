"""Storage of the workforce slice: published shifts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class WfmShift(TenantOwned, Base):
    """One published shift (班次) of one staff member on one local day, in minutes after local midnight."""

    __tablename__ = "wfm_shifts"
    __table_args__ = (Index("ix_wfm_shifts_tenant_day", "tenant_id", "day"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column()
    start_minute: Mapped[int] = mapped_column()
    end_minute: Mapped[int] = mapped_column()
    break_minute: Mapped[int | None] = mapped_column(default=None)
    break_length: Mapped[int] = mapped_column(default=0)
    published_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
