"""The demo tenant's tickets seed through the actions, idempotently, with SLA clocks and routing applied."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from omnidesk.core import migrate
from omnidesk.core.db import Database
from omnidesk.demo.seed import seed_demo
from omnidesk.tickets.models import SlaClock, Ticket


def test_demo_tickets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    db = Database(url)
    try:
        assert seed_demo(db).created
        assert not seed_demo(db).created
        with db.platform_transaction() as s:
            tickets = s.scalars(select(Ticket).order_by(Ticket.number)).all()
            assert len(tickets) == 5
            assert {t.status for t in tickets} >= {"new", "pending_customer", "resolved"}
            assert any(t.green_channel and t.priority == "urgent" for t in tickets)
            assert (s.scalar(select(func.count()).select_from(SlaClock)) or 0) >= 10
    finally:
        db.dispose()
