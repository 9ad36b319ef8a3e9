"""The assistant's turn in a live conversation: a ``bot.turn`` job queued in the transaction that stored the
customer message (:func:`queue_turns`), run by the job queue after the commit.

Loads the tenant's brain, replies through the same ``do_post_message`` a person's reply uses (so the widget and
the agent inbox see it live), and on a hand-over marks the conversation as the people's, writes the summary note
and emits ``bot.hand_over`` for routing. At most one reply per customer message: the reply carries the client id
``bot:<message id>`` (unique per conversation) and is written only if no such reply exists, checked under the
conversation's row lock, so a job run again after a crash, or twice at once, answers once. When the queue falls
behind, :func:`hand_over_delayed` passes the conversation to people with a holding message instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.bot import actions
from omnidesk.bot.brains import Brains, current_settings
from omnidesk.bot.engine import Assistant, Brain, Reply
from omnidesk.bot.models import BotConversation
from omnidesk.bot.nlu import detect_language
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.actor import Actor, system_actor
from omnidesk.core.db import Database, utcnow
from omnidesk.customers.models import Customer
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import BotHandedOver
from omnidesk.i18n import translate
from omnidesk.jobs import outbox as jobs
from omnidesk.routing import actions as routing


@dataclass(frozen=True)
class NextStep:
    """What the customer is told after a hand-over: ``text`` is added to the assistant's own hand-over sentence,
    or stands alone when ``replaces`` (one coherent message rather than two that may contradict each other)."""

    text: str
    replaces: bool = False


HandoverHook = Callable[[Any, Actor, Conversation, Reply], NextStep | None]
"""Called inside the hand-over transaction; may route the conversation or open a ticket and say what happens
next (None keeps the assistant's own sentence)."""


def bot_takes_new_conversations(session: Session) -> bool:
    """The assistant greets new conversations when the tenant configured it (a saved settings version) and
    left it enabled; otherwise conversations go straight to the people's queue."""
    version, settings = current_settings(session)
    return version > 0 and settings.enabled


def hold(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """Mark a new conversation as the assistant's (idempotent)."""
    exists = session.scalar(select(BotConversation.id).where(BotConversation.conversation_id == conversation_id))
    if exists is None:
        session.add(BotConversation(tenant_id=tenant_id, conversation_id=conversation_id, handled_by="bot"))


def held_by_bot(session: Session, conversation_id: uuid.UUID) -> bool:
    holder = session.scalar(
        select(BotConversation.handled_by).where(BotConversation.conversation_id == conversation_id)
    )
    return holder == "bot"


TURN = "bot.turn"


def queue_turns(session: Session, turns: list[tuple[uuid.UUID, uuid.UUID, int]]) -> None:
    """Queue the assistant's turn for each ``(conversation, customer message, its seq)`` in the caller's
    transaction; the message id is the job's key, so a message is answered by one job however often this is called.
    The turns of one conversation are one serial: they run one after the other in message order, never in
    parallel on two workers (the second turn reads the state the first one left)."""
    jobs.enqueue_many(
        session,
        TURN,
        [
            (str(message_id), {"conversation_id": str(cid), "message_id": str(message_id)})
            for cid, message_id, _ in turns
        ],
        max_attempts=3,
        serials=[(f"conversation:{cid}", seq) for cid, _, seq in turns],
    )


def reply_client_id(message_id: uuid.UUID) -> str:
    return f"bot:{message_id}"


def _answered(session: Session, conversation_id: uuid.UUID, message_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(Message.id).where(
                Message.conversation_id == conversation_id, Message.client_id == reply_client_id(message_id)
            )
        )
        is not None
    )


def respond(
    db: Database,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    brains: Brains,
    assistant: Assistant,
    on_hand_over: HandoverHook | None = None,
) -> Reply | None:
    """Answer one customer message if the bot holds the conversation; return the reply (None if not ours)."""
    with db.tenant_read(tenant_id) as s:
        message = s.scalar(select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id))
        conversation = s.scalar(select(Conversation).where(Conversation.id == conversation_id))
        if message is None or conversation is None or message.sender_type != SenderType.CUSTOMER.value:
            return None
        holder = s.scalar(select(BotConversation).where(BotConversation.conversation_id == conversation_id))
        if holder is None or holder.handled_by != "bot":
            return None  # people hold this conversation (or the assistant never took it)
        if holder.state.get("last_message") == str(message_id) or _answered(s, conversation_id, message_id):
            return None  # already answered: a retried call does nothing
        brain = brains.get(s, tenant_id)
        if not brain.settings.enabled:
            return None
        customer = s.scalar(select(Customer).where(Customer.id == conversation.customer_id))
        tags = list(customer.tags) if customer else []
        state = dict(holder.state.get("turn", {}))
        attempts = list(holder.attempts)
    reply = assistant.reply(brain, message.body, tenant_key=str(tenant_id), state=state, customer_tags=tags)
    attempts.append({"customer": message.body, "kind": reply.kind, "bot": reply.text, "entities": reply.entities,
                     "intent": (reply.intent or {}).get("label")})  # fmt: skip
    # Anything slow (the optional LLM) happens before the write transaction, never while holding its locks.
    summary = _handover_summary(assistant, brain, reply, attempts) if reply.kind == "hand_over" else ""
    system = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        conversation = s.scalar(select(Conversation).where(Conversation.id == conversation_id).with_for_update())
        assert conversation is not None
        holder = s.scalar(select(BotConversation).where(BotConversation.conversation_id == conversation_id))
        if (
            holder is None
            or holder.handled_by != "bot"
            or holder.state.get("last_message") == str(message_id)
            or _answered(s, conversation_id, message_id)
        ):
            return None  # taken over, or answered (by another run of this job), while the assistant was thinking
        holder.attempts = attempts[-20:]
        holder.state = {"turn": reply.state, "last_message": str(message_id)}
        holder.updated_at = utcnow()
        text = reply.text
        if reply.kind == "hand_over":
            holder.handled_by = "human"
            conversation_actions.do_escalate(
                s, system, conversation, priority=reply.priority, add_tags=["bot_handover"]
            )
            conversation_actions.do_post_message(
                s, system, conversation, body=summary, sender_type=SenderType.BOT, sender_id=None, internal=True
            )
            next_step = on_hand_over(s, system, conversation, reply) if on_hand_over else None
            if next_step is not None and next_step.text:
                text = next_step.text if next_step.replaces or not text else f"{text}\n{next_step.text}"
            publish_on_commit(
                s, BotHandedOver(tenant_id=tenant_id, conversation_id=conversation_id, reason=reply.reason,
                                 priority=reply.priority, intent=(reply.intent or {}).get("label")),
            )  # fmt: skip
        if actions.wants_learning(reply):
            actions.record_unanswered(s, tenant_id, message.body, reply, conversation_id)
        kind = "quick_replies" if reply.buttons else "text"
        payload = {"buttons": reply.buttons, "bot": {"kind": reply.kind, "reason": reply.reason,
                                                     "knowledge_id": reply.knowledge_id}}  # fmt: skip
        conversation_actions.do_post_message(
            s, system, conversation, body=text, sender_type=SenderType.BOT, sender_id=None, kind=kind, payload=payload,
            client_id=reply_client_id(message_id),
        )  # fmt: skip
    return reply


def hand_over_delayed(
    session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID, waited: float
) -> bool:
    """The assistant's turn waited longer than ``OMNIDESK_BOT_TURN_MAX_LAG_SECONDS``: instead of silence, tell the
    customer a person will answer (that message is the bot's one reply to theirs) and put the conversation in the
    people's queue. False when the bot no longer holds it or the message was answered."""
    s = session
    conversation = s.scalar(select(Conversation).where(Conversation.id == conversation_id).with_for_update())
    holder = s.scalar(select(BotConversation).where(BotConversation.conversation_id == conversation_id))
    if (
        conversation is None
        or holder is None
        or holder.handled_by != "bot"
        or _answered(s, conversation_id, message_id)
    ):
        return False
    message = s.scalar(select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id))
    language = "zh-CN" if detect_language(message.body if message else "", default="zh") == "zh" else "en"
    system = system_actor(tenant_id)
    holder.handled_by = "human"
    holder.state = {**holder.state, "last_message": str(message_id)}
    holder.updated_at = utcnow()
    conversation.tags = list(dict.fromkeys([*(conversation.tags or []), "bot_delayed"]))
    conversation.updated_at = utcnow()
    routing.enqueue(s, system, conversation)
    payload = {"bot": {"kind": "hand_over", "reason": "delay", "knowledge_id": None, "waited_seconds": round(waited)}}
    conversation_actions.do_post_message(
        s, system, conversation, body=translate("jobs.holding", language), sender_type=SenderType.BOT, sender_id=None,
        payload=payload, client_id=reply_client_id(message_id),
    )  # fmt: skip
    publish_on_commit(
        s, BotHandedOver(tenant_id=tenant_id, conversation_id=conversation_id, reason="delay",
                         priority=conversation.priority, intent=None),
    )  # fmt: skip
    return True


def _handover_summary(assistant: Assistant, brain: Brain, reply: Reply, attempts: list[dict[str, Any]]) -> str:
    summary = actions.handover_summary(reply, attempts)
    if not brain.settings.llm.enabled:
        return summary
    transcript = "\n".join(f"customer: {a['customer']}\nbot: {a['bot']}" for a in attempts)
    drafted = assistant.llm(brain).summarise(transcript, reply.language)
    return f"{summary}\n\nLLM summary:\n{drafted}" if drafted else summary


def respond_many(
    db: Database,
    tenant_id: uuid.UUID,
    turns: Sequence[tuple[uuid.UUID, uuid.UUID]],
    *,
    brains: Brains,
    assistant: Assistant,
    on_hand_over: HandoverHook | None = None,
    rounds: int = 3,
) -> int:
    """:func:`respond` for many ``(conversation, customer message)`` turns of one tenant at once: one read
    transaction loads every message, conversation, holder and customer and the brain once; the assistant thinks
    about each (in the conversation's order, its state carried from turn to turn); one write transaction stores
    every reply through the one outbound writer (``do_post_messages``: group commit). The same checks as
    :func:`respond` (the bot still holds it, the message not answered yet, under the conversations' row locks)
    keep it at most one reply per customer message; a conversation whose state another run moved meanwhile
    (another process answered one of its turns) is thought about again from that state, up to ``rounds`` times.
    Returns the number of replies written.
    """
    message_ids = {mid for _, mid in turns}
    with db.tenant_read(tenant_id) as s:
        messages = {
            m.id: m
            for m in s.scalars(
                select(Message).where(Message.id.in_(message_ids), Message.sender_type == SenderType.CUSTOMER.value)
            )
        }
        conversation_ids = {m.conversation_id for m in messages.values()}
        holders = {
            h.conversation_id: h
            for h in s.scalars(select(BotConversation).where(BotConversation.conversation_id.in_(conversation_ids)))
        }
        answered = _answered_many(s, conversation_ids, message_ids)
        customers = {
            cid: tags
            for cid, tags in s.execute(
                select(Conversation.id, Customer.tags)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Conversation.id.in_(conversation_ids))
            )
        }
        brain = brains.get(s, tenant_id)
        if not brain.settings.enabled:
            return 0
        memory = {
            cid: (dict(h.state.get("turn", {})), list(h.attempts), h.state.get("last_message"))
            for cid, h in holders.items()
            if h.handled_by == "bot"
        }
        s.expunge_all()
    pending = sorted(
        (m for m in messages.values() if m.conversation_id in memory and str(m.id) not in answered),
        key=lambda m: (str(m.conversation_id), m.seq),
    )
    if brain.model is not None:  # one batch through the encoders; each turn below then finds its text cached
        brain.model.warm([m.body for m in pending])
    thought: list[tuple[Message, Reply, list[dict[str, Any]], str, str | None]] = []
    handed: set[uuid.UUID] = set()
    for message in pending:
        cid = message.conversation_id
        state, attempts, last = memory[cid]
        if cid in handed or last == str(message.id):
            continue  # people hold it from the previous turn on, or this one was answered
        reply = assistant.reply(brain, message.body, tenant_key=str(tenant_id), state=state,
                                customer_tags=list(customers.get(cid) or []))  # fmt: skip
        attempts = [*attempts, {"customer": message.body, "kind": reply.kind, "bot": reply.text,
                                "entities": reply.entities, "intent": (reply.intent or {}).get("label")}]  # fmt: skip
        summary = _handover_summary(assistant, brain, reply, attempts) if reply.kind == "hand_over" else ""
        memory[cid] = (dict(reply.state), attempts, str(message.id))
        time.sleep(0)  # hand the GIL over between turns: the socket intake and the event loop go first
        thought.append((message, reply, attempts, summary, last))
        if reply.kind == "hand_over":
            handed.add(cid)
    if not thought:
        return 0
    system = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        locked = {
            c.id: c
            for c in s.scalars(
                select(Conversation)
                .where(Conversation.id.in_({t[0].conversation_id for t in thought}))
                .order_by(Conversation.id)
                .with_for_update()
            )
        }
        holders = {
            h.conversation_id: h
            for h in s.scalars(select(BotConversation).where(BotConversation.conversation_id.in_(locked)))
        }
        answered = _answered_many(s, set(locked), message_ids)
        replies: list[conversation_actions.Outgoing] = []
        stale: set[uuid.UUID] = set()
        for message, reply, attempts, summary, last in thought:
            cid = message.conversation_id
            conversation, holder = locked.get(cid), holders.get(cid)
            moved = holder is not None and holder.handled_by == "bot" and holder.state.get("last_message") != last
            if cid in stale or moved:
                # another run answered a turn of this conversation while the assistant was thinking about this
                # one: think again from the state it left (below, after this commit)
                stale.add(cid)
                continue
            if (
                conversation is None
                or holder is None
                or holder.handled_by != "bot"
                or holder.state.get("last_message") == str(message.id)
                or str(message.id) in answered
            ):
                continue  # taken over, or answered by another run, while the assistant was thinking
            holder.attempts = attempts[-20:]
            holder.state = {"turn": reply.state, "last_message": str(message.id)}
            holder.updated_at = utcnow()
            text = reply.text
            if reply.kind == "hand_over":
                text = _hand_over(s, system, conversation, holder, reply, summary, on_hand_over)
            if actions.wants_learning(reply):
                actions.record_unanswered(s, tenant_id, message.body, reply, cid)
            replies.append(_outgoing(conversation, message.id, reply, text))
        s.flush()
        conversation_actions.do_post_messages(s, system, replies)
    again = [(m.conversation_id, m.id) for m, *_ in thought if m.conversation_id in stale]
    if again and rounds > 1:
        return len(replies) + respond_many(db, tenant_id, again, brains=brains, assistant=assistant,
                                           on_hand_over=on_hand_over, rounds=rounds - 1)  # fmt: skip
    return len(replies)


def _answered_many(s: Session, conversation_ids: set[uuid.UUID], message_ids: set[uuid.UUID]) -> set[str]:
    """Which of ``message_ids`` have the assistant's reply already (as ``str`` ids)."""
    if not conversation_ids:
        return set()
    client_ids = [reply_client_id(mid) for mid in message_ids]
    return {
        client_id.removeprefix("bot:")
        for client_id in s.scalars(
            select(Message.client_id).where(
                Message.conversation_id.in_(conversation_ids), Message.client_id.in_(client_ids)
            )
        )
        if client_id
    }


def _hand_over(
    s: Session,
    system: Actor,
    conversation: Conversation,
    holder: BotConversation,
    reply: Reply,
    summary: str,
    on_hand_over: HandoverHook | None,
) -> str:
    """People take the conversation: escalate, the summary note, routing (the hook); the reply's text."""
    holder.handled_by = "human"
    conversation_actions.do_escalate(s, system, conversation, priority=reply.priority, add_tags=["bot_handover"])
    conversation_actions.do_post_message(
        s, system, conversation, body=summary, sender_type=SenderType.BOT, sender_id=None, internal=True
    )
    next_step = on_hand_over(s, system, conversation, reply) if on_hand_over else None
    publish_on_commit(
        s, BotHandedOver(tenant_id=system.tenant_id, conversation_id=conversation.id, reason=reply.reason,
                         priority=reply.priority, intent=(reply.intent or {}).get("label")),
    )  # fmt: skip
    return f"{reply.text}\n{next_step}" if next_step else reply.text


def _outgoing(
    conversation: Conversation, message_id: uuid.UUID, reply: Reply, text: str
) -> conversation_actions.Outgoing:
    payload = {"buttons": reply.buttons, "bot": {"kind": reply.kind, "reason": reply.reason,
                                                 "knowledge_id": reply.knowledge_id}}  # fmt: skip
    return conversation_actions.Outgoing(
        conversation, text, SenderType.BOT, None, "quick_replies" if reply.buttons else "text", payload,
        reply_client_id(message_id),
    )  # fmt: skip
