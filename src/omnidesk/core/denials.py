"""Authorization failures noticed during one request, so they can be audited after it.

A denial usually aborts the request's transaction, so it cannot be audited inside it; some pages also catch the
error and show a friendly message. :class:`~omnidesk.core.errors.PermissionDenied` therefore notes itself here
when it is raised, and the web layer (``web/security_events.py``) writes the notes down in a separate short
transaction once the request is over. Outside a request nothing is collected.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

# A list shared by reference: handlers run in worker threads with a copy of the request's context, and appending
# to the same list object is visible to the middleware that created it.
_pending: ContextVar[list[str] | None] = ContextVar("omnidesk_denials", default=None)

MAX_PER_REQUEST = 5


def start() -> tuple[list[str], Token[list[str] | None]]:
    collected: list[str] = []
    return collected, _pending.set(collected)


def stop(token: Token[list[str] | None]) -> None:
    _pending.reset(token)


def note(detail: str) -> None:
    collected = _pending.get()
    if collected is not None and len(collected) < MAX_PER_REQUEST:
        collected.append(detail)
