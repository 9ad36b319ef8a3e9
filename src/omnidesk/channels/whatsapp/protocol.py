"""The WhatsApp Cloud API's wire format, as pure functions (no database, no network): the webhook signature, the
notification payload turned into normalised messages and status reports, and the send API's request bodies.

Shapes follow Meta's public documentation of the Cloud API webhooks ("messages" field: ``entry[].changes[].value``
with ``contacts``, ``messages`` and ``statuses``) and of ``POST /<phone-number-id>/messages``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from omnidesk.channels.base import (
    AttachmentPart,
    ContentPart,
    InboundMessage,
    LocationPart,
    ReplyPart,
    SenderIdentity,
    TextPart,
    ThreadRef,
)

CHANNEL = "whatsapp"
SIGNATURE_HEADER = "x-hub-signature-256"
WINDOW_HOURS = 24
# Statuses the Cloud API reports for a message we sent, as ours (it has no "queued").
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def signature_ok(app_secret: str, raw: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under the app secret>``, compared in
    constant time. The raw bytes, never a re-serialised body: any change of spacing would break the signature."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file the customer sent: the provider keeps it under ``media_id``; we fetch it after the answer."""

    channel_message_id: str
    media_id: str
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    provider_message_id: str
    status: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    messages: list[InboundMessage]
    media: list[MediaRef]
    statuses: list[StatusReport]


_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}


def parse(payload: Mapping[str, Any]) -> Notification:
    """Every customer message and status report in one notification (Meta batches several per request)."""
    messages: list[InboundMessage] = []
    media: list[MediaRef] = []
    statuses: list[StatusReport] = []
    for entry in _list(payload.get("entry")):
        for change in _list(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, Mapping):
                continue
            names = {
                str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                for c in _list(value.get("contacts"))
            }
            for raw in _list(value.get("messages")):
                parsed = _message(raw, names)
                if parsed is not None:
                    messages.append(parsed[0])
                    if parsed[1] is not None:
                        media.append(parsed[1])
            for raw in _list(value.get("statuses")):
                status = STATUSES.get(str(raw.get("status")))
                if status and raw.get("id"):
                    errors = _list(raw.get("errors"))
                    error = _error_text(errors[0]) if errors else ""
                    statuses.append(StatusReport(str(raw["id"]), status, error))
    return Notification(messages, media, statuses)


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _error_text(error: Mapping[str, Any]) -> str:
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), Mapping) else ""
    return f"{error.get('code', '')} {error.get('title') or error.get('message') or ''} {details or ''}".strip()


def _message(raw: Mapping[str, Any], names: Mapping[str, str]) -> tuple[InboundMessage, MediaRef | None] | None:
    wamid, sender, kind = str(raw.get("id") or ""), str(raw.get("from") or ""), str(raw.get("type") or "")
    if not wamid or not sender or len(wamid) > 200:
        return None
    parts: list[ContentPart] = []
    ref: MediaRef | None = None
    body = raw.get(kind) if isinstance(raw.get(kind), Mapping) else {}
    assert isinstance(body, Mapping)
    if kind == "text":
        parts.append(TextPart(str(body.get("body") or "")))
    elif kind in ("image", "document", "audio", "video", "sticker"):
        content_type = str(body.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        filename = str(body.get("filename") or f"{kind}{_EXTENSIONS.get(content_type, '')}")
        parts.append(AttachmentPart(filename, content_type, 0))
        if body.get("caption"):
            parts.append(TextPart(str(body["caption"])))
        if body.get("id"):
            ref = MediaRef(wamid, str(body["id"]), filename, content_type)
    elif kind == "location":
        label = " ".join(str(body.get(k) or "") for k in ("name", "address")).strip()
        parts.append(LocationPart(float(body.get("latitude") or 0), float(body.get("longitude") or 0), label))
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        parts.append(ReplyPart(str(reply.get("id") or ""), str(reply.get("title") or "")))
    elif kind == "button":
        parts.append(ReplyPart(str(body.get("payload") or ""), str(body.get("text") or "")))
    else:  # reactions, contacts, unsupported: kept as what the agent can read
        parts.append(TextPart(f"[{kind or 'unsupported'}]"))
    context = raw.get("context") if isinstance(raw.get("context"), Mapping) else None
    timestamp = str(raw.get("timestamp") or "")
    message = InboundMessage(
        channel=CHANNEL,
        channel_message_id=wamid,
        # WhatsApp vouches for the number (it was verified when the customer registered, and Meta signed this).
        sender=SenderIdentity("whatsapp", sender, verified=True, display_name=names.get(sender, "")[:200]),
        parts=tuple(parts),
        thread=ThreadRef(reply_to=str(context["id"]) if context and context.get("id") else None),
        raw=dict(raw),
        received_at=datetime.fromtimestamp(int(timestamp), UTC) if timestamp.isdigit() else None,
    )
    return message, ref


def text_body(to: str, text: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }


def template_body(to: str, template: Mapping[str, Any]) -> dict[str, Any]:
    """A message template the business had approved (the only thing allowed outside the 24-hour window)."""
    out: dict[str, Any] = {
        "name": str(template["name"]),
        "language": {"code": str(template.get("language") or "en_US")},
    }
    if template.get("components"):
        out["components"] = template["components"]
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template",
            "template": out}  # fmt: skip


def interactive_body(to: str, text: str, buttons: list[Mapping[str, str]]) -> dict[str, Any]:
    """Quick replies as reply buttons (at most three, titles up to 20 characters)."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": text or "…"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": b["value"][:256], "title": (b["label"] or b["value"])[:20]}}
                    for b in buttons[:3]
                ]
            },
        },
    }
