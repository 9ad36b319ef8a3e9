"""Who answers a customer message that just arrived: the intake policy ``omnidesk.wiring`` registers with
``conversations.intake``.

A new conversation is the assistant's when the tenant enabled it, otherwise it goes to the people's queue. A
message in a conversation the assistant does not hold and nobody is assigned puts it (back) in the queue, unless
staff or an integration relayed it (they handle that conversation themselves). Runs inside the intake's
transaction: the common case, a batch of messages to conversations already waiting or assigned, costs one or two
queries for the whole batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.bot import pipeline
from omnidesk.bot.models import BotConversation
from omnidesk.conversations.intake import Arrival
from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import Actor
from omnidesk.routing import actions as routing
from omnidesk.routing.models import QueueEntry
from omnidesk.routing.strategy import QueueState

_QUEUED = (QueueState.WAITING.value, QueueState.OFFERED.value)


def assign_arrivals(session: Session, actor: Actor, arrivals: Sequence[Arrival]) -> set[uuid.UUID]:
    """Hold new conversations for the assistant or queue them; queue the rest where nobody has them. Returns the
    conversations the assistant holds.

    The assistant's turn for each text a customer wrote in a conversation it holds is queued here, as a
    ``bot.turn`` job in this same transaction (stored message ⇔ queued turn; the message id is the job's key, so
    a message is answered at most once); the job queue runs it after the commit. A message staff or an
    integration relayed, or an attachment, gets no turn (as before: the assistant answers what the customer
    typed)."""
    if not arrivals:
        return set()
    opened = list({a.conversation_id: a for a in arrivals if a.opened and not a.relayed}.values())
    if opened and pipeline.bot_takes_new_conversations(session):
        for arrival in opened:
            pipeline.hold(session, actor.tenant_id, arrival.conversation_id)
        session.flush()
    held = _held_by_bot(session, {a.conversation_id for a in arrivals})
    unassigned = {
        a.conversation_id: a
        for a in arrivals
        if a.assignee_id is None and not a.relayed and a.conversation_id not in held
    }
    if unassigned:
        _queue_for_a_person(session, unassigned)
    turns = [
        (a.conversation_id, a.message_id, a.seq)
        for a in arrivals
        if a.conversation_id in held and not a.relayed and a.kind == "text"
    ]
    if turns:
        pipeline.queue_turns(session, turns)
    return held


def _held_by_bot(session: Session, conversation_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(BotConversation.conversation_id).where(
                BotConversation.conversation_id.in_(conversation_ids), BotConversation.handled_by == "bot"
            )
        )
    )


def _queue_for_a_person(session: Session, unassigned: dict[uuid.UUID, Arrival]) -> None:
    """Unassigned conversations not yet waiting go (back) into the queue; the common case, already waiting,
    costs one query for the whole batch."""
    waiting = set(
        session.scalars(
            select(QueueEntry.conversation_id).where(
                QueueEntry.conversation_id.in_(unassigned), QueueEntry.state.in_(_QUEUED)
            )
        )
    )
    for conversation_id, arrival in unassigned.items():
        if conversation_id in waiting:
            continue
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None:
            routing.enqueue(session, arrival.actor, conversation)
