"""Dynamic masking of personal data for roles that do not need it."""

from __future__ import annotations


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


def mask_identity(kind: str, value: str) -> str:
    if kind == "email":
        return mask_email(value) or ""
    if kind == "phone":
        return mask_phone(value) or ""
    return value
