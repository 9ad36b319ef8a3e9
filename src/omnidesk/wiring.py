"""The composition root's one piece of domain wiring: connects slices that cannot import each other.

``conversations`` stores every customer message but sits below ``routing`` and ``bot``, which decide who answers
it; the policy that decides is registered here, once, by every entry point (``web.app.create_app``, the CLI, the
test suite) before anything is stored. Idempotent.
"""

from __future__ import annotations

from omnidesk.bot.arrivals import assign_arrivals
from omnidesk.conversations.intake import set_intake_policy
from omnidesk.webhooks import subscriber as webhooks_subscriber


def install() -> None:
    set_intake_policy(assign_arrivals)
    # Outgoing webhooks: deliveries are queued in the transaction of the change their event announces.
    webhooks_subscriber.install()
