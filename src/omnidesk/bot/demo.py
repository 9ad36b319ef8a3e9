"""The demo tenant's assistant: connectors to Skylark's order service, flows, rules, intents, a trained model."""

from __future__ import annotations

import json
import uuid
from importlib import resources
from typing import Any

from omnidesk.bot import actions
from omnidesk.bot.brains import Brains
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
