"""Domain errors. Each maps to one HTTP status and a problem+json body whose ``detail`` a person can act on."""

from __future__ import annotations

from typing import Any

from omnidesk.core import denials


class DomainError(Exception):
    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(DomainError):
    status = 422
    code = "invalid-input"
    title = "Invalid input"


class NotFound(DomainError):
    """Also raised for objects of another tenant, so that no caller learns they exist."""

    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(DomainError):
    """Raised wherever an authorization check fails; every instance is audited after the request (core/denials)."""

    status = 403
    code = "forbidden"
    title = "Forbidden"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors)
        denials.note(detail)


class PasswordChangeRequired(PermissionDenied):
    """A person signed in with a one-time password: nothing but choosing their own password is allowed yet."""

    code = "password-change-required"
    title = "Password change required"


class RateLimited(DomainError):
    status = 429
    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"
