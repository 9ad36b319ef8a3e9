"""What a job handler may use: the database, settings and the process's shared helpers (built once, lazily)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings

if TYPE_CHECKING:
    from omnidesk.bot.brains import Brains
    from omnidesk.bot.engine import Assistant
    from omnidesk.events.presence import PresenceStore
    from omnidesk.knowledge.archive import Limits
    from omnidesk.security.keys import PurposeKeys
    from omnidesk.security.outbound import OutboundClient


class JobContext:
    """The embedded server hands in its own presence, brains and assistant (so a job sees the agents connected
    to this process and shares the loaded models); ``omnidesk worker`` builds them from the settings."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        presence: PresenceStore | None = None,
        brains: Brains | None = None,
        assistant: Assistant | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self._made: dict[str, Any] = {"presence": presence, "brains": brains, "assistant": assistant}
        self._lock = threading.Lock()

    def _get(self, name: str) -> Any:
        with self._lock:  # one instance per process even when two workers ask at once (models are big)
            if self._made.get(name) is None:
                self._made[name] = self._build(name)
            return self._made[name]

    def _build(self, name: str) -> Any:
        if name == "presence":
            from omnidesk.events.presence import make_presence

            return make_presence(self.settings.redis_url, self.settings.redis_prefix)
        if name == "brains":
            from omnidesk.bot.brains import Brains
            from omnidesk.security.keys import Purpose, for_purpose

            return Brains(self.settings.bot_encoder, for_purpose(self.settings, Purpose.TENANT_SECRETS))
        if name == "assistant":
            from omnidesk.bot.engine import Assistant
            from omnidesk.security.outbound import OutboundPolicy

            return Assistant(OutboundPolicy.from_settings(self.settings))
        if name == "outbound":
            from omnidesk.security.outbound import OutboundClient, OutboundPolicy

            return OutboundClient(OutboundPolicy.from_settings(self.settings))
        raise KeyError(name)

    @property
    def presence(self) -> PresenceStore:
        presence: PresenceStore = self._get("presence")
        return presence

    @property
    def brains(self) -> Brains:
        brains: Brains = self._get("brains")
        return brains

    @property
    def assistant(self) -> Assistant:
        assistant: Assistant = self._get("assistant")
        return assistant

    @property
    def outbound(self) -> OutboundClient:
        """One client per process for tenant-chosen URLs (webhooks): the platform's outbound policy applies."""
        client: OutboundClient = self._get("outbound")
        return client

    @property
    def tenant_secret_keys(self) -> PurposeKeys:
        from omnidesk.security.keys import Purpose, for_purpose

        return for_purpose(self.settings, Purpose.TENANT_SECRETS)

    @property
    def limits(self) -> Limits:
        from omnidesk.knowledge.archive import Limits

        return Limits.from_settings(self.settings)
