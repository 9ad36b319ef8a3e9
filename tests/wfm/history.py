"""Backdated contact history for the workforce tests: weeks of conversations cannot come through the actions,
which stamp the present, so the rows are written as the actions would have left them (the analytics tests patch
timestamps the same way)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.db import Database

ZONE = ZoneInfo("Asia/Shanghai")


def seed_history(
    db: Database, tenant_id: uuid.UUID, customer_id: uuid.UUID, team_id: uuid.UUID | None, days: int = 28,
    per_interval: float = 3.0, seed: int = 1,
) -> int:  # fmt: skip
    """Conversations every half hour from 09:00 to 21:00 local for the last ``days`` days and today so far: most
    answered within a minute and resolved after 5 minutes, one in ten abandoned. Returns how many."""
    rng = np.random.default_rng(seed)
    today = datetime.now(UTC).astimezone(ZONE).date()
    rows: list[Conversation | Message] = []
    now = datetime.now(UTC)
    for d in range(days, -1, -1):
        day: date = today - timedelta(days=d)
        for slot in range(18, 42):
            start = datetime.combine(day, time(slot // 2, 30 * (slot % 2)), ZONE).astimezone(UTC)
            for _ in range(int(rng.poisson(per_interval))):
                created = start + timedelta(seconds=float(rng.uniform(0, 1800)))
                if created > now:
                    continue
                cid = uuid.uuid4()
                abandoned = rng.random() < 0.1
                answered = created + timedelta(seconds=float(rng.exponential(15)))
                rows.append(
                    Conversation(
                        id=cid,
                        tenant_id=tenant_id,
                        customer_id=customer_id,
                        channel="web",
                        team_id=team_id,
                        status="resolved",
                        created_at=created,
                        updated_at=created,
                        last_seq=1,
                        resolved_at=created + timedelta(seconds=60) if abandoned else answered + timedelta(seconds=300),
                    )
                )
                if not abandoned:
                    rows.append(
                        Message(
                            tenant_id=tenant_id,
                            conversation_id=cid,
                            seq=1,
                            sender_type="agent",
                            body="您好",
                            created_at=answered,
                        )
                    )
    with db.tenant_transaction(tenant_id) as s:
        s.add_all([r for r in rows if isinstance(r, Conversation)])
        s.flush()
        s.add_all([r for r in rows if isinstance(r, Message)])
    return sum(isinstance(r, Conversation) for r in rows)
