"""The Telegram Bot API's wire format as pure functions: updates (``message``, ``callback_query``) turned into
normalised messages, and ``sendMessage`` bodies. Shapes from the Bot API's public reference (``Update``,
``Message``, ``CallbackQuery``, ``InlineKeyboardMarkup``)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
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

CHANNEL = "telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name, not a secret)


def secret_ok(expected: str, header: str | None) -> bool:
    """The ``secret_token`` given to ``setWebhook`` comes back in every update's header (constant-time check)."""
    return bool(expected) and header is not None and hmac.compare_digest(header.encode(), expected.encode())


def _language(code: Any) -> str | None:
    text = str(code or "")
    return "zh-CN" if text.startswith("zh") else "en" if text.startswith("en") else None


def _sender(user: Mapping[str, Any]) -> SenderIdentity:
    name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip() or str(
        user.get("username") or ""
    )
    # Telegram vouches for the user id: only Telegram's servers know our secret token.
    return SenderIdentity("telegram", str(user["id"]), verified=True, display_name=name[:200],
                          language=_language(user.get("language_code")))  # fmt: skip


def parse(update: Mapping[str, Any]) -> InboundMessage | None:
    """The customer message in one update, or None (edits, channel posts, service messages, bots)."""
    query = update.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("from"), Mapping):
        origin = query.get("message") if isinstance(query.get("message"), Mapping) else {}
        assert isinstance(origin, Mapping)
        chat = origin.get("chat") or {}
        reply_to = f"{chat.get('id')}:{origin.get('message_id')}" if origin.get("message_id") else None
        return InboundMessage(
            channel=CHANNEL,
            channel_message_id=f"cb:{query.get('id')}",
            sender=_sender(query["from"]),
            parts=(ReplyPart(str(query.get("data") or ""), str(query.get("data") or "")),),
            thread=ThreadRef(reply_to=reply_to),
            raw=dict(update),
        )
    message = update.get("message")
    if not isinstance(message, Mapping) or not isinstance(message.get("from"), Mapping):
        return None
    user, chat = message["from"], message.get("chat") or {}
    if user.get("is_bot") or chat.get("type") != "private":
        return None
    parts: list[ContentPart] = []
    if message.get("text"):
        parts.append(TextPart(str(message["text"])))
    if isinstance(message.get("photo"), list) and message["photo"]:
        largest = message["photo"][-1]
        parts.append(AttachmentPart("photo.jpg", "image/jpeg", int(largest.get("file_size") or 0)))
    if isinstance(message.get("document"), Mapping):
        doc = message["document"]
        parts.append(AttachmentPart(str(doc.get("file_name") or "file"), str(doc.get("mime_type") or ""),
                                    int(doc.get("file_size") or 0)))  # fmt: skip
    if isinstance(message.get("location"), Mapping):
        loc = message["location"]
        parts.append(LocationPart(float(loc.get("latitude") or 0), float(loc.get("longitude") or 0)))
    if message.get("caption"):
        parts.append(TextPart(str(message["caption"])))
    if not parts:
        parts.append(TextPart("[unsupported]"))
    replied = message.get("reply_to_message") if isinstance(message.get("reply_to_message"), Mapping) else None
    date = message.get("date")
    return InboundMessage(
        channel=CHANNEL,
        # message_id is unique within a chat: chat and message id together are stable across redeliveries.
        channel_message_id=f"{chat.get('id')}:{message.get('message_id')}",
        sender=_sender(user),
        parts=tuple(parts),
        thread=ThreadRef(reply_to=f"{chat.get('id')}:{replied.get('message_id')}" if replied else None),
        raw=dict(update),
        received_at=datetime.fromtimestamp(int(date), UTC) if isinstance(date, int) else None,
    )


def send_body(chat_id: str, text: str, buttons: list[Mapping[str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"chat_id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "text": text}
    if buttons:
        body["reply_markup"] = {
            "inline_keyboard": [[{"text": b["label"] or b["value"], "callback_data": b["value"][:64]}] for b in buttons]
        }
    return body
