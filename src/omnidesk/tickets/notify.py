"""In-app notifications and queued e-mail. Both are rows written in the caller's transaction; e-mail leaves later,
from the worker (:func:`omnidesk.jobs.tickets.deliver_mail`), so a rolled-back action never sends anything."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.accounts.models import StaffUser
from omnidesk.core.db import utcnow
from omnidesk.events.outbox import publish_on_commit
from omnidesk.events.types import NotificationAdded
from omnidesk.i18n import translate
from omnidesk.tickets.models import MailOutbox, Notification

_MENTION = re.compile(r"(?<![\w.])@([A-Za-z0-9._+\-]+(?:@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})?)")
MAX_LISTED = 50


def notify(
    session: Session,
    tenant_id: uuid.UUID,
    recipients: Iterable[uuid.UUID],
    kind: str,
    title: tuple[str, dict[str, Any]],
    body: str = "",
    ticket_ids: Iterable[uuid.UUID] = (),
    *,
    email: bool = False,
) -> int:
    """One notice per distinct recipient (and an e-mail each when asked and the person has an address).

    ``title`` is an i18n key with its values, rendered in each recipient's own language.
    """
    ids = [str(t) for t in ticket_ids][:MAX_LISTED]
    wanted = list(dict.fromkeys(r for r in recipients if r is not None))
    # API keys and the system can appear as actors; only staff have an inbox.
    staff = (
        {
            u.id: u
            for u in session.scalars(select(StaffUser).where(StaffUser.id.in_(wanted), StaffUser.is_active.is_(True)))
        }
        if wanted
        else {}
    )
    people = [p for p in wanted if p in staff]
    now = utcnow()
    key, values = title
    for person in people:
        text = translate(key, staff[person].language, **values)[:300]
        session.add(
            Notification(
                tenant_id=tenant_id,
                recipient_id=person,
                kind=kind,
                title=text,
                body=body,
                ticket_ids=ids,
                created_at=now,
            )
        )
        publish_on_commit(session, NotificationAdded(tenant_id=tenant_id, recipient_id=person, kind=kind))
    if email:
        for person in people:
            queue_mail(session, tenant_id, staff[person].email, translate(key, staff[person].language, **values), body)
    return len(people)


def queue_mail(session: Session, tenant_id: uuid.UUID, to: str, subject: str, body: str) -> None:
    session.add(MailOutbox(tenant_id=tenant_id, to_addr=to, subject=subject[:300], body=body, created_at=utcnow()))


def supervisors(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(StaffUser.id).where(StaffUser.role.in_(["supervisor", "admin"]), StaffUser.is_active.is_(True))
        )
    )


def mentioned(session: Session, body: str) -> list[StaffUser]:
    """Staff named in a comment as ``@王芳`` (their display name, as colleagues know them), ``@wang.fang`` (the
    local part of their e-mail) or ``@full@address``. A name is matched after an ``@`` that starts a word; Chinese
    names need no space after them ("@王芳请看一下")."""
    if "@" not in body:
        return []
    handles = {h.lower() for h in _MENTION.findall(body)}
    people = session.scalars(select(StaffUser).where(StaffUser.is_active.is_(True))).all()
    lowered = body.lower()
    return [
        p
        for p in people
        if p.email.lower() in handles or p.email.split("@")[0].lower() in handles or _named(lowered, p.display_name)
    ]


def _named(lowered_body: str, display_name: str) -> bool:
    name = " ".join(display_name.split()).lower()
    if not name:
        return False
    start = 0
    while (at := lowered_body.find("@" + name, start)) >= 0:
        before = lowered_body[at - 1] if at > 0 else " "
        after = lowered_body[at + 1 + len(name) : at + 2 + len(name)]
        # Latin names end at a non-letter ("@Ann," yes, "@Anna" not Ann); CJK names run into the sentence.
        latin_end = name[-1].isascii() and name[-1].isalnum()
        if not (before.isalnum() or before in "._") and not (latin_end and after.isascii() and after.isalnum()):
            return True
        start = at + 1
    return False
