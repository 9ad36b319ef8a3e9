"""The day-one reports on a seeded set whose figures were computed by hand (SQLite, and PostgreSQL when
OMNIDESK_TEST_DATABASE_URL is set): the range is local dates in the tenant's zone (Asia/Shanghai, UTC+8)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from omnidesk.analytics import reports
from omnidesk.bot.models import BotConversation
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import feedback
from omnidesk.conversations.models import Conversation, ConversationRating, Message
from omnidesk.conversations.schemas import ConversationCreate, SenderType
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, sign_in

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 3)  # local: 2026-03-01 16:00 UTC … 2026-03-03 16:00 UTC


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (channel, created UTC, seconds to the first agent reply, seconds to resolution, rating, bot holder)
SEED: list[tuple[str, str, int | None, int | None, int | None, str | None]] = [
    ("web", "2026-03-02 01:10", 60, 600, 5, None),  # 09:10 local
    ("web", "2026-03-02 01:40", 120, 1200, 4, None),  # 09:40
    ("email", "2026-03-02 06:00", 300, 3600, 2, None),  # 14:00
    ("email", "2026-03-02 17:30", 30, None, None, None),  # 01:30 on 03-03, not resolved
    ("wechat", "2026-03-02 16:05", None, 100, None, "bot"),  # 00:05 on 03-03, resolved by the assistant alone
    ("web", "2026-03-03 02:00", 900, 1800, None, "human"),  # 10:00, handed over then answered
    ("web", "2026-03-03 03:00", None, None, None, "bot"),  # 11:00, the assistant still on it
    ("web", "2026-03-01 15:00", 10, 20, 1, None),  # 23:00 on 03-01: outside the range (and so is its rating)
    ("web", "2026-03-03 16:00", 10, 20, 1, None),  # 00:00 on 03-04: outside the range
]


def seed(db: Database, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    system = system_actor(tenant_id)
    for channel, created, reply, resolve, score, holder in SEED:
        start = _at(created)
        with db.tenant_transaction(tenant_id) as s:
            conversation = conversation_actions.open_conversation(
                s, system, ConversationCreate(customer_id=customer_id, channel=channel, subject=created, message="hi")
            )
            s.execute(delete(BotConversation).where(BotConversation.conversation_id == conversation.id))
            if reply is not None:
                message = conversation_actions.do_post_message(
                    s, system, conversation, body="hello", sender_type=SenderType.AGENT, sender_id=None
                )
                s.execute(
                    update(Message).where(Message.id == message.id).values(created_at=start + timedelta(seconds=reply))
                )
            if resolve is not None:
                conversation.status = "resolved"
                s.flush()
                if score is not None:
                    feedback.do_rate(s, system, conversation, score=score, comment="")
                    s.execute(
                        update(ConversationRating)
                        .where(ConversationRating.conversation_id == conversation.id)
                        .values(created_at=start + timedelta(seconds=resolve + 60))
                    )
            if holder is not None:
                s.add(BotConversation(tenant_id=tenant_id, conversation_id=conversation.id, handled_by=holder))
            s.execute(
                update(Message).where(Message.conversation_id == conversation.id, Message.sender_type != "agent")
                .values(created_at=start)
            )  # fmt: skip
            s.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(
                    created_at=start,
                    resolved_at=start + timedelta(seconds=resolve) if resolve is not None else None,
                )
            )


def test_report_figures_equal_hand_computed_values(db: Database, world: World, other_world: World) -> None:
    seed(db, world.tenant_id, world.customer.id)
    seed(db, other_world.tenant_id, other_world.customer.id)  # the same again in another workspace: never counted
    with db.tenant_read(world.tenant_id) as s:
        r = reports.build(s, world.actor(Role.SUPERVISOR), reports.period("Asia/Shanghai", FIRST, LAST))
    assert r.total == 7
    assert r.by_channel == {"web": 4, "email": 2, "wechat": 1}
    expected_hours = [0] * 24
    for hour in (9, 9, 14, 1, 0, 10, 11):
        expected_hours[hour] += 1
    assert r.by_hour == expected_hours
    # First replies 30, 60, 120, 300, 900 s: nearest-rank median = 3rd = 120, p90 = 5th = 900, mean 282.
    assert r.first_response == reports.Durations(count=5, median=120.0, p90=900.0, mean=282.0)
    # Resolutions 100, 600, 1200, 1800, 3600 s.
    assert r.resolution == reports.Durations(count=5, median=1200.0, p90=3600.0, mean=1460.0)
    # Ratings 5, 4, 2 in range (the two 1s are outside): 2 of 3 satisfied.
    assert r.csat == reports.Csat(ratings=3, satisfied=2, mean_score=3.67, percent=66.7,
                                  by_score={1: 0, 2: 1, 3: 0, 4: 1, 5: 1})  # fmt: skip
    # The assistant took 3: one resolved alone, one handed over, one still open.
    assert (r.bot.conversations, r.bot.contained, r.bot.handed_over) == (3, 1, 1)
    assert (r.bot.containment_percent, r.bot.handover_percent) == (33.3, 33.3)


def test_an_empty_range_has_no_figures_and_ranges_are_checked(db: Database, world: World) -> None:
    with db.tenant_read(world.tenant_id) as s:
        r = reports.build(
            s, world.actor(Role.ADMIN), reports.period("Asia/Shanghai", date(2020, 1, 1), date(2020, 1, 2))
        )
    assert r.total == 0 and r.first_response == reports.Durations(0, None, None, None)
    assert r.csat.percent is None and r.bot.containment_percent is None
    for first, last in ((date(2026, 3, 5), date(2026, 3, 1)), (date(2024, 1, 1), date(2026, 1, 1))):
        try:
            reports.period("Asia/Shanghai", first, last)
        except reports.InvalidInput:
            continue
        raise AssertionError(f"{first}..{last} was accepted")


def test_reports_page_and_csv_for_supervisors_only(client: TestClient, db: Database, world: World) -> None:
    seed(db, world.tenant_id, world.customer.id)
    sign_in(client, world, Role.AGENT)
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/channels.csv").status_code == 403
    client.cookies.clear()
    sign_in(client, world, Role.SUPERVISOR)
    page = client.get(
        "/reports", params={"start": "2026-03-02", "end": "2026-03-03"}, headers={"accept-language": "en"}
    )
    assert page.status_code == 200
    assert (
        'data-kpi="total">7<' in page.text and "<svg" in page.text and '<title id="chart-channels-title">' in page.text
    )
    assert 'data-kpi="containment">33.3%<' in page.text
    response = client.get("/reports/times.csv", params={"start": "2026-03-02", "end": "2026-03-03"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[1][1:] == ["5", "120.0", "900.0", "282.0"] and rows[2][1:] == ["5", "1200.0", "3600.0", "1460.0"]
    channels = list(
        csv.reader(
            io.StringIO(
                client.get("/reports/channels.csv", params={"start": "2026-03-02", "end": "2026-03-03"}).text.lstrip(
                    "\ufeff"
                )
            )
        )
    )
    assert [r[1] for r in channels[1:]] == ["4", "2", "1"]
    # A reversed range says so and shows the default week instead of failing.
    reversed_range = client.get("/reports", params={"start": "2026-03-05", "end": "2026-03-01"})
    assert reversed_range.status_code == 200 and 'role="alert"' in reversed_range.text
