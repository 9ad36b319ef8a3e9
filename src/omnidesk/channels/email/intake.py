"""Store one received e-mail: parse, recognise bounces, thread, and hand it to ``receive_messages``.

Everything happens in one tenant transaction; the caller (the SMTP/LMTP ingress, IMAP later) acknowledges the
message to its sender only after this returns, so a crash before the commit makes the MTA deliver it again, and
the redelivery is found by its Message-ID (the channel message id) and stored once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from omnidesk.channels import delivery
from omnidesk.channels.base import AttachmentPart, InboundMessage, SenderIdentity, TextPart, ThreadRef
from omnidesk.channels.email.parse import ParsedEmail, parse
from omnidesk.channels.email.threads import CHANNEL, thread_for
from omnidesk.channels.widget.attachments import check_upload
from omnidesk.channels.widget.models import Attachment as AttachmentRow
from omnidesk.conversations.intake import Stored, receive_messages
from omnidesk.conversations.models import ChannelMessage
from omnidesk.core.actor import system_actor
from omnidesk.core.blobs import BlobStore
from omnidesk.core.db import Database
from omnidesk.core.errors import InvalidInput

log = logging.getLogger("omnidesk.email")

MAX_RAW_TEXT = 200_000  # characters of the original body kept in ``raw`` (attachments live in the blob store)


@dataclass(frozen=True, slots=True)
class Received:
    outcome: str  # stored | duplicate | bounce | refused
    conversation_id: str | None = None
    message_id: str | None = None


def raw_of(parsed: ParsedEmail) -> dict[str, Any]:
    """What is kept beside the message: the whole body as sent (quotes and signature included), the sanitised
    HTML, the threading headers, and the loop-protection facts the e-mail adapter reads before answering."""
    return {
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references[-20:],
        "from": parsed.from_address,
        "to": parsed.to,
        "cc": parsed.cc,
        "subject": parsed.subject,
        "text": parsed.full_text[:MAX_RAW_TEXT],
        "html": (parsed.html or "")[:MAX_RAW_TEXT] or None,
        "automated": parsed.automated,
        "auto_submitted": parsed.auto_submitted,
        "precedence": parsed.precedence,
        "list_id": parsed.list_id,
        "inline": {a.content_id: a.filename for a in parsed.attachments if a.content_id},
    }


def store(db: Database, blobs: BlobStore, tenant_id: Any, data: bytes) -> Received:
    parsed = parse(data)
    return store_parsed(db, blobs, tenant_id, parsed)


def store_parsed(db: Database, blobs: BlobStore, tenant_id: Any, parsed: ParsedEmail) -> Received:
    actor = system_actor(tenant_id)
    with db.tenant_transaction(tenant_id) as s:
        if parsed.bounce is not None:
            # A delivery report is about a message of ours, not a customer writing: shown on that delivery.
            original = parsed.bounce.original_message_id
            found = original is not None and delivery.mark_bounced(
                s, tenant_id, CHANNEL, original, f"bounced: {parsed.bounce.status} {parsed.bounce.reason}".strip()
            )
            log.info("bounce received", extra={"original": original, "matched": bool(found)})
            return Received("bounce")
        if not parsed.from_address:
            return Received("refused")
        # A redelivery (our 250 was lost): answered before threading, which would open a new conversation for it.
        known = s.execute(
            select(ChannelMessage.conversation_id, ChannelMessage.message_id).where(
                ChannelMessage.channel == CHANNEL, ChannelMessage.channel_message_id == parsed.message_id
            )
        ).first()
        if known is not None:
            return Received("duplicate", str(known[0]), str(known[1]))
        thread, customer_id = thread_for(s, parsed)
        sender = SenderIdentity(
            "email", parsed.from_address, customer_id=customer_id, display_name=parsed.from_name[:200]
        )
        checked, refused = [], []
        for attachment in parsed.attachments:
            try:
                checked.append(check_upload(attachment.filename, attachment.content_type, attachment.data))
            except InvalidInput as exc:
                refused.append(f"{attachment.filename}: {exc}")
        text = parsed.text or ("" if checked else parsed.subject) or "(no text)"
        if refused:
            text += "\n\n" + "\n".join(f"[attachment not accepted] {r}" for r in refused)
        first = InboundMessage(
            channel=CHANNEL,
            channel_message_id=parsed.message_id,
            sender=sender,
            parts=(TextPart(text),),
            thread=thread,
            raw=raw_of(parsed),
        )
        (outcome,) = receive_messages(s, actor, [first])
        if not isinstance(outcome, Stored):
            return Received("refused")
        conversation_id = outcome.message["conversation_id"]
        if not outcome.created:
            return Received("duplicate", conversation_id, outcome.message["id"])
        # Files follow the text as messages of their own in the same conversation (the product's attachment
        # messages), each checked like a widget upload and kept encrypted in the blob store.
        files = []
        for n, item in enumerate(checked, 1):
            key = blobs.put(item.data, item.content_type).key
            row = AttachmentRow(
                tenant_id=tenant_id,
                conversation_id=uuid.UUID(conversation_id),
                filename=item.filename,
                content_type=item.content_type,
                size=len(item.data),
                sha256=item.sha256,
                storage_key=key,
                uploaded_by="customer",
            )
            s.add(row)
            s.flush()
            files.append(
                InboundMessage(
                    channel=CHANNEL,
                    channel_message_id=f"{parsed.message_id[:190]}#{n}",
                    sender=sender,
                    parts=(AttachmentPart(row.filename, row.content_type, row.size, attachment_id=row.id),),
                    thread=ThreadRef(conversation_id=row.conversation_id),
                )
            )
        if files:
            named = SenderIdentity("email", parsed.from_address, customer_id=uuid.UUID(outcome.message["sender_id"]))
            receive_messages(s, actor, [replace(f, sender=named) for f in files])
        return Received("stored", str(conversation_id), outcome.message["id"])
