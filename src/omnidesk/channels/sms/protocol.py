"""The Twilio-compatible SMS wire format as pure functions: ``X-Twilio-Signature``, incoming-message and status
callback forms, the Messages API form. Shapes from Twilio's public documentation ("Webhooks security",
"TwiML for Programmable Messaging" request parameters, "Message resource")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from omnidesk.channels.base import AttachmentPart, ContentPart, InboundMessage, SenderIdentity, TextPart

CHANNEL = "sms"
SIGNATURE_HEADER = "x-twilio-signature"
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "undelivered": "failed", "failed": "failed"}


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Base64 of HMAC-SHA1 over the full URL Twilio called followed by every POST parameter, sorted by name,
    as name then value with no separators."""
    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signature_ok(auth_token: str, url: str, params: Mapping[str, str], header: str | None) -> bool:
    if not auth_token or not header:
        return False
    return hmac.compare_digest(signature(auth_token, url, params).encode(), header.strip().encode())


def is_status(params: Mapping[str, str]) -> bool:
    """A status callback for a message we sent (an incoming message carries ``SmsStatus=received``)."""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    return status not in ("", "received") and not params.get("Body") and not params.get("NumMedia", "0").strip("0")


def parse(params: Mapping[str, str]) -> InboundMessage | None:
    sid, sender = params.get("MessageSid") or params.get("SmsSid") or "", params.get("From") or ""
    if not sid or not sender:
        return None
    parts: list[ContentPart] = []
    if params.get("Body"):
        parts.append(TextPart(params["Body"]))
    for n in range(min(int(params.get("NumMedia") or 0), 10)):
        content_type = params.get(f"MediaContentType{n}") or "application/octet-stream"
        parts.append(AttachmentPart(f"media{n}", content_type, 0))
    if not parts:
        parts.append(TextPart(""))
    # The number is what the carrier network presented: caller ID can be spoofed, so the provider does not
    # vouch for it and the identity stays unverified (it never merges a sender into a verified profile).
    return InboundMessage(channel=CHANNEL, channel_message_id=sid, sender=SenderIdentity("phone", sender),
                          parts=tuple(parts), raw=dict(params))  # fmt: skip
