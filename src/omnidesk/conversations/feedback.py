"""Actions on what the two sides tell each other about a conversation: read receipts and the customer's rating.

Callers check who may act (a visitor only on their own conversation, staff by role) before calling these.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.compliance import audit
from omnidesk.conversations.models import Conversation, ConversationRating, ReadMarker
from omnidesk.conversations.states import Status
from omnidesk.core.actor import Actor
from omnidesk.core.db import utcnow
from omnidesk.core.errors import Conflict
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import RatingAdded, ReceiptUpdated, Scope

PARTIES = ("customer", "agent")


def do_mark_read(
    session: Session, actor: Actor, conversation: Conversation, *, party: str, delivered_seq: int, read_seq: int
) -> ReadMarker:
    """Move ``party``'s markers forward (never back; never past the last message). Not audited: receipts are
    frequent, carry no decision, and the marker row itself is the record."""
    assert party in PARTIES
    ceiling = conversation.last_seq
    read_seq = min(read_seq, ceiling)
    delivered_seq = min(max(delivered_seq, read_seq), ceiling)
    marker = session.scalar(
        select(ReadMarker).where(ReadMarker.conversation_id == conversation.id, ReadMarker.party == party)
    )
    if marker is None:
        marker = ReadMarker(tenant_id=actor.tenant_id, conversation_id=conversation.id, party=party)
        session.add(marker)
        marker.delivered_seq = 0
        marker.read_seq = 0
    if delivered_seq <= marker.delivered_seq and read_seq <= marker.read_seq:
        return marker
    marker.delivered_seq = max(marker.delivered_seq, delivered_seq)
    marker.read_seq = max(marker.read_seq, read_seq)
    marker.updated_at = utcnow()
    session.flush()
    publish_on_commit(
        session,
        ReceiptUpdated(
            tenant_id=actor.tenant_id,
            scope=Scope.of(conversation),
            party=party,
            delivered_seq=marker.delivered_seq,
            read_seq=marker.read_seq,
        ),
    )
    return marker


def markers(session: Session, conversation: Conversation) -> dict[str, ReadMarker]:
    return {
        m.party: m for m in session.scalars(select(ReadMarker).where(ReadMarker.conversation_id == conversation.id))
    }


def do_rate(
    session: Session, actor: Actor, conversation: Conversation, *, score: int, comment: str
) -> ConversationRating:
    """Record the customer's rating of a resolved conversation; rating again replaces the earlier one."""
    if conversation.status != Status.RESOLVED.value:
        raise Conflict("a conversation can be rated once it has been resolved")
    rating = session.scalar(select(ConversationRating).where(ConversationRating.conversation_id == conversation.id))
    if rating is None:
        rating = ConversationRating(tenant_id=actor.tenant_id, conversation_id=conversation.id, score=score)
        session.add(rating)
    rating.score = score
    rating.comment = comment
    rating.created_at = utcnow()
    session.flush()
    audit.record(session, actor, "conversation.rate", "conversation", conversation.id, {"score": score})
    publish_on_commit(session, RatingAdded(tenant_id=actor.tenant_id, scope=Scope.of(conversation), score=score))
    return rating


def rating_of(session: Session, conversation: Conversation) -> ConversationRating | None:
    return session.scalar(select(ConversationRating).where(ConversationRating.conversation_id == conversation.id))
