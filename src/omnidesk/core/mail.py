"""Sending e-mail over SMTP. Off when ``OMNIDESK_SMTP_HOST`` is unset.

Headers are built by :class:`email.message.EmailMessage`, and CR/LF in a subject or address is refused before,
so no caller can inject headers (ASVS 1.3.11).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from omnidesk.core.settings import Settings


class MailError(RuntimeError):
    """Delivery failed; the message stays queued for the next attempt."""


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def send(settings: Settings, to: str, subject: str, body: str) -> None:
    if not settings.smtp_host:
        raise MailError("SMTP is not configured")
    for value in (to, subject):
        if "\r" in value or "\n" in value:
            raise MailError("line breaks are not allowed in e-mail headers")
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
