"""Dynamic masking of personal data for roles that do not need it, and of identities that are credentials.

Two rules, applied wherever customers' data is presented (customers API, workspace, audit trail):
* personal data (e-mail, phone, external and messaging-app ids) is shown in clear only to roles holding
  ``customers.pii``; others see a masked form that still tells two values apart;
* a web visitor id is a bearer credential (whoever presents it resumes that visitor's session and reads their
  conversations), so it is masked for every reader, whatever their role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Identity kinds whose value lets its holder act as the customer: never shown in clear.
CREDENTIAL_KINDS = frozenset({"web_visitor"})


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return value
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    digits = len(value)
    if digits <= 4:
        return "*" * digits
    keep_head = 3 if digits >= 11 else 1
    return value[:keep_head] + "*" * (digits - keep_head - 4) + value[-4:]


def mask_opaque(value: str) -> str:
    """An id with no inner structure (external user id, WeChat openid): its first and last two characters."""
    if len(value) <= 6:
        return "*" * len(value)
    return f"{value[:2]}***{value[-2:]}"


def mask_credential(value: str) -> str:
    """A credential-like id: only its last four characters, enough to tell two apart, far too few to use."""
    return "…" + value[-4:] if len(value) > 8 else "***"


def mask_identity(kind: str, value: str) -> str:
    if kind in CREDENTIAL_KINDS:
        return mask_credential(value)
    if kind == "email":
        return mask_email(value) or ""
    if kind == "phone":
        return mask_phone(value) or ""
    return mask_opaque(value)


def present_identity(kind: str, value: str, *, reveal_pii: bool) -> str:
    """What a reader sees of one customer identity: credentials always masked, the rest by ``customers.pii``."""
    if kind in CREDENTIAL_KINDS or not reveal_pii:
        return mask_identity(kind, value)
    return value


def _mask_str(mask: Callable[[str | None], str | None]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, list):
            return [apply(v) for v in value]
        return value

    return apply


#: Keys of an audit record's ``changes`` that hold a customer's contact details (a value, or ``[old, new]``).
_PERSONAL_KEYS: dict[str, Callable[[Any], Any]] = {
    "email": _mask_str(mask_email),
    "phone": _mask_str(mask_phone),
    "identifier": _mask_str(lambda v: mask_opaque(v) if v else v),
    "search": _mask_str(lambda v: mask_opaque(v) if v else v),  # what someone searched customers for
}


def mask_personal_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """An audit record's ``changes`` with contact details masked (for readers without ``customers.pii``)."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        mask = _PERSONAL_KEYS.get(name)
        if mask is not None:
            out[name] = mask(value)
        elif isinstance(value, dict):
            out[name] = mask_personal_changes(value)
        else:
            out[name] = value
    return out
