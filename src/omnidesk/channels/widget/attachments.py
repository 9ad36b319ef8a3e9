"""Attachments: type and size checks, and a blob store that keeps file contents encrypted at rest.

Interface: :class:`BlobStore` (``put``/``get``/``delete`` by a server-generated key). Two implementations:
:class:`EncryptedFileStore` (files under the data directory, AES-256-GCM with a key derived from the secret key)
and :class:`MemoryBlobStore` (tests). Keys are random and generated here, never taken from a file name, so no
upload can choose where it lands. Uploaded bytes are only ever served back as downloads, never executed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

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
