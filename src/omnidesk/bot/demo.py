"""The demo tenant's assistant: connectors to Skylark's order service, flows, rules, intents, a trained model."""

from __future__ import annotations

import json
import uuid
from importlib import resources
from typing import Any

from omnidesk.bot import actions
from omnidesk.bot.brains import Brains, current_settings
from omnidesk.bot.settings import BotSettings
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database


def bot_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("omnidesk.demo").joinpath("data/bot.json").read_text(encoding="utf-8")
    )
    return data


def demo_settings(orders_base: str) -> BotSettings:
    document = json.loads(json.dumps(bot_data()["settings"]).replace("{orders_base}", orders_base))
    return BotSettings.model_validate(document)


def seed_bot(db: Database, tenant_id: uuid.UUID, orders_base: str, brains: Brains | None = None) -> None:
    """Save the settings, add the intent examples and train the first model (a few seconds)."""
    actor = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        actions.do_save_config(s, actor, demo_settings(orders_base))
        for label, texts in bot_data()["intent_examples"].items():
            actions.add_examples(s, actor, label, texts)
        model = actions.request_training(s, actor)
        model_id = model.id
    actions.train(db, tenant_id, model_id, brains or Brains())


def repoint_connectors(db: Database, tenant_id: uuid.UUID, orders_base: str) -> bool:
    """Point the demo's connectors at the order service of this run (its port may differ from the last run's):
    a new settings version when a URL changes, nothing otherwise. Returns whether it saved one."""
    actor = system_actor(tenant_id)
    wanted = demo_settings(orders_base).model_dump(mode="json", by_alias=True).get("connectors", {})
    with db.tenant_transaction(tenant_id) as s:
        version, current = current_settings(s)
        if version == 0:
            return False
        document = current.model_dump(mode="json", by_alias=True)
        connectors = document.get("connectors", {})
        changed = False
        for name, spec in wanted.items():
            if name in connectors and connectors[name].get("url") != spec.get("url"):
                connectors[name]["url"] = spec["url"]
                changed = True
        if changed:
            actions.do_save_config(s, actor, BotSettings.model_validate(document))
        return changed
