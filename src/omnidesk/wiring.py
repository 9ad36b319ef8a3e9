"""The composition root's one piece of domain wiring: connects slices that cannot import each other.

``conversations`` stores every customer message but sits below ``routing`` and ``bot``, which decide who answers
it; the policy that decides is registered here, once, by every entry point (``web.app.create_app``, the CLI, the
test suite) before anything is stored. Idempotent.
"""

from __future__ import annotations

from omnidesk.bot.arrivals import assign_arrivals
from omnidesk.channels import delivery as channel_delivery
from omnidesk.channels import registry as channel_registry
from omnidesk.channels.email import adapter as email_adapter
from omnidesk.channels.messaging_adapters import register_all as register_provider_adapters
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import hooks as conversation_hooks
from omnidesk.conversations.intake import set_intake_policy
from omnidesk.customers.merge import register_mover
from omnidesk.quality import actions as quality_actions
from omnidesk.tickets import actions as ticket_actions
from omnidesk.webhooks import subscriber as webhooks_subscriber


def install() -> None:
    set_intake_policy(assign_arrivals)
    # Outgoing webhooks: deliveries are queued in the transaction of the change their event announces.
    webhooks_subscriber.install()
    # A merge of duplicate customers moves the rows of the slices above customers (customers/merge.py).
    register_mover("conversations", conversation_actions.do_move_customer)
    register_mover("tickets", ticket_actions.do_move_customer)
    # Quality inspection: every resolved conversation's score is queued in the resolving transaction, and the
    # tenant's sensitive-phrase policy checks what agents send before it is stored (quality/actions.py).
    conversation_hooks.on_resolved("quality", quality_actions.queue_score)
    conversation_hooks.set_send_policy("quality", quality_actions.check_outgoing)
    # Outbound messages of channels that deliver themselves (channels/registry.py) are queued with the message.
    conversation_actions.set_outbound_hook(channel_delivery.queue_deliveries)
    channel_registry.register("email", email_adapter.factory)
    register_provider_adapters()
