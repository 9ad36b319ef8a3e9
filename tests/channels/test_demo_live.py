"""The demo tenant comes with a working widget, canned responses and a routing policy."""

from __future__ import annotations

import uuid

from omnidesk.channels.widget.demo import live_data, seed_live
from omnidesk.conversations import canned
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing import queries as routing_queries
from tests.factories import make_tenant


def test_seed_live_uses_the_actions(db: Database) -> None:
    tenant_id, _, _ = make_tenant(db, slug=f"demo-{uuid.uuid4().hex[:8]}")
    seed_live(db, tenant_id)
    data = live_data()
    with db.tenant_transaction(tenant_id) as s:
        shortcuts = [c.shortcut for c in canned.list_canned(s, system_actor(tenant_id))]
        assert sorted(shortcuts) == sorted(c["shortcut"] for c in data["canned_responses"])
        assert routing_queries.policy(s).accept_timeout_seconds == data["routing"]["accept_timeout_seconds"]
    assert all(
        "{" not in canned.fill(c["body"], {"customer_name": "李雷", "agent_name": "小王"})
        for c in data["canned_responses"]
    )
