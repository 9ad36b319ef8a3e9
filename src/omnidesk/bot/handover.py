"""Where a hand-over goes: to the waiting queue when a person can take it, otherwise into a ticket.

Called inside the hand-over transaction (see ``pipeline.respond``). Returns what the customer is told, as one
message in the customer's language: the queue's place and wait come from ``routing.service.queue_status`` (the
same the widget shows), and a ticket is named by its number only, never by internal reason codes.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.bot.engine import Reply
from omnidesk.bot.nlu import is_human_request
from omnidesk.bot.pipeline import NextStep
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.actor import Actor
from omnidesk.customers.models import Customer
from omnidesk.i18n import translate
from omnidesk.routing import actions as routing
from omnidesk.routing import service as routing_service
from omnidesk.routing.models import AgentPresence
from omnidesk.tickets import actions as tickets
from omnidesk.tickets.schemas import TicketCreate

TITLE_MAX = 80


def agents_online(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(AgentPresence).where(AgentPresence.status == "online")) or 0
    )


def customer_language(session: Session, conversation: Conversation, reply: Reply) -> str:
    """The language the customer is writing in now (what the assistant detected), else their profile's."""
    if reply.language:
        return "zh-CN" if reply.language.startswith("zh") else "en"
    stored = session.scalar(select(Customer.language).where(Customer.id == conversation.customer_id))
    return "en" if (stored or "").startswith("en") else "zh-CN"


def ticket_title(session: Session, conversation: Conversation, language: str) -> str:
    """A title a person can read: the customer's own words (their first message that says more than "a person,
    please"), else the conversation's subject, else "Chat with <name>"; never a reason code."""
    bodies = list(
        session.scalars(
            select(Message.body)
            .where(
                Message.conversation_id == conversation.id,
                Message.sender_type == "customer",
                Message.internal.is_(False),
                Message.kind == "text",
            )
            .order_by(Message.seq)
            .limit(20)
        )
    )
    words = [" ".join(b.split()) for b in bodies if b and b.strip()]
    telling = [w for w in words if not is_human_request(w) and len(w) >= 4]
    title = telling[0] if telling else " ".join((conversation.subject or "").split())
    if not title:
        name = session.scalar(select(Customer.name).where(Customer.id == conversation.customer_id)) or ""
        title = translate("bot.handover.ticket_title", language, name=name or "—")
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"


def route_or_ticket(session: Session, actor: Actor, conversation: Conversation, reply: Reply) -> NextStep:
    language = customer_language(session, conversation, reply)
    if agents_online(session) > 0:
        routing.enqueue(session, actor, conversation)
        status = routing_service.queue_status(session, conversation.id, language)
        return NextStep(translate("bot.handover.queue", language, queue=status.message), replaces=True)
    intent = (reply.intent or {}).get("label")
    complaint = reply.reason == "complaint"
    ticket = tickets.create_ticket(
        session,
        actor,
        TicketCreate(
            type="complaint" if complaint else "inquiry",
            subject=ticket_title(session, conversation, language),
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            priority=reply.priority if reply.priority in ("urgent", "high") else None,
            intent=intent[:80] if intent else None,
            tags=["bot_handover"],
        ),
        source="assistant",
    )
    return NextStep(translate("bot.handover.ticket", language, number=ticket.number), replaces=True)
