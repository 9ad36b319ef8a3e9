"""Password hashing (argon2id) and the password policy of ASVS 6.2: length, not composition, and no common ones."""

from __future__ import annotations

import secrets
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from omnidesk.core.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 128

_hasher = PasswordHasher()
# A real hash, so that a log-in with an unknown e-mail costs as much as one with a known e-mail.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = resources.files("omnidesk.security").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_password_policy(password: str, *, email: str | None = None) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters (15 or more recommended)")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise InvalidInput("this password is too common; choose a longer phrase")
    if email and lowered == email.lower():
        raise InvalidInput("the password must not be the e-mail address")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A one-time password for a new account: 20 URL-safe characters, about 120 bits."""
    return secrets.token_urlsafe(15)
