"""Files customers send on a provider channel: queued for download in the transaction that stored the message,
fetched by a job (through the outbound policy), checked like a widget upload and kept in the attachment store.

The message is stored at once with the file's name and type (the agent sees that a file came); the job then
links the stored attachment to it. A file we do not accept (type or size) stays a name with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.channels.base import InboundMessage
from omnidesk.channels.widget.attachments import check_upload
from omnidesk.channels.widget.models import Attachment
from omnidesk.compliance import audit
from omnidesk.conversations.intake import Stored
from omnidesk.conversations.models import Message
from omnidesk.core.actor import system_actor
from omnidesk.core.blobs import BlobStore
from omnidesk.core.errors import InvalidInput
from omnidesk.jobs.outbox import enqueue

KIND = "channels.media"


def queue_downloads(
    session: Session, provider: str, created: Sequence[tuple[InboundMessage, Stored]], refs: dict[str, Any]
) -> None:
    """One job per stored message that came with a file (``refs``: channel message id → its media reference
    with ``media_id``, ``filename``, ``content_type``); keyed by the message id, so a redelivery queues nothing."""
    for item, stored in created:
        ref = refs.get(item.channel_message_id)
        if ref is None:
            continue
        payload = {"provider": provider, "message_id": stored.message["id"], **ref}
        enqueue(session, KIND, payload, key=str(stored.message["id"]))


def do_attach(
    session: Session,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    store: BlobStore,
) -> bool:
    """Link the downloaded file to its message (idempotent: a message already linked is left alone)."""
    message = session.scalar(select(Message).where(Message.id == message_id))
    if message is None:
        return False
    current = dict(message.payload.get("attachment") or {})
    if current.get("id"):
        return True
    try:
        checked = check_upload(filename, content_type, data)
    except InvalidInput as exc:
        message.payload = {**message.payload, "attachment": {**current, "unavailable": str(exc)}}
        return False
    key = store.put(checked.data, checked.content_type).key
    row = Attachment(tenant_id=tenant_id, conversation_id=message.conversation_id, filename=checked.filename,
                     content_type=checked.content_type, size=len(checked.data), sha256=checked.sha256,
                     storage_key=key, uploaded_by="customer")  # fmt: skip
    session.add(row)
    session.flush()
    attachment = {"id": str(row.id), "filename": row.filename, "content_type": row.content_type, "size": row.size}
    message.payload = {**message.payload, "attachment": attachment}
    audit.record(session, system_actor(tenant_id), "conversation.attachment_fetch", "conversation",
                 message.conversation_id, {"message_id": str(message_id), "attachment_id": str(row.id)})  # fmt: skip
    return True
