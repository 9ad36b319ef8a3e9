"""Structured logs: one JSON object per line, secrets redacted, control characters neutralised."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_SECRET_HINTS = ("password", "secret", "token", "authorization", "cookie", "api_key", "key_secret")


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        # Neutralise CR/LF and other control characters so that input cannot forge log lines (ASVS 16.4.1).
        return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _safe(record.getMessage()),
        }
        for name, value in record.__dict__.items():
            if name in _STANDARD or name.startswith("_"):
                continue
            entry[name] = "[redacted]" if any(h in name.lower() for h in _SECRET_HINTS) else _safe(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", *, as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
