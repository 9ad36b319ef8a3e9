"""One key per purpose, derived from ``OMNIDESK_SECRET_KEY``; the raw secret itself signs and encrypts nothing.

Each purpose (staff socket tokens, visitor socket tokens, visitor session tokens, attachment encryption, tenant
secret encryption, known-device cookies) gets its own 256-bit key through HKDF-SHA256 with a purpose label, so a key that leaks (or a
token forged with one) opens only its own door. Rotation: ``OMNIDESK_SECRET_KEY_PREVIOUS`` lists older secrets;
their derived keys still verify and decrypt, while everything new is signed and encrypted with the current one
(see docs/operations.md, "Rotating the secret key").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from omnidesk.core.settings import Settings


class Purpose(StrEnum):
    STAFF_SOCKET = "staff-socket-token"
    VISITOR_SOCKET = "visitor-socket-token"
    VISITOR_SESSION = "visitor-session-token"
    BLOBS = "blob-encryption"
    TENANT_SECRETS = "tenant-secret-encryption"
    DEVICE = "staff-device-cookie"


_SALT = b"omnidesk-keys-v1"
# Attachments were encrypted with this derivation before the other purposes existed; keeping its salt and label
# keeps every stored file readable.
_FIXED: dict[Purpose, tuple[bytes, bytes]] = {Purpose.BLOBS: (b"omnidesk-blobs-v1", b"blob-encryption")}


def derive(secret: str, purpose: Purpose) -> bytes:
    salt, info = _FIXED.get(purpose, (_SALT, b"omnidesk/" + purpose.value.encode()))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret.encode())


@dataclass(frozen=True)
class PurposeKeys:
    """The keys of one purpose: ``current`` signs and encrypts; every key in ``accepted`` verifies and decrypts."""

    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def accepted(self) -> tuple[bytes, ...]:
        return (self.current, *self.previous)


@dataclass(frozen=True)
class Keyring:
    """All purposes' keys of one process configuration."""

    current_secret: str = field(repr=False)
    previous_secrets: tuple[str, ...] = field(default=(), repr=False)

    def __getitem__(self, purpose: Purpose) -> PurposeKeys:
        return _purpose_keys(self.current_secret, self.previous_secrets, purpose)


@functools.lru_cache(maxsize=64)
def _purpose_keys(current: str, previous: tuple[str, ...], purpose: Purpose) -> PurposeKeys:
    return PurposeKeys(derive(current, purpose), tuple(derive(p, purpose) for p in previous if p != current))


def keyring(settings: Settings) -> Keyring:
    return Keyring(settings.effective_secret_key, tuple(settings.secret_key_previous))


def for_purpose(settings: Settings, purpose: Purpose) -> PurposeKeys:
    return keyring(settings)[purpose]
