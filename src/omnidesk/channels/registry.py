"""Which channels deliver outbound messages themselves, and the adapter that does it for each.

An adapter is registered by name with a factory that builds it from the running process's context (database,
settings, the tenant-secret keys: what an e-mail adapter needs to read a mailbox's relay and its password). The
outbound writer's hook (``channels.delivery``) only asks whether a channel has a deliverer; the
``channels.deliver`` job builds the adapter and calls ``deliver``. The widget has none: its socket receives the
``message`` event itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from omnidesk.channels.base import ChannelAdapter

if TYPE_CHECKING:
    from omnidesk.core.db import Database
    from omnidesk.core.settings import Settings
    from omnidesk.security.keys import PurposeKeys


class AdapterContext(Protocol):
    """What a factory may use (``jobs.context.JobContext`` is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def tenant_secret_keys(self) -> PurposeKeys: ...


AdapterFactory = Callable[[AdapterContext], ChannelAdapter]

_factories: dict[str, AdapterFactory] = {}
_built: dict[tuple[str, int], ChannelAdapter] = {}
_lock = threading.Lock()


def register(channel: str, factory: AdapterFactory) -> None:
    """Called by the composition root (``omnidesk.wiring.install``) for each delivering channel; idempotent."""
    with _lock:
        if _factories.get(channel) is not factory:
            _factories[channel] = factory
            for key in [k for k in _built if k[0] == channel]:
                del _built[key]


def unregister(channel: str) -> None:
    with _lock:
        _factories.pop(channel, None)
        for key in [k for k in _built if k[0] == channel]:
            del _built[key]


def delivers(channel: str) -> bool:
    """Whether messages of ``channel`` are handed to an adapter (a dict look-up: the writer asks on every post)."""
    return channel in _factories


def adapter(channel: str, context: AdapterContext) -> ChannelAdapter | None:
    """The adapter of ``channel`` for this context, built once per context (a process has one)."""
    with _lock:
        factory = _factories.get(channel)
        if factory is None:
            return None
        key = (channel, id(context))
        built = _built.get(key)
        if built is None:
            built = _built[key] = factory(context)
        return built
