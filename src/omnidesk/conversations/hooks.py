"""Hooks that slices above conversations register through the composition root (``omnidesk/wiring.py``).

Conversations sits below the slices that care about its life (quality inspection scores a resolved conversation;
the tenant's sensitive-phrase policy checks an agent's message before it is stored) and must not import them: they
register here instead. Each hook runs inside the action's transaction, so what it queues or refuses commits or
rolls back with the change. Registration is idempotent (by name).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import Actor

ResolvedHook = Callable[[Session, Actor, Conversation], None]
"""Called when a conversation becomes resolved, after its row is flushed (e.g. queue a ``quality.score`` job)."""
SendPolicy = Callable[[Session, Actor, Sequence[str]], list[str]]
"""Given the bodies of the agent messages about to be stored, returns them (possibly masked) or raises a
``DomainError`` (nothing is stored)."""

_resolved: dict[str, ResolvedHook] = {}
_send_policies: dict[str, SendPolicy] = {}


def on_resolved(name: str, hook: ResolvedHook) -> None:
    _resolved[name] = hook


def set_send_policy(name: str, policy: SendPolicy) -> None:
    _send_policies[name] = policy


def resolved(session: Session, actor: Actor, conversation: Conversation) -> None:
    for hook in _resolved.values():
        hook(session, actor, conversation)


def check_agent_bodies(session: Session, actor: Actor, bodies: Sequence[str]) -> list[str]:
    out = list(bodies)
    for policy in _send_policies.values():
        out = policy(session, actor, out)
    return out
