"""Upgrading to the channels revision keeps resends idempotent for messages stored before it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from omnidesk.channels.base import TextPart
from omnidesk.channels.widget.adapter import inbound
from omnidesk.conversations.intake import Stored, receive_messages
from omnidesk.core import migrate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.events.bus import MemoryBus
from tests.conftest import scratch_database


def test_a_message_stored_before_the_upgrade_is_found_by_its_channel_id(tmp_path: Path, database_url: str) -> None:
    with scratch_database(database_url, tmp_path) as url:
        migrate.upgrade(url, "0011_jobs")
        tenant, customer, conversation, message = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        now = datetime(2026, 1, 1, tzinfo=UTC)
        engine = sa.create_engine(url)
        uid = sa.Uuid()
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO tenants (id, slug, name, default_language, time_zone, settings, is_active, created_at)"
                    " VALUES (:id, 'old', '旧租户', 'zh-CN', 'UTC', '{}', true, :now)"
                ).bindparams(sa.bindparam("id", type_=uid)),
                {"id": tenant, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO customers (id, tenant_id, name, tags, attributes, notes, created_at, updated_at)"
                    " VALUES (:id, :t, '老客户', '[]', '{}', '', :now, :now)"
                ).bindparams(sa.bindparam("id", type_=uid), sa.bindparam("t", type_=uid)),
                {"id": customer, "t": tenant, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO conversations (id, tenant_id, customer_id, channel, subject, status, priority, tags,"
                    " attributes, last_seq, version, created_at, updated_at)"
                    " VALUES (:id, :t, :c, 'web', '', 'open', 'normal', '[]', '{}', 1, 1, :now, :now)"
                ).bindparams(*(sa.bindparam(n, type_=uid) for n in ("id", "t", "c"))),
                {"id": conversation, "t": tenant, "c": customer, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, tenant_id, conversation_id, seq, sender_type, sender_id, kind, internal,"
                    " body, payload, client_id, created_at)"
                    " VALUES (:id, :t, :conv, 1, 'customer', :c, 'text', false, '旧消息', '{}', 'c-old', :now)"
                ).bindparams(*(sa.bindparam(n, type_=uid) for n in ("id", "t", "conv", "c"))),
                {"id": message, "t": tenant, "conv": conversation, "c": customer, "now": now},
            )
        engine.dispose()
        migrate.upgrade(url)
        db = Database(url, bus=MemoryBus())
        try:
            with db.tenant_transaction(tenant) as s:
                (resend,) = receive_messages(
                    s, system_actor(tenant), [inbound(customer, conversation, "c-old", [TextPart("旧消息")], ip=None)]
                )
            assert isinstance(resend, Stored) and not resend.created and resend.message["id"] == str(message)
        finally:
            db.dispose()
