"""A workspace whose assistant holds many conversations, and customer messages stored the way the socket intake
stores them (one ``receive_messages`` batch: the messages and, by the intake policy, their queued bot turns), for
the bot-turn job tests."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from omnidesk.bot import pipeline
from omnidesk.bot.actions import do_save_config
from omnidesk.bot.demo import demo_settings
from omnidesk.channels.base import TextPart
from omnidesk.channels.widget.adapter import inbound
from omnidesk.conversations import actions as conversations
from omnidesk.conversations.intake import Stored, receive_messages
from omnidesk.conversations.models import Message
from omnidesk.conversations.schemas import ConversationCreate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.jobs.models import Job
from omnidesk.knowledge import transfer
from tests.assistant.conftest import FAQ_CSV
from tests.factories import World, make_world


def bot_world(db: Database, conversations_held: int) -> tuple[World, list[uuid.UUID]]:
    """A workspace with the assistant switched on (FAQ, no trained model: answers without encoders) and
    ``conversations_held`` conversations the assistant holds."""
    world = make_world(db)
    system = system_actor(world.tenant_id)
    with db.tenant_transaction(world.tenant_id) as s:
        transfer.import_entries(s, system, "csv", FAQ_CSV.encode())
        do_save_config(s, system, demo_settings("http://127.0.0.1:9"))
        ids = []
        for n in range(conversations_held):
            conversation = conversations.open_conversation(
                s, system, ConversationCreate(customer_id=world.customer.id, channel="web", subject=f"c{n}")
            )
            pipeline.hold(s, world.tenant_id, conversation.id)
            ids.append(conversation.id)
    return world, ids


def send(db: Database, world: World, conversation_ids: list[uuid.UUID], text: str = "怎么退货") -> list[uuid.UUID]:
    """One customer message to each conversation, stored in one transaction (socket intake); the intake policy
    queues each one's bot turn in that transaction."""
    items = [inbound(world.customer.id, cid, uuid.uuid4().hex, [TextPart(text)], ip=None) for cid in conversation_ids]
    with db.tenant_transaction(world.tenant_id) as s:
        outcomes = receive_messages(s, system_actor(world.tenant_id), items)
        message_ids = [
            uuid.UUID(o.message["id"]) for o in outcomes if isinstance(o, Stored) and o.created and o.held_by_bot
        ]
        queued = set(s.scalars(select(Job.key).where(Job.kind == pipeline.TURN)))
    assert len(message_ids) == len(items)
    assert {str(m) for m in message_ids} <= queued, "each stored message's turn is queued in its transaction"
    return message_ids


def bot_replies(db: Database, world: World, message_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many public bot replies each customer message got."""
    keys = {pipeline.reply_client_id(m): m for m in message_ids}
    counts = dict.fromkeys(message_ids, 0)
    with db.tenant_read(world.tenant_id) as s:
        rows = s.execute(
            select(Message.client_id, func.count())
            .where(Message.sender_type == "bot", Message.internal.is_(False), Message.client_id.in_(list(keys)))
            .group_by(Message.client_id)
        ).all()
        # Replies without the per-message client id would be duplicates the unique key cannot catch: count them.
        unkeyed = s.scalar(
            select(func.count()).where(
                Message.sender_type == "bot", Message.internal.is_(False), Message.client_id.is_(None)
            )
        )
    for client_id, count in rows:
        counts[keys[client_id]] = count
    assert not unkeyed, "every public bot reply names the message it answers"
    return counts
