"""Demo content of the live-chat slices: the widget's look, canned responses and the routing policy."""

from __future__ import annotations

import json
import uuid
from importlib import resources
from typing import Any

from omnidesk.channels.widget import actions
from omnidesk.channels.widget.schemas import WidgetConfigUpdate
from omnidesk.conversations import canned
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.routing import actions as routing


def live_data() -> dict[str, Any]:
    text = resources.files("omnidesk.demo").joinpath("data/live.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def seed_live(db: Database, tenant_id: uuid.UUID) -> None:
    data = live_data()
    system = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        actions.update_config(s, system, WidgetConfigUpdate.model_validate(data["widget"]))
        routing.update_policy(s, system, accept_timeout_seconds=data["routing"]["accept_timeout_seconds"])
        for item in data["canned_responses"]:
            canned.create_canned(s, system, canned.CannedCreate.model_validate(item))
