"""MIME to what the product stores: pure functions of the message bytes (stdlib ``email`` with ``policy.default``).

What mail clients really send: multipart/alternative (text and HTML), multipart/related (HTML with inline images
by ``cid:``), multipart/mixed (attachments), bodies in GB2312/GBK/Big5 declared wrongly or not at all, quoted
history below (Gmail, Apple Mail) or above (Outlook's ``From: … Sent: …`` block, Foxmail's ``------------------
原始邮件 ------------------``) the new text, and signatures after ``-- ``. The new text is what the conversation
shows; the whole original stays in ``raw``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3

__all__ = ["Attachment", "ParsedEmail", "fold_quoted", "normalise_subject", "parse", "sanitise_html"]

_PARSER = BytesParser(policy=policy.default)

# A declared charset is often a subset of what the sender's client really used (GB2312 declared, GBK characters
# written; Big5 declared, Big5-HKSCS written): decode with the superset.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "big5": "big5hkscs",
              "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "iso-8859-1": "cp1252", "us-ascii": "utf-8",
              "ascii": "utf-8", "shift_jis": "cp932"}  # fmt: skip
_GUESSES = ("utf-8", "gb18030", "big5hkscs", "cp1252")

_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|回复|回覆|答复|转发|轉寄|转寄)\s*(\[\d+\])?\s*[:：]\s*)+", re.I)
_TAG = re.compile(r"^\s*\[[^\]]{1,40}\]\s*")  # a list's [tag] before the Re:


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # inline (``cid:``) images
    inline: bool = False


@dataclass(slots=True)
class ParsedEmail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    reply_to: str | None
    subject: str
    text: str  # the new text, quoted history and signature folded away
    full_text: str  # the body as sent
    html: str | None  # sanitised for display
    attachments: list[Attachment] = field(default_factory=list)
    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    return_path: str | None = None
    bounce: Bounce | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def automated(self) -> bool:
        """Per RFC 3834: mail that must get no automatic answer (auto-replies, lists, bulk, bounces)."""
        return bool(
            (self.auto_submitted and self.auto_submitted.lower() != "no")
            or self.precedence.lower() in {"bulk", "list", "junk", "auto_reply"}
            or self.list_id
            or self.return_path == ""
            or self.bounce is not None
            or self.headers.get("x-autoreply")
            or self.headers.get("x-autorespond")
        )

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first: In-Reply-To, then References from the latest back."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery status notification (RFC 3464): which of our messages came back, and why."""

    original_message_id: str | None
    recipient: str
    status: str
    reason: str


_MSGID = re.compile(r"<[^<>\s]+>")


def _ids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header so broken that its parser raises: keep its raw form
        raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
        value = raw[0] if raw else None
    return str(value).strip() if value is not None else ""


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes in the declared charset's superset, or the first charset that decodes cleanly."""
    charset = (declared or "").strip().strip('"').lower()
    candidates = [_SUPERSETS.get(charset, charset)] if charset else []
    candidates += [c for c in _GUESSES if c not in candidates]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    return decode_bytes(payload, part.get_content_charset())


def sanitise_html(html: str) -> str:
    """HTML safe to show in the agent's console: no scripts, styles, event handlers or remote loads by scheme;
    ``cid:`` images stay (the console maps them to the stored attachments)."""
    return nh3.clean(
        html,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


_TAGS = re.compile(r"<(script|style|head)[^>]*>.*?</\1>|<[^>]+>", re.S | re.I)
_BR = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\s*/?>", re.I)


def html_to_text(html: str) -> str:
    import html as html_lib

    text = _BR.sub("\n", html)
    text = _TAGS.sub("", text)
    text = html_lib.unescape(text).replace("\xa0", " ")
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip()


# Where the quoted history starts, as the common clients write it.
_QUOTE_STARTS = [
    re.compile(r"^\s*On .{1,300}wrote:\s*$", re.M),  # Gmail, Apple Mail, Thunderbird (may wrap: see below)
    re.compile(r"^\s*On .{1,200}\n.{0,200}wrote:\s*$", re.M),
    re.compile(r"^\s*在 ?.{1,200}写道[:：]\s*$", re.M),  # Apple Mail / Gmail in Chinese
    re.compile(r"^\s*-{2,}\s*(Original Message|原始邮件|原始郵件)\s*-{2,}\s*$", re.M | re.I),  # Outlook, Foxmail
    re.compile(r"^\s*(From|发件人|寄件者)\s*[:：].*\n\s*(Sent|Date|发送时间|日期|寄件日期)\s*[:：]", re.M),  # Outlook
    re.compile(r"^\s*_{20,}\s*$", re.M),  # Outlook's rule above the header block
]
_SIGNATURE = re.compile(r"^-- ?$", re.M)


def fold_quoted(text: str) -> str:
    """The new text of a reply: quoted history (``>`` lines and the clients' "On … wrote:" blocks) and the
    signature folded away. Never returns nothing when there was something: a message that is all quote keeps it."""
    cut = len(text)
    for pattern in _QUOTE_STARTS:
        found = pattern.search(text)
        if found and found.start() < cut:
            cut = found.start()
    new = text[:cut]
    lines = new.splitlines()
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    new = "\n".join(line for line in lines if not line.startswith(">"))
    signature = _SIGNATURE.search(new)
    if signature:
        new = new[: signature.start()]
    new = new.strip()
    return new or text.strip()


def normalise_subject(subject: str) -> str:
    """The subject a thread keeps: reply and forward prefixes (Re:, Fwd:, 回复:, 转发:, AW:, …) and a list's tag
    stripped, whitespace collapsed, case folded."""
    previous = None
    current = subject or ""
    while previous != current:
        previous = current
        current = _PREFIX.sub("", _TAG.sub("", current))
    return " ".join(current.split()).casefold()


def _address_list(msg: Message, name: str) -> list[str]:
    values = [str(v) for v in msg.get_all(name, failobj=[])]
    return [addr.lower() for _, addr in getaddresses(values) if addr]


def _bounce_of(msg: EmailMessage) -> Bounce | None:
    if msg.get_content_type() != "multipart/report" or msg.get_param("report-type", "") != "delivery-status":
        return None
    recipient, status, reason, original = "", "", "", None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload() or []:
                if not isinstance(block, Message):
                    continue
                recipient = recipient or str(block.get("Final-Recipient", "")).split(";")[-1].strip()
                status = status or str(block.get("Status", "")).strip()
                reason = reason or str(block.get("Diagnostic-Code", "")).split(";", 1)[-1].strip()
        elif ctype in ("message/rfc822", "text/rfc822-headers") and original is None:
            if ctype == "message/rfc822":
                inner = part.get_payload()
                inner_msg = inner[0] if isinstance(inner, list) and inner else None
                found = _ids(str(inner_msg.get("Message-ID", ""))) if isinstance(inner_msg, Message) else []
            else:
                headers = _PARSER.parsebytes(_text_of(part).encode("utf-8", "replace"), headersonly=True)
                found = _ids(str(headers.get("Message-ID", "")))
            original = found[0] if found else None
    if original is None:
        refs = _ids(str(msg.get("In-Reply-To", ""))) + _ids(str(msg.get("References", "")))
        original = refs[0] if refs else None
    return Bounce(original, recipient, status, reason or status)


def parse(data: bytes, *, fallback_id: str | None = None) -> ParsedEmail:
    """One message as received (RFC 5322 bytes)."""
    msg = _PARSER.parsebytes(data)
    assert isinstance(msg, EmailMessage)
    message_ids = _ids(_header(msg, "Message-ID"))
    if message_ids:
        message_id = message_ids[0][:200]
    else:
        # No Message-ID (some scanners and old scripts): a digest of the bytes keeps redeliveries idempotent.
        import hashlib

        message_id = fallback_id or f"<{hashlib.sha256(data).hexdigest()[:40]}@omnidesk.missing-id>"
    name, address = parseaddr(_header(msg, "From"))
    if not address:
        name, address = parseaddr(_header(msg, "Sender"))
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    bounce = _bounce_of(msg)
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        if ctype.startswith("message/") or ctype == "text/rfc822-headers":
            continue
        if (
            disposition == "attachment"
            or (filename and not ctype.startswith("text/"))
            or ctype.startswith(("image/", "application/", "audio/", "video/"))
        ):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                cid = _ids(str(part.get("Content-ID", "")))
                attachments.append(
                    Attachment(
                        filename=filename
                        or (f"{cid[0][1:-1].split('@')[0]}.{ctype.split('/')[-1]}" if cid else "file"),
                        content_type=ctype,
                        data=payload,
                        content_id=cid[0][1:-1] if cid else None,
                        inline=disposition == "inline" or (bool(cid) and disposition != "attachment"),
                    )
                )
            continue
        if ctype == "text/plain":
            text_parts.append(_text_of(part))
        elif ctype == "text/html":
            html_parts.append(_text_of(part))
    html = "\n".join(html_parts) if html_parts else None
    full_text = "\n".join(text_parts).strip() if text_parts else (html_to_text(html) if html else "")
    full_text = full_text.replace("\r\n", "\n")
    headers = {k.lower(): str(v) for k, v in msg.items() if k.lower().startswith(("x-auto", "x-autorespond"))}
    return_path = _header(msg, "Return-Path") if "Return-Path" in msg else None
    if return_path is not None:
        return_path = return_path.strip("<> ")
    reply_to = parseaddr(_header(msg, "Reply-To"))[1].lower() or None
    return ParsedEmail(
        message_id=message_id,
        in_reply_to=_ids(_header(msg, "In-Reply-To")),
        references=_ids(_header(msg, "References")),
        from_address=address.lower(),
        from_name=name,
        to=_address_list(msg, "To") + _address_list(msg, "Delivered-To"),
        cc=_address_list(msg, "Cc"),
        reply_to=reply_to,
        subject=_header(msg, "Subject"),
        text=fold_quoted(full_text),
        full_text=full_text,
        html=sanitise_html(html) if html else None,
        attachments=attachments,
        auto_submitted=_header(msg, "Auto-Submitted").split(";")[0].strip(),
        precedence=_header(msg, "Precedence"),
        list_id=_header(msg, "List-Id"),
        return_path=return_path,
        bounce=bounce,
        headers=headers,
    )


def address_of(value: str) -> Address:
    name, addr = parseaddr(value)
    user, _, domain = addr.partition("@")
    return Address(display_name=name, username=user, domain=domain)
