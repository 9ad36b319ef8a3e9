"""Attachments: type and size checks, and a blob store that keeps file contents encrypted at rest.

Interface: :class:`BlobStore` (``put``/``get``/``delete`` by a server-generated key). Two implementations:
:class:`EncryptedFileStore` (files under the data directory, AES-256-GCM with a key derived from the secret key)
and :class:`MemoryBlobStore` (tests). Keys are random and generated here, never taken from a file name, so no
upload can choose where it lands. Uploaded bytes are only ever served back as downloads, never executed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from omnidesk.core.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024

# Content type → (magic prefix, extensions). The declared type, the extension and the bytes must all agree.
ALLOWED: dict[str, tuple[tuple[bytes, ...], tuple[str, ...]]] = {
    "image/png": ((b"\x89PNG\r\n\x1a\n",), (".png",)),
    "image/jpeg": ((b"\xff\xd8\xff",), (".jpg", ".jpeg")),
    "image/gif": ((b"GIF87a", b"GIF89a"), (".gif",)),
    "image/webp": ((b"RIFF",), (".webp",)),
    "application/pdf": ((b"%PDF-",), (".pdf",)),
}


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def check_upload(filename: str, content_type: str, data: bytes, *, max_bytes: int = MAX_BYTES) -> CheckedFile:
    """Accept only images and PDFs within the size limit whose name, declared type and bytes agree."""
    if not data:
        raise InvalidInput("the file is empty")
    if len(data) > max_bytes:
        raise InvalidInput(f"the file is larger than {max_bytes // (1024 * 1024)} MB")
    declared = content_type.split(";")[0].strip().lower()
    rule = ALLOWED.get(declared)
    if rule is None:
        raise InvalidInput("only images (PNG, JPEG, GIF, WebP) and PDF files can be sent")
    magics, extensions = rule
    printable = "".join(c for c in filename if c.isprintable())  # no NUL or control characters in stored names
    safe_name = Path(printable.replace("\\", "/")).name.strip()[:200] or "file"
    if not safe_name.lower().endswith(extensions):
        raise InvalidInput(f"a {declared} file must be named *{extensions[0]}")
    if not data.startswith(magics) or (declared == "image/webp" and data[8:12] != b"WEBP"):
        raise InvalidInput("the file's contents do not match its type")
    return CheckedFile(safe_name, declared, data, hashlib.sha256(data).hexdigest())


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return the new key."""

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def _new_key() -> str:
    return secrets.token_hex(16)


def _valid_key(key: str) -> bool:
    return len(key) == 32 and all(c in "0123456789abcdef" for c in key)


class MemoryBlobStore:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        key = _new_key()
        with self._lock:
            self._data[key] = data
        return key

    def get(self, key: str) -> bytes:
        with self._lock:
            if key not in self._data:
                raise KeyError(key)
            return self._data[key]

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class EncryptedFileStore:
    """Files ``<root>/<k[:2]>/<k>`` holding ``nonce (12 bytes) || AES-256-GCM(ciphertext+tag)``.

    The key is derived from the process secret (SHA-256 over a fixed label and the secret), so the files are
    unreadable without it; the blob key is the associated data, so a file swapped under another name fails to open.
    """

    def __init__(self, root: Path, secret: str) -> None:
        self.root = root
        self._aead = AESGCM(hashlib.sha256(b"omnidesk-blobstore-v1\0" + secret.encode()).digest())

    def _path(self, key: str) -> Path:
        if not _valid_key(key):
            raise KeyError(key)
        return self.root / key[:2] / key

    def put(self, data: bytes) -> str:
        key = _new_key()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        nonce = os.urandom(12)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(nonce + self._aead.encrypt(nonce, data, key.encode()))
        tmp.replace(path)
        return key

    def get(self, key: str) -> bytes:
        raw = self._path(key).read_bytes()
        return self._aead.decrypt(raw[:12], raw[12:], key.encode())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
