"""Per-process cache of each tenant's :class:`Brain`, rebuilt when the config, knowledge or model version moves.

Every turn reads three small version numbers (one indexed read each); only when one changed is the brain
rebuilt. So a published FAQ change or a newly activated intent model reaches every server process on its next
message, without a restart or a shared cache.
"""

from __future__ import annotations

import logging
import threading
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnidesk.accounts import tenant_secrets
from omnidesk.accounts.models import Tenant
from omnidesk.bot.engine import Brain, FaqItem, build_index, learnt_ids
from omnidesk.bot.models import BotConfig, IntentModel
from omnidesk.bot.nlu import Encoder, IntentClassifier, OperatingPoint, compile_tenant_pattern, load_default_encoder
from omnidesk.bot.nlu.answer_policy import point_for
from omnidesk.bot.settings import STORED, BotSettings
from omnidesk.knowledge.queries import knowledge_stamp, published_faq
from omnidesk.security.keys import PurposeKeys

LLM_KEY = "llm_api_key"
"""The name of the tenant's LLM API key among its secrets."""

log = logging.getLogger("omnidesk.bot")


def current_settings(session: Session) -> tuple[int, BotSettings]:
    """The tenant's saved assistant settings and their version. Validated once per version and process (a new
    conversation asks whether the assistant takes it: that was a full validation of the document each time);
    the version read is one indexed query. Treat the result as read-only."""
    version = session.scalar(select(func.max(BotConfig.version)))
    if version is None:
        return 0, BotSettings()
    key = (session.info.get("tenant_id"), int(version))
    cached = _SETTINGS.get(key)
    if cached is None:
        document = session.scalar(select(BotConfig.document).where(BotConfig.version == version))
        cached = BotSettings.model_validate(document, context=STORED)
        if key[0] is not None:
            with _SETTINGS_LOCK:
                if len(_SETTINGS) > 1024:
                    _SETTINGS.clear()
                _SETTINGS[key] = cached
    return int(version), cached


_SETTINGS: dict[tuple[object, int], BotSettings] = {}
_SETTINGS_LOCK = threading.Lock()


def _versions(session: Session) -> tuple[int, int, int, int, int]:
    config = session.scalar(select(func.max(BotConfig.version))) or 0
    active = session.execute(
        select(IntentModel.version, IntentModel.answer_target).where(IntentModel.active.is_(True))
    ).first()
    model, target = (int(active[0]), active[1]) if active is not None else (0, None)
    # the operating point moves without a new model: it is part of what the brain was built from
    point = -1 if target is None else round(float(target) * 10_000)
    return int(config), knowledge_stamp(session).version, model, tenant_secrets.version(session, LLM_KEY), point


class Brains:
    """``encoder_kind`` names the packaged sentence encoder(s) (``use``, ``e5``, ``minilm`` joined by ``+``) or
    ``none`` for lexical matching only; it is loaded on first use, once per process, and shared by every tenant.
    ``secret_keys`` (the tenant-secret purpose keys) open the tenant's LLM API key; without them it stays unset."""

    def __init__(self, encoder_kind: str = "use+e5+minilm", secret_keys: PurposeKeys | None = None) -> None:
        self._kind = encoder_kind
        self._secret_keys = secret_keys
        self._encoder: Encoder | None = None
        self._loaded = encoder_kind == "none"
        self._cache: dict[uuid.UUID, Brain] = {}
        self._lock = threading.Lock()

    @property
    def encoder(self) -> Encoder | None:
        if not self._loaded:
            self._encoder = load_default_encoder(self._kind)
            self._loaded = True
        return self._encoder

    def get(self, session: Session, tenant_id: uuid.UUID) -> Brain:
        versions = _versions(session)
        cached = self._cache.get(tenant_id)
        if cached is not None and cached.versions == versions:
            return cached
        brain = self._build(session, tenant_id, versions)
        with self._lock:
            self._cache[tenant_id] = brain
        return brain

    def _build(self, session: Session, tenant_id: uuid.UUID, versions: tuple[int, ...]) -> Brain:
        _, settings = current_settings(session)
        default_language = session.scalar(select(Tenant.default_language).where(Tenant.id == tenant_id)) or "zh-CN"
        items = [
            FaqItem(
                id=entry.external_id or str(entry.id),
                question=entry.question,
                variants=list(entry.variants),
                answer=entry.answer_text,
                language=entry.language,
            )
            for entry in published_faq(session)
        ]
        model = None
        point = None
        row = session.execute(
            select(IntentModel.blob, IntentModel.policy, IntentModel.answer_target).where(IntentModel.active.is_(True))
        ).first()
        if row is not None and row[0]:
            try:
                model = IntentClassifier.from_bytes(row[0], encoder=self.encoder)
            except Exception:  # a model from an older code version: answer without intents until retrained
                log.exception("could not load the active intent model", extra={"tenant_id": str(tenant_id)})
            else:
                point = operating_point(row[1], row[2])
        patterns = [compile_tenant_pattern(kind, pattern) for kind, pattern in settings.entity_patterns.items()]
        llm_key = ""
        if settings.llm.enabled and self._secret_keys is not None:
            try:
                llm_key = tenant_secrets.reveal(session, self._secret_keys, tenant_id, LLM_KEY)
            except tenant_secrets.SecretUnreadable:
                log.error("the tenant's LLM key cannot be decrypted with the configured secret keys",
                          extra={"tenant_id": str(tenant_id)})  # fmt: skip
        return Brain(
            settings=settings,
            default_language=default_language,
            faq={item.key: item for item in items},
            # with an answer policy the model answers the entries it learnt: the search index holds only those
            # published since (few; a big FAQ is not re-encoded on every knowledge change)
            index=build_index(
                [i for i in items if i.id not in learnt_ids(model)] if point is not None else items, self.encoder
            ),
            model=model,
            patterns=patterns,
            versions=versions,
            llm_api_key=llm_key,
            point=point,
        )


def operating_point(policy: dict[str, object] | None, target: float | None) -> OperatingPoint | None:
    """The point in use from a model row's ``policy`` (None for models trained before the answer policy)."""
    raw = (policy or {}).get("points")
    if not isinstance(raw, list) or not raw:
        return None
    return point_for([OperatingPoint.from_json(p) for p in raw], target)
