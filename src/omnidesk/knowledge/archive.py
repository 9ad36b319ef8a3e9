"""Uploaded zip archives (XLSX workbooks, zips of Markdown files) checked against the import limits before any
parser sees them.

A zip's headers say how big each member is, but they are written by whoever made the file: a member that declares
1 KiB may inflate to gigabytes. So the checks come in two steps, both bounded in time and memory by the limits
themselves: :func:`open_archive` reads only the central directory (member count, declared sizes and ratios, no
encryption, only stored/deflated members) and refuses what it declares; :func:`inflate` then streams a member in
small chunks and stops as soon as the bytes actually produced pass the member's declared size, the per-member cap,
the total cap or the ratio cap. :func:`scan_workbook` inflates every member of a workbook that way and runs the XML
ones through expat with DTDs refused (no entity tricks reach openpyxl, which parses with the same expat) while
counting rows, cells, columns and the length of each text.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

from omnidesk.core.errors import DomainError, InvalidInput

if TYPE_CHECKING:
    from omnidesk.core.settings import Settings

CHUNK = 64 * 1024
# Small members (a few KiB of XML boilerplate) compress far better than real content; the ratio cap applies to
# members and archives that inflate beyond this many bytes.
RATIO_FLOOR = 1024 * 1024
# The smallest central-directory record is 46 bytes plus the name; a name of a member we accept fits this budget.
_DIRECTORY_BYTES_PER_MEMBER = 46 + 512
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
# Exceptions zipfile, zlib and openpyxl raise on a damaged or forged archive (CRC, bad offsets, truncation, ...).
BROKEN_ARCHIVE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    struct.error,
    zlib.error,
    expat.ExpatError,
)


@dataclass(frozen=True)
class Limits:
    """The import limits (``OMNIDESK_KNOWLEDGE_IMPORT_*``); the defaults fit 20,000 long FAQ entries."""

    max_bytes: int = 20 * 1024 * 1024
    max_uncompressed_bytes: int = 64 * 1024 * 1024
    max_member_bytes: int = 32 * 1024 * 1024
    max_members: int = 25_000
    max_ratio: int = 100
    max_rows: int = 20_000
    max_columns: int = 64
    max_cells: int = 1_000_000
    max_cell_chars: int = 100_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_bytes=settings.knowledge_import_max_bytes,
            max_uncompressed_bytes=settings.knowledge_import_max_uncompressed_bytes,
            max_member_bytes=settings.knowledge_import_max_member_bytes,
            max_members=settings.knowledge_import_max_members,
            max_ratio=settings.knowledge_import_max_ratio,
            max_rows=settings.knowledge_import_max_rows,
            max_columns=settings.knowledge_import_max_columns,
            max_cells=settings.knowledge_import_max_cells,
            max_cell_chars=settings.knowledge_import_max_cell_chars,
        )


class LimitExceeded(DomainError):
    """An import file over one of the limits. ``limit`` names the setting (``max_rows`` is
    ``OMNIDESK_KNOWLEDGE_IMPORT_MAX_ROWS``) so the person, the UI and the operator all see which one."""

    code = "import-limit"
    title = "Import file over a limit"

    def __init__(self, limit: str, value: int, detail: str, *, status: int = 413) -> None:
        setting = f"OMNIDESK_KNOWLEDGE_IMPORT_{limit.upper()}"
        super().__init__(
            f"{detail} (limit {setting}={value}); nothing was imported",
            errors=[{"field": "file", "message": detail, "type": f"limit.{limit}"}],
        )
        self.status = status
        self.limit = limit
        self.value = value


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


# --- the central directory -----------------------------------------------------------------------------------


def _directory(content: bytes) -> tuple[int, int]:
    """``(declared member count, central directory size)`` from the end-of-central-directory record(s)."""
    tail = content[-(22 + 65535) :]
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise InvalidInput("not a zip archive (no end-of-central-directory record)")
    _, _, _, count, size, _, _ = struct.unpack("<HHHHIIH", tail[at + 4 : at + 22])
    if count == 0xFFFF or size == 0xFFFFFFFF:
        locator = tail.rfind(_EOCD64_LOCATOR, 0, at)
        if locator < 0:
            raise InvalidInput("the zip64 directory record is missing (forged archive)")
        (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        record = content[offset : offset + 56]
        if len(record) < 56 or record[:4] != _EOCD64:
            raise InvalidInput("the zip64 directory record is damaged (forged archive)")
        count, size = struct.unpack("<QQ", record[32:48])
    return count, size


def open_archive(content: bytes, limits: Limits, *, what: str) -> zipfile.ZipFile:
    """The archive, once its central directory passed every declared limit; nothing is inflated here."""
    if not content.startswith(b"PK"):
        raise InvalidInput(f"the file is not a {what} (not a zip archive)")
    count, size = _directory(content)
    if count > limits.max_members or size > limits.max_members * _DIRECTORY_BYTES_PER_MEMBER:
        raise LimitExceeded(
            "max_members", limits.max_members, f"the archive holds more than {limits.max_members} files"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except BROKEN_ARCHIVE as exc:
        raise InvalidInput(f"the file is not a readable {what}: {_reason(exc)}") from exc
    if len(infos) > limits.max_members:
        raise LimitExceeded(
            "max_members", limits.max_members, f"the archive holds more than {limits.max_members} files"
        )
    declared = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise InvalidInput(f"{info.filename}: encrypted archives cannot be imported")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidInput(f"{info.filename}: only stored or deflated members can be imported")
        _check_member_size(info.filename, info.file_size, limits)
        declared += info.file_size
        if declared > limits.max_uncompressed_bytes:
            raise _total_exceeded(limits)
        _check_ratio(info.filename, info.file_size, info.compress_size, limits)
    _check_ratio("the archive", declared, len(content), limits)
    return archive


def _check_member_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.max_member_bytes:
        raise LimitExceeded(
            "max_member_bytes", limits.max_member_bytes, f"{name} expands to more than {_mib(limits.max_member_bytes)}"
        )


def _total_exceeded(limits: Limits) -> LimitExceeded:
    return LimitExceeded(
        "max_uncompressed_bytes",
        limits.max_uncompressed_bytes,
        f"the archive expands to more than {_mib(limits.max_uncompressed_bytes)}",
    )


def _check_ratio(name: str, inflated: int, compressed: int, limits: Limits) -> None:
    if inflated > RATIO_FLOOR and inflated > limits.max_ratio * max(compressed, 1):
        raise LimitExceeded(
            "max_ratio", limits.max_ratio, f"{name} is compressed more than {limits.max_ratio} to 1 (an archive bomb?)"
        )


def _reason(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__


# --- inflating -----------------------------------------------------------------------------------------------


@dataclass
class Budget:
    """What the whole archive may still inflate to."""

    left: int


def inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: Budget) -> Iterator[bytes]:
    """The member's bytes in chunks of at most 64 KiB, stopped at the first limit actually passed.

    The declared size is an upper bound we hold the file to: a member that produces more than it declared is
    forged (zipfile also truncates there and then fails the CRC check; both end in a refusal).
    """
    produced = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK):
                produced += len(chunk)
                if produced > info.file_size:
                    raise InvalidInput(f"{info.filename} inflates to more than its header declares (forged archive)")
                _check_member_size(info.filename, produced, limits)
                budget.left -= len(chunk)
                if budget.left < 0:
                    raise _total_exceeded(limits)
                _check_ratio(info.filename, produced, info.compress_size, limits)
                yield chunk
    except BROKEN_ARCHIVE as exc:
        raise InvalidInput(f"{info.filename} cannot be read: {_reason(exc)} (damaged or forged archive)") from exc


def inflate_all(content: bytes, limits: Limits, *, what: str) -> None:
    """Check a whole archive against the limits by inflating every member (and keeping none of it): fast, as
    inflating is cheap next to parsing, so a request can afford it before queueing a big import."""
    budget = Budget(limits.max_uncompressed_bytes)
    with open_archive(content, limits, what=what) as archive:
        for info in archive.infolist():
            for _ in inflate(archive, info, limits, budget):
                pass


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: Budget) -> bytes:
    return b"".join(inflate(archive, info, limits, budget))


# --- workbooks -----------------------------------------------------------------------------------------------


_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d*)")
_XML_START = (b"<", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class WorkbookStats:
    """What :func:`scan_workbook` counted; ``max_row`` bounds the rows openpyxl is asked for."""

    rows: int = 0
    cells: int = 0
    max_row: int = 0
    max_column: int = 0
    _row: int = field(default=0, repr=False)
    _text: int = field(default=0, repr=False)


class _Counter:
    """expat handlers: refuse DTDs, count rows and cells, bound each text's length."""

    def __init__(self, name: str, limits: Limits, stats: WorkbookStats) -> None:
        self.name = name
        self.limits = limits
        self.stats = stats

    def doctype(self, *_: Any) -> None:
        raise InvalidInput(f"{self.name}: XML document type declarations (DTDs) are not accepted in a workbook")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(" ", 1)[-1]
        stats, limits = self.stats, self.limits
        stats._text = 0
        if local == "worksheet":
            stats._row = 0
        elif local == "row":
            stats.rows += 1
            ref = attrs.get("r", "")
            stats._row = int(ref) if ref.isdigit() and len(ref) < 10 else stats._row + 1
            stats.max_row = max(stats.max_row, stats._row)
            if stats.rows > limits.max_rows + 1 or stats._row > limits.max_rows + 1:
                raise LimitExceeded(
                    "max_rows", limits.max_rows, f"the workbook has more than {limits.max_rows} rows", status=422
                )
        elif local == "c":
            stats.cells += 1
            if stats.cells > limits.max_cells:
                raise LimitExceeded(
                    "max_cells", limits.max_cells, f"the workbook has more than {limits.max_cells} cells", status=422
                )
            match = _CELL_REF.fullmatch(attrs.get("r", ""))
            if match:
                column = _column_index(match.group(1))
                stats.max_column = max(stats.max_column, column)
                if column > limits.max_columns:
                    raise LimitExceeded(
                        "max_columns",
                        limits.max_columns,
                        f"cell {attrs['r']} is beyond column {limits.max_columns}",
                        status=422,
                    )

    def text(self, data: str) -> None:
        self.stats._text += len(data)
        if self.stats._text > self.limits.max_cell_chars:
            raise LimitExceeded(
                "max_cell_chars",
                self.limits.max_cell_chars,
                f"{self.name} holds a text longer than {self.limits.max_cell_chars} characters",
                status=422,
            )


def scan_workbook(content: bytes, limits: Limits) -> WorkbookStats:
    """Inflate every member under the limits and check every XML part; raises on the first limit passed."""
    archive = open_archive(content, limits, what="XLSX workbook")
    budget = Budget(limits.max_uncompressed_bytes)
    stats = WorkbookStats()
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            chunks = inflate(archive, info, limits, budget)
            first = next(chunks, b"")
            if not first.lstrip().startswith(_XML_START):
                for _ in chunks:  # not XML (an image, a printer setting): only its size matters
                    pass
                continue
            counter = _Counter(info.filename, limits, stats)
            parser = expat.ParserCreate(namespace_separator=" ")
            parser.StartDoctypeDeclHandler = counter.doctype
            parser.EntityDeclHandler = counter.doctype
            parser.StartElementHandler = counter.start
            parser.CharacterDataHandler = counter.text
            try:
                parser.Parse(first, False)
                for chunk in chunks:
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
            except expat.ExpatError as exc:
                raise InvalidInput(f"{info.filename} is not well-formed XML: {exc}") from exc
    return stats
