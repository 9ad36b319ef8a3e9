"""The e-mail adapter's outbound side: an agent's, the assistant's or the system's answer leaves as an e-mail in
the customer's thread, over the tenant's SMTP relay.

* ``From`` is the mailbox's address; ``Reply-To`` its inbound address with the conversation's token
  (``support+c<id>@…``) so that even a client that drops the headers threads back.
* ``Message-ID`` is derived from our message id (``<omnidesk.<id>@<from domain>>``): a send repeated after a
  crash carries the same id, and the id is what a reply's ``In-Reply-To``/``References`` name.
* ``In-Reply-To`` is the customer's latest message, ``References`` the thread's ids; ``Cc`` from the message's
  payload (``{"cc": [...]}``).
* Loop protection (RFC 3834): mail from the assistant or the system is marked ``Auto-Submitted: auto-replied``,
  and is **not sent** at all when the message it answers was automatic itself (an auto-reply, a list, bulk mail,
  a null return path): the delivery fails with that reason, visible to the agent; a person's answer still goes.
* A 5xx answer is permanent (failed); 4xx and connection errors are retried by the delivery core.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from sqlalchemy import func, select

from omnidesk.accounts import tenant_secrets
from omnidesk.channels.base import AttachmentPart, Capabilities, Delivery, OutboundMessage, TextPart, degrade
from omnidesk.channels.email.models import EmailMailbox
from omnidesk.channels.email.parse import normalise_subject
from omnidesk.channels.email.threads import CHANNEL, reply_address
from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.registry import AdapterContext
from omnidesk.conversations.models import ChannelMessage, Conversation, Message
from omnidesk.core.db import utcnow

AUTOMATIC = frozenset({"bot", "system"})
TIMEOUT_SECONDS = 30.0
AUTO_REPLIES_PER_HOUR = 10  # automatic mails to one customer per hour: beyond, a loop is likelier than a dialogue


def message_id_for(message_id: uuid.UUID, from_address: str) -> str:
    domain = from_address.rpartition("@")[2] or "omnidesk.invalid"
    return f"<omnidesk.{message_id}@{domain}>"


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split()) or "(no subject)"
    if normalise_subject(subject) != subject.casefold():  # already a reply or forward: keep the client's prefix
        return subject
    return f"Re: {subject}"


class EmailAdapter:
    channel = CHANNEL
    identity_kind = "email"
    capabilities = Capabilities(rich_replies=False, attachments=True, typing=False, read_receipts=False)

    def __init__(self, context: AdapterContext) -> None:
        self.context = context

    def _mailbox(self, tenant_id: uuid.UUID) -> tuple[EmailMailbox | None, str, str, bool]:
        """The tenant's sending mailbox, its relay password and DKIM key (empty when unset), and whether the
        message answered was automatic."""
        keys = self.context.tenant_secret_keys
        with self.context.db.tenant_read(tenant_id) as s:
            mailbox = s.scalar(
                select(EmailMailbox).where(EmailMailbox.enabled.is_(True)).order_by(EmailMailbox.created_at).limit(1)
            )
            if mailbox is None:
                return None, "", "", False
            password = dkim = ""
            if tenant_secrets.status(s, mailbox.password_secret).is_set:
                password = tenant_secrets.reveal(s, keys, tenant_id, mailbox.password_secret)
            if mailbox.dkim_selector and tenant_secrets.status(s, mailbox.dkim_secret).is_set:
                dkim = tenant_secrets.reveal(s, keys, tenant_id, mailbox.dkim_secret)
            s.expunge(mailbox)
        return mailbox, password, dkim, False

    def _answers_automatic(self, tenant_id: uuid.UUID, reply_to: str | None) -> bool:
        if not reply_to:
            return False
        with self.context.db.tenant_read(tenant_id) as s:
            raw = s.scalar(
                select(ChannelMessage.raw).where(
                    ChannelMessage.channel == CHANNEL, ChannelMessage.channel_message_id == reply_to
                )
            )
        return bool(raw and raw.get("automated"))

    def _automatic_sent_lately(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> int:
        """Automatic mails sent to this conversation's customer in the last hour (a per-sender rate limit that
        stops a loop with a mail system that ignores ``Auto-Submitted``)."""
        since = utcnow() - timedelta(hours=1)
        with self.context.db.tenant_read(tenant_id) as s:
            customer = select(Conversation.customer_id).where(Conversation.id == conversation_id).scalar_subquery()
            count = s.scalar(
                select(func.count())
                .select_from(MessageDelivery)
                .join(Message, Message.id == MessageDelivery.message_id)
                .join(Conversation, Conversation.id == MessageDelivery.conversation_id)
                .where(
                    Conversation.customer_id == customer,
                    MessageDelivery.channel == CHANNEL,
                    MessageDelivery.state == "sent",
                    MessageDelivery.updated_at >= since,
                    Message.sender_type.in_(AUTOMATIC),
                )
            )
        return int(count or 0)

    def build(self, message: OutboundMessage, mailbox: EmailMailbox) -> EmailMessage:
        message = degrade(message, self.capabilities)
        mail = EmailMessage()
        mail["From"] = formataddr((mailbox.from_name, mailbox.from_address))
        assert message.recipient is not None
        mail["To"] = formataddr((message.recipient.display_name, message.recipient.value))
        cc = [str(a) for a in message.payload.get("cc") or () if isinstance(a, str) and "@" in a]
        if cc:
            mail["Cc"] = ", ".join(cc)
        mail["Subject"] = reply_subject(message.subject)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id_for(message.message_id, mailbox.from_address)
        mail["Reply-To"] = reply_address(mailbox.inbound_address, message.conversation_id)
        if message.reply_to:
            mail["In-Reply-To"] = message.reply_to
        if message.references:
            mail["References"] = " ".join(message.references)
        if message.sender_type in AUTOMATIC:
            mail["Auto-Submitted"] = "auto-replied"
            mail["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office answer to our automatic mail
        text = "\n\n".join(p.text for p in message.parts if isinstance(p, TextPart))
        files = [p for p in message.parts if isinstance(p, AttachmentPart)]
        mail.set_content(text or " ".join(f.filename for f in files))
        for part in files:
            data = self._file(message.tenant_id, part)
            if data is not None:
                maintype, _, subtype = part.content_type.partition("/")
                mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=part.filename)
        return mail

    def _file(self, tenant_id: uuid.UUID, part: AttachmentPart) -> bytes | None:
        if part.attachment_id is None:
            return None
        from omnidesk.channels.widget.models import Attachment
        from omnidesk.core.blobs import LocalEncryptedBlobStore
        from omnidesk.security.keys import Purpose, for_purpose

        settings = self.context.settings
        with self.context.db.tenant_read(tenant_id) as s:
            key = s.scalar(select(Attachment.storage_key).where(Attachment.id == part.attachment_id))
        if key is None:
            return None
        return LocalEncryptedBlobStore(settings.data_dir / "blobs", for_purpose(settings, Purpose.BLOBS)).get(key)

    def deliver(self, message: OutboundMessage) -> Delivery:
        mailbox, password, dkim_key, _ = self._mailbox(message.tenant_id)
        if mailbox is None or not mailbox.smtp_host:
            return Delivery(error="no e-mail mailbox with an SMTP relay is set up (/settings/channels/email)")
        if message.recipient is None:
            return Delivery(error="the customer has no e-mail address")
        if message.sender_type in AUTOMATIC and self._answers_automatic(message.tenant_id, message.reply_to):
            return Delivery(error="not sent: an automatic answer to automatic mail (RFC 3834 loop protection)")
        if message.sender_type in AUTOMATIC and (
            self._automatic_sent_lately(message.tenant_id, message.conversation_id) >= AUTO_REPLIES_PER_HOUR
        ):
            return Delivery(
                error=f"not sent: more than {AUTO_REPLIES_PER_HOUR} automatic mails to this customer in an hour"
            )
        mail = self.build(message, mailbox)
        raw = mail.as_bytes()
        if dkim_key and mailbox.dkim_selector:
            raw = sign_dkim(raw, mailbox, dkim_key)
        recipients = [message.recipient.value, *[str(a) for a in message.payload.get("cc") or () if "@" in str(a)]]
        try:
            send(mailbox, password, raw, recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Delivery(error=f"recipient refused: {exc.recipients}", retry=all(400 <= c < 500 for c in codes))
        except smtplib.SMTPResponseException as exc:
            detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            return Delivery(error=f"{exc.smtp_code} {detail}", retry=exc.smtp_code < 500)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(error=f"{type(exc).__name__}: {exc}", retry=True)
        return Delivery(channel_message_id=str(mail["Message-ID"]))


def send(mailbox: EmailMailbox, password: str, raw: bytes, recipients: list[str]) -> None:
    """One SMTP transaction with the mailbox's relay (implicit TLS, STARTTLS or plain as configured)."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if mailbox.smtp_security == "tls":
        client = smtplib.SMTP_SSL(mailbox.smtp_host, mailbox.smtp_port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(mailbox.smtp_host, mailbox.smtp_port, timeout=TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        if mailbox.smtp_security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if mailbox.smtp_username:
            client.login(mailbox.smtp_username, password)
        client.sendmail(mailbox.from_address, recipients, raw)


def test_connection(mailbox: EmailMailbox, password: str) -> str | None:
    """Connect, greet, secure and log in as a delivery would, send nothing: ``None`` if fine, else the error."""
    try:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if mailbox.smtp_security == "tls":
            client = smtplib.SMTP_SSL(mailbox.smtp_host, mailbox.smtp_port, timeout=10, context=context)
        else:
            client = smtplib.SMTP(mailbox.smtp_host, mailbox.smtp_port, timeout=10)
        with client:
            client.ehlo()
            if mailbox.smtp_security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if mailbox.smtp_username:
                client.login(mailbox.smtp_username, password)
            client.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def sign_dkim(raw: bytes, mailbox: EmailMailbox, private_key_pem: str) -> bytes:
    """DKIM-Signature (RFC 6376, rsa-sha256, relaxed/relaxed) over the headers a receiver checks, with dkimpy."""
    import dkim

    domain = mailbox.from_address.rpartition("@")[2]
    headers: list[Any] = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to", b"references"]
    signature = dkim.sign(
        raw,
        mailbox.dkim_selector.encode(),
        domain.encode(),
        private_key_pem.encode(),
        include_headers=headers,
    )
    return bytes(signature) + raw


def factory(context: AdapterContext) -> EmailAdapter:
    return EmailAdapter(context)
