"""The WeChat Official Account message protocol as pure functions (Tencent's public "message encryption"
documentation, also used by WeCom): the token signature, the AES "safe mode" (AES-256-CBC, PKCS#7 to 32 bytes,
``msg_signature``), the XML message bodies, and the customer-service send body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from omnidesk.channels.base import AttachmentPart, ContentPart, InboundMessage, LocationPart, SenderIdentity, TextPart

CHANNEL = "wechat"
BLOCK = 32


class BadMessage(ValueError):
    """The body is not a message we can read (bad XML, wrong key, another app's message)."""


def signature(*parts: str) -> str:
    """sha1 of the parts sorted and joined: ``signature`` over (token, timestamp, nonce); ``msg_signature`` adds
    the encrypted message."""
    return hashlib.sha1("".join(sorted(parts)).encode(), usedforsecurity=False).hexdigest()


def signature_ok(expected: str, *parts: str) -> bool:
    return bool(expected) and all(parts) and hmac.compare_digest(signature(*parts), expected.lower())


def _key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise BadMessage("the EncodingAESKey must be 43 characters")
    return key


def decrypt(encoding_aes_key: str, app_id: str, encrypted: str) -> str:
    """The safe mode's plaintext: random(16) + length(4, big-endian) + message + app id, PKCS#7-padded to 32."""
    key = _key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
    except ValueError as exc:
        raise BadMessage("cannot decrypt") from exc
    pad = plain[-1] if plain else 0
    if not 1 <= pad <= BLOCK:
        raise BadMessage("bad padding")
    plain = plain[:-pad]
    (length,) = struct.unpack(">I", plain[16:20])
    message, sender_app = plain[20 : 20 + length], plain[20 + length :]
    if sender_app.decode(errors="replace") != app_id:
        raise BadMessage("the message is for another app")
    return message.decode()


def encrypt(encoding_aes_key: str, app_id: str, message: str, random: bytes | None = None) -> str:
    key = _key(encoding_aes_key)
    body = message.encode()
    plain = (random or os.urandom(16)) + struct.pack(">I", len(body)) + body + app_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def parse_xml(body: str) -> dict[str, str]:
    """The child elements of ``<xml>`` as text. A DOCTYPE or entity declaration is refused before parsing."""
    if "<!DOCTYPE" in body.upper() or "<!ENTITY" in body.upper():
        raise BadMessage("DOCTYPE and entities are not allowed")
    try:
        root = ET.fromstring(body)  # noqa: S314 (see above)
    except ET.ParseError as exc:
        raise BadMessage("not XML") from exc
    return {child.tag: (child.text or "") for child in root}


def parse(fields: dict[str, str], raw: str) -> InboundMessage | None:
    """A customer's message (text, image, location, voice with recognition); events (subscribe, menu clicks)
    are not messages and give None."""
    kind, openid, msg_id = fields.get("MsgType", ""), fields.get("FromUserName", ""), fields.get("MsgId", "")
    if not openid or not msg_id or kind == "event":
        return None
    parts: list[ContentPart] = []
    if kind == "text":
        parts.append(TextPart(fields.get("Content", "")))
    elif kind == "image":
        parts.append(AttachmentPart("image.jpg", "image/jpeg", 0, url=fields.get("PicUrl") or None))
    elif kind == "location":
        parts.append(LocationPart(float(fields.get("Location_X") or 0), float(fields.get("Location_Y") or 0),
                                  fields.get("Label", "")))  # fmt: skip
    elif kind == "voice" and fields.get("Recognition"):
        parts.append(TextPart(fields["Recognition"]))
    else:
        parts.append(TextPart(f"[{kind}]"))
    created = fields.get("CreateTime", "")
    return InboundMessage(
        channel=CHANNEL,
        channel_message_id=msg_id,
        # WeChat vouches for the openid: only WeChat's servers know the token (and the AES key in safe mode).
        sender=SenderIdentity("wechat_openid", openid, verified=True),
        parts=tuple(parts),
        raw={"xml": raw[:20_000]},
        received_at=datetime.fromtimestamp(int(created), UTC) if created.isdigit() else None,
    )


def custom_send_body(openid: str, text: str) -> dict[str, object]:
    return {"touser": openid, "msgtype": "text", "text": {"content": text}}
