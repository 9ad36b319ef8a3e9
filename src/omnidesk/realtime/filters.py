"""Who receives which event: pure functions of the event and the socket's grant (no database).

Visitors get only events of their own conversations, never internal notes, offers or presence, and a projection
that leaves out staff-only fields (tags, assignee changes). Staff get what their role lets them read.
"""

from __future__ import annotations

from typing import Any

from omnidesk.realtime.tokens import SocketGrant

Event = dict[str, Any]

_VISITOR_TYPES = frozenset({"message", "conversation", "typing", "receipt", "queue"})


def for_visitor(grant: SocketGrant, event: Event) -> Event | None:
    """The projection of ``event`` a visitor may see, or ``None``."""
    kind = event.get("type")
    if kind not in _VISITOR_TYPES or event.get("customer_id") != str(grant.customer_id):
        return None
    base = {"type": kind, "op": event.get("op"), "conversation_id": event.get("conversation_id")}
    if kind == "message":
        message = event.get("message") or {}
        if message.get("internal"):
            return None
        if message.get("sender_type") != "customer":
            # A visitor sees who answered by display name only: never a staff member's id.
            message = {**message, "sender_id": None}
        return {**base, "message": message}
    if kind == "conversation":
        return {**base, "status": event.get("status")}
    if kind == "typing":
        if event.get("from") != "agent":
            return None
        return {**base, "active": bool(event.get("active")), "from": "agent"}
    if kind == "receipt":
        if event.get("party") != "agent":
            return None
        return {
            **base,
            "party": "agent",
            "read_seq": event.get("read_seq"),
            "delivered_seq": event.get("delivered_seq"),
        }
    return {**base, "state": event.get("state")}


def staff_may_see(grant: SocketGrant, event: Event) -> bool:
    kind = event.get("type")
    if kind == "presence":
        return True
    if kind == "offer":
        return grant.supervise or event.get("offered_to") == str(grant.staff_id)
    if "conversation_id" not in event:
        return grant.read_all
    if grant.read_all:
        return True
    assignee = event.get("assignee_id")
    if assignee is None or assignee == str(grant.staff_id):
        return True
    team = event.get("team_id")
    if team is not None and any(team == str(t) for t in grant.team_ids):
        return True
    # A conversation leaving what this agent could see (taken from the unassigned queue, or transferred away
    # from them) still tells them, so their inbox drops it live.
    previous = (event.get("changes") or {}).get("assignee_id") or []
    return bool(previous) and (previous[0] is None or previous[0] == str(grant.staff_id))
