"""One typed settings object, read from the environment once and validated at start.

Every variable is prefixed ``OMNIDESK_``. Outside the ``demo``, ``development`` and ``test`` environments the
settings refuse insecure defaults (no secret key, debug on), so a production process cannot start half-configured.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Packaged sentence encoders joined by "+" (see omnidesk.bot.nlu.encoders); the first is the default.
EncoderKind = Literal["use+e5+minilm", "use+e5", "use", "e5", "minilm", "none"]
ENCODER_KINDS: tuple[str, ...] = get_args(EncoderKind)


class Environment(StrEnum):
    DEMO = "demo"
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


_RELAXED = {Environment.DEMO, Environment.DEVELOPMENT, Environment.TEST}


class Settings(BaseSettings):
    """Process configuration; immutable once read."""

    model_config = SettingsConfigDict(env_prefix="OMNIDESK_", frozen=True, extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./data")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under data_dir")
    redis_url: str | None = None
    redis_prefix: str = Field(
        default="omnidesk",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="first part of every Redis key and channel (and the job queue's name): several deployments "
        "(or test runs) can share one Redis",
    )
    secret_key: str | None = Field(default=None, min_length=32, repr=False)
    secret_key_previous: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        repr=False,
        description="older secret keys (comma-separated), still accepted to verify tokens and decrypt while rotating",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(
        default=None,
        description="absolute https URL people reach OmniDesk at; every absolute link (sitemap, embed snippet, "
        "e-mailed links) is built from it, never from a request's Host header. Required in production",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=512 * 1024 * 1024)
    log_level: str = "INFO"
    log_json: bool = True
    debug: bool = False
    session_idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    login_max_failures: int = Field(
        default=5, ge=3, le=50, description="wrong passwords for one account before log-in delays start"
    )
    login_delay_seconds: int = Field(
        default=30, ge=1, le=3600, description="first log-in delay; it doubles with every further failure"
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="longest log-in delay (for devices the account never used)"
    )
    login_rate_per_ip: int = Field(default=20, ge=5, le=10_000, description="log-in attempts per IP per 5 minutes")
    api_rate_per_minute: int = Field(default=3000, ge=10, le=10_000_000, description="API requests per IP per minute")
    cookie_secure: bool | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    run_jobs_in_process: bool = True
    bot_answer_rate_per_minute: int = Field(
        default=600, ge=1, le=10_000_000, description="POST /api/v1/bot/answer calls per tenant per minute"
    )
    job_workers: int = Field(
        default=2, ge=1, le=64, description="job threads per process that runs jobs (embedded server, each worker)"
    )
    job_batch_size: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="jobs of a batchable kind (the assistant's turns) one job thread takes and runs together",
    )
    job_lease_seconds: float = Field(
        default=15.0,
        ge=0.5,
        le=3600,
        description="a running job whose worker stopped renewing is taken over after this",
    )
    job_redeliver_seconds: float = Field(
        default=60.0, ge=1, le=24 * 3600, description="a queued job sent to the queue but not started is sent again"
    )
    bot_turn_max_lag_seconds: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="a customer message the assistant has not started answering after this goes to people, "
        "with a holding message",
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="port of an `omnidesk worker` process's own GET /metrics (0: none); see worker_metrics_host",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="interface the worker's /metrics listens on (loopback unless scraped remotely)"
    )
    jobs_immediate: bool = Field(
        default=False, description="run each job in the committing thread right after the commit (tests, scripts)"
    )
    bot_encoder: EncoderKind = Field(
        default="use+e5+minilm",
        description="packaged sentence encoder(s) of the assistant; 'none' is lexical matching only (lower accuracy)",
    )
    demo_services_port: int = Field(
        default=8765, ge=0, le=65535, description="port of the demo tenant's order service (0: any free port)"
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for outgoing e-mail; e-mail is off when unset")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = True
    smtp_from: str = "OmniDesk <no-reply@localhost>"
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    widget_conversations_per_ip: int = Field(
        default=6, ge=1, le=10_000_000, description="new widget conversations per IP per 12 hours"
    )
    widget_sessions_per_ip: int = Field(default=120, ge=1, le=10_000_000, description="widget sessions per IP per hour")
    widget_messages_per_minute: int = Field(
        default=60, ge=1, le=10_000_000, description="messages per visitor per window (a minute unless changed below)"
    )
    widget_messages_window_seconds: int = Field(
        default=60, ge=1, le=3600, description="window of OMNIDESK_WIDGET_MESSAGES_PER_MINUTE: the longest wait"
    )
    visitor_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    widget_identity_max_age_seconds: int = Field(
        default=600,
        ge=30,
        le=24 * 3600,
        description="how long a host site's signed visitor identity (identifier + issue time) is accepted",
    )
    # Knowledge import limits: checked on the archive's directory and while inflating, before any parser runs.
    knowledge_import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    knowledge_import_max_uncompressed_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=4 * 1024**3)
    knowledge_import_max_member_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, le=4 * 1024**3)
    knowledge_import_max_members: int = Field(default=25_000, ge=10, le=1_000_000)
    knowledge_import_max_ratio: int = Field(default=100, ge=2, le=100_000, description="inflated : compressed")
    knowledge_import_max_rows: int = Field(default=20_000, ge=1, le=1_000_000, description="entries per file")
    knowledge_import_max_columns: int = Field(default=64, ge=13, le=16_384)
    knowledge_import_max_cells: int = Field(default=1_000_000, ge=100, le=100_000_000)
    knowledge_import_max_cell_chars: int = Field(default=100_000, ge=1000, le=10_000_000)
    knowledge_import_background_bytes: int = Field(
        default=256 * 1024, ge=0, le=512 * 1024 * 1024, description="larger import files run as background jobs"
    )
    metrics_token: str | None = Field(
        default=None,
        min_length=16,
        repr=False,
        description="Bearer token /metrics requires; unset: /metrics answers only local callers (loopback, no proxy)",
    )
    outbound_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses the outbound policy lets tenants reach although they are private or loopback: "
        "comma-separated IP[:port], CIDR, [IPv6]:port or host name[:port], e.g. 127.0.0.1:8765,10.0.0.0/8,erp.internal",
    )
    outbound_timeout_seconds: float = Field(
        default=15.0, gt=0, le=120, description="upper bound of one outbound call (connector, LLM), all included"
    )
    outbound_max_response_bytes: int = Field(
        default=1_048_576, ge=1024, le=64 * 1024 * 1024, description="largest outbound answer read (decoded)"
    )

    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="reverse proxies (comma-separated IPs or CIDR networks) whose X-Forwarded-For is believed; "
        "empty: the client address is always the direct peer",
    )

    @field_validator("secret_key_previous", "outbound_allow", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("secret_key_previous")
    @classmethod
    def _long_enough(cls, value: list[str]) -> list[str]:
        if any(len(key) < 32 for key in value):
            raise ValueError("every previous secret key must have at least 32 characters")
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _allow_rules(cls, value: list[str]) -> list[str]:
        from omnidesk.security.outbound import parse_rule

        for entry in value:
            parse_rule(entry)  # raises ValueError with the entry in its message
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        from omnidesk.security.proxies import parse_network

        for entry in value:
            parse_network(entry)  # raises ValueError with the entry in its message
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
            or any(c.isspace() for c in value)
        ):
            raise ValueError("must be an absolute http(s) URL such as https://desk.example.com (no query or fragment)")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Settings:
        if self.environment in _RELAXED:
            return self
        problems = []
        if not self.secret_key:
            problems.append("OMNIDESK_SECRET_KEY must be set (at least 32 random characters) in production")
        if self.debug:
            problems.append("OMNIDESK_DEBUG must be false in production")
        if self.cookie_secure is False:
            problems.append("OMNIDESK_COOKIE_SECURE cannot be false in production")
        if not self.public_url:
            problems.append(
                "OMNIDESK_PUBLIC_URL must be set in production to the https:// address people reach OmniDesk at "
                "(e.g. https://desk.example.com): absolute links in the sitemap, the widget snippet and e-mails are "
                "built from it, never from the Host header a client sends"
            )
        elif not self.public_url.startswith("https://"):
            problems.append("OMNIDESK_PUBLIC_URL must be an https:// URL in production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_secret_key(self) -> str:
        """The signing key; relaxed environments get a per-data-dir key generated once and kept on disk."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'omnidesk.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == Environment.PRODUCTION


class SettingsError(RuntimeError):
    """Raised with one readable line per bad value."""


def load_settings(**overrides: object) -> Settings:
    """Read and validate; turn pydantic's errors into one line per variable a person can fix."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"OMNIDESK_{field.upper()}" if field else "settings"
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
