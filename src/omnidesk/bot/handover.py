"""Where a hand-over goes: to the waiting queue when a person can take it, otherwise into a ticket.

Called inside the hand-over transaction (see ``pipeline.respond``). Returns the sentence that tells the customer
what happens next and how long it may take.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.bot.engine import Reply
from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import Actor
from omnidesk.routing import actions as routing
from omnidesk.routing.models import AgentPresence
from omnidesk.routing.queries import recent_waits, waiting_entries
from omnidesk.tickets import actions as tickets
from omnidesk.tickets.schemas import TicketCreate

_TEXT = {
    "zh-CN": {
        "queue": "您前面还有 {ahead} 位客户，预计等待约 {minutes} 分钟。",
        "ticket": "现在没有在线的客服，已为您创建工单 #{number}，我们会在工作时间尽快回复您，无需重复说明。",
    },
    "en": {
        "queue": "There are {ahead} customers ahead of you; the expected wait is about {minutes} minutes.",
        "ticket": "No one is online right now, so I've opened ticket #{number} for you. We'll reply as soon as we're "
        "back; you won't need to explain again.",
    },
}


def agents_online(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(AgentPresence).where(AgentPresence.status == "online")) or 0
    )


def route_or_ticket(session: Session, actor: Actor, conversation: Conversation, reply: Reply) -> str:
    texts = _TEXT["zh-CN" if reply.language.startswith("zh") else "en"]
    if agents_online(session) > 0:
        ahead = len(waiting_entries(session))
        routing.enqueue(session, actor, conversation)
        waits = recent_waits(session)
        average = sum(w.total_seconds() for w in waits) / len(waits) if waits else 120.0
        minutes = max(1, round(average * (ahead + 1) / 60))
        return texts["queue"].format(ahead=ahead, minutes=minutes)
    intent = (reply.intent or {}).get("label")
    complaint = reply.reason == "complaint"
    ticket = tickets.create_ticket(
        session,
        actor,
        TicketCreate(
            type="complaint" if complaint else "inquiry",
            subject=(conversation.subject or reply.reason)[:200] or "Chat hand-over",
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            priority=reply.priority if reply.priority in ("urgent", "high") else None,
            intent=intent[:80] if intent else None,
            tags=["bot_handover"],
        ),
        source="assistant",
    )
    return texts["ticket"].format(number=ticket.number)
