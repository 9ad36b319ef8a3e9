"""Which typed events (``events.types``) a webhook can subscribe to, under the public names a receiver sees.

The names are a public contract (``docs/webhooks.md``): add new ones, never rename. ``data`` is the event's wire
form without ``type``, ``op`` and ``tenant_id`` (those are in the envelope) and without socket-only fields.
"""

from __future__ import annotations

from typing import Any

from omnidesk.events import types as ev

EVENT_TYPES: tuple[str, ...] = (
    "message.created",
    "conversation.created",
    "conversation.assigned",
    "conversation.resolved",
    "conversation.updated",
    "conversation.rated",
    "ticket.created",
    "ticket.updated",
    "ticket.message_created",
    "customer.created",
    "customer.updated",
    "customer.merged",
)

_SIMPLE: dict[type[ev.Event], str] = {
    ev.MessageAdded: "message.created",
    ev.ConversationAdded: "conversation.created",
    ev.RatingAdded: "conversation.rated",
    ev.TicketAdded: "ticket.created",
    ev.TicketUpdated: "ticket.updated",
    ev.TicketMessageAdded: "ticket.message_created",
    ev.CustomerAdded: "customer.created",
    ev.CustomerUpdated: "customer.updated",
    ev.CustomerMerged: "customer.merged",
}
_DROPPED = {"type", "op", "tenant_id", "origin"}


def names_of(event: ev.Event) -> list[str]:
    """The webhook event types one typed event stands for (an update can be an assignment and a resolution)."""
    simple = _SIMPLE.get(type(event))
    if simple is not None:
        return [simple]
    if isinstance(event, ev.ConversationUpdated):
        names = ["conversation.updated"]
        assignee = event.changes.get("assignee_id")
        if isinstance(assignee, list | tuple) and len(assignee) == 2 and assignee[1]:
            names.append("conversation.assigned")
        status = event.changes.get("status")
        if isinstance(status, list | tuple) and len(status) == 2 and status[1] == "resolved":
            names.append("conversation.resolved")
        return names
    return []


def data_of(event: ev.Event) -> dict[str, Any]:
    return {k: v for k, v in event.to_dict().items() if k not in _DROPPED}
