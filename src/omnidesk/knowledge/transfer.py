"""Import and export of knowledge: CSV and XLSX (FAQ columns), JSON, and a zip of Markdown files.

Parsing is pure (bytes → rows with their row numbers). Files from other systems are read as their authors meant
them: language tags written any common way (``zh``, ``zh-Hans``, ``zh_CN``, ``en-US`` …) are normalised, any
printable id is kept (one that is not — too long, control characters — is mapped to a stable id and the mapping
reported), a multi-line question is one line, thousands of variants per entry are accepted (``|``-separated, or
one per line, or spread over further rows with the same id and no answer), and long variants are kept whole
(the assistant matches on their first :data:`ASSISTANT_MATCH_CHARS` characters). What was read differently is
reported as *notices*; bad rows as *errors*.

:func:`import_entries` imports the good rows and reports the bad ones, unless ``all_or_nothing`` (then any bad row
refuses the whole file); :func:`preview` says what an import would do without writing anything. Each entry is
matched on ``(language, external_id)`` (an entry without an external id gets one derived from its question), and
entries whose content is unchanged are not written at all, so re-importing the same file changes nothing. An
export read back by import is reported as all unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnidesk.core.actor import Actor
from omnidesk.core.errors import DomainError, InvalidInput
from omnidesk.core.schemas import Input, Language, SingleLine, Tag, Timestamp, error_message
from omnidesk.i18n import language_tag
from omnidesk.knowledge import actions, archive, queries
from omnidesk.knowledge.archive import LimitExceeded, Limits
from omnidesk.knowledge.models import KbArticle, KbCategory
from omnidesk.knowledge.schemas import (
    ASSISTANT_MATCH_CHARS,
    MAX_VARIANTS,
    CategoryCreate,
    ExternalId,
    MarkdownBody,
    Text,
    Title,
    Variant,
)
from omnidesk.knowledge.states import ArticleStatus, Kind, Visibility
from omnidesk.security.permissions import Perm

COLUMNS = (
    "external_id",
    "question",
    "variants",
    "answer",
    "category",
    "language",
    "tags",
    "visibility",
    "status",
    "effective_from",
    "expires_at",
    "kind",
    "summary",
)
REQUIRED = ("question", "answer", "language")
FORMATS = ("csv", "xlsx", "json", "markdown")
_GROUP_NS = uuid.UUID("5b0f7c7e-0c55-4c50-9d55-4b9f6f0a1e11")


class ImportEntry(Input):
    """One entry as read from a file, before it touches the database."""

    kind: Kind = Kind.FAQ
    external_id: ExternalId | None = None
    question: Title
    variants: list[Variant] = Field(default=[], max_length=MAX_VARIANTS)
    answer: MarkdownBody
    summary: Annotated[Text, StringConstraints(max_length=500)] = ""
    category: Annotated[SingleLine, StringConstraints(max_length=300)] | None = None
    language: Language
    tags: list[Tag] = Field(default=[], max_length=50)
    visibility: Visibility = Visibility.PUBLIC
    status: ArticleStatus | None = None
    effective_from: Timestamp | None = None
    expires_at: Timestamp | None = None


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False


class _Notices:
    """Notices grouped by (field, message): one line for 500 rows written ``zh``, with the first rows listed."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, row: int, field: str, message: str) -> None:
        notice = self._by_key.setdefault((field, message), {"field": field, "message": message, "count": 0, "rows": []})
        notice["count"] += 1
        if len(notice["rows"]) < 20:
            notice["rows"].append(row)

    def as_list(self) -> list[dict[str, Any]]:
        return list(self._by_key.values())


# --- parsing -------------------------------------------------------------------------------------------------


def _split_lines(value: str) -> list[str]:
    """Variants are separated by ``|`` (the assistant's FAQ format) or one per line (our export). A cell with a
    ``|`` is split on it alone, so a variant that wraps onto a second line stays one variant (on one line)."""
    parts = value.split("|") if "|" in value else value.splitlines()
    return [_one_line(v) for v in parts if v.strip()]


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _split_tags(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,，]", value) if v.strip()]


def _from_columns(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in COLUMNS:
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        text = str(value).strip()
        if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
            text = text[1:]  # the export's formula guard
        if text == "":
            continue
        if name == "variants":
            out[name] = _split_lines(text)
        elif name == "tags":
            out[name] = _split_tags(text)
        else:
            out[name] = text
    return out


def parse(fmt: str, content: bytes, limits: Limits = Limits()) -> list[tuple[int, dict[str, Any]]]:
    """Rows as ``(row number, raw values)``; raises InvalidInput when the file itself cannot be read and
    LimitExceeded (413/422) when it is over a limit, before the parser has spent more than the limits allow."""
    if len(content) > limits.max_bytes:
        raise LimitExceeded("max_bytes", limits.max_bytes, f"import files are limited to {limits.max_bytes} bytes")
    if fmt == "csv":
        return _parse_csv(content, limits)
    if fmt == "xlsx":
        return _parse_xlsx(content, limits)
    if fmt == "json":
        return _parse_json(content, limits)
    if fmt == "markdown":
        return _parse_markdown_zip(content, limits)
    raise InvalidInput(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")


_HEADER_ALIASES = {"id": "external_id"}  # the assistant's FAQ format: id,question,variants,answer,language


def _check_header(header: list[str]) -> list[str]:
    names = [_HEADER_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    unknown = [h for h in names if h and h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in names]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise InvalidInput(f"row 1 (header): {'; '.join(parts)}; expected columns: {', '.join(COLUMNS)}")
    return names


def _parse_csv(content: bytes, limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV file is not UTF-8 encoded; save it as UTF-8 and try again") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the file is empty")
        names = _check_header(header[: limits.max_columns])
        out: list[tuple[int, dict[str, Any]]] = []
        for n, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            out.append((n, _from_columns(dict(zip(names, row, strict=False)))))
            _bounded(out, limits)
    except csv.Error as exc:  # e.g. a field over the csv module's own size limit
        raise InvalidInput(f"line {reader.line_num}: {exc}") from exc
    return out


def _broken_workbook() -> tuple[type[BaseException], ...]:
    """What openpyxl raises, besides the archive errors, on a workbook that passed the limits but is still broken
    or forged: a part that is not XML at all (ElementTree's ParseError is a SyntaxError), a relationship that points
    nowhere (KeyError), arithmetic on forged numbers (ArithmeticError), and its own exception classes. Each becomes a
    422 naming the file, never a 500. (openpyxl is imported only when a workbook is read.)"""
    from openpyxl.utils import exceptions as xl

    return (
        *archive.BROKEN_ARCHIVE,
        LookupError,
        SyntaxError,
        ArithmeticError,
        xl.CellCoordinatesException,
        xl.IllegalCharacterError,
        xl.InvalidFileException,
        xl.NamedRangeException,
        xl.SheetTitleException,
    )


def _parse_xlsx(content: bytes, limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    broken = _broken_workbook()

    # Every member inflated under the caps, every XML part through expat without DTDs, rows, cells, columns and
    # texts counted: only then does openpyxl parse, and it is asked for no more rows or columns than were counted
    # (a sheet's own <dimension> could otherwise make it pad a million empty rows).
    stats = archive.scan_workbook(content, limits)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except broken as exc:
        raise InvalidInput("the file is not a readable XLSX workbook") from exc
    try:
        if not book.worksheets:
            raise InvalidInput("the workbook has no sheet")
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(
            values_only=True, max_row=max(stats.max_row, 1), max_col=max(min(stats.max_column, limits.max_columns), 1)
        )
        header = next(rows, None)
        if header is None:
            raise InvalidInput("the workbook's first sheet is empty")
        names = _check_header(["" if h is None else str(h) for h in header])
        out: list[tuple[int, dict[str, Any]]] = []
        for n, row in enumerate(rows, start=2):
            if not any(c is not None and str(c).strip() for c in row):
                continue
            out.append((n, _from_columns(dict(zip(names, row, strict=False)))))
            _bounded(out, limits)
    except broken as exc:
        raise InvalidInput("the workbook cannot be read (damaged or forged file)") from exc
    finally:
        book.close()
    return out


def _parse_json(content: bytes, limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the file is not valid UTF-8 JSON: {exc}") from exc
    entries = data.get("entries") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InvalidInput('expected a list of entries or {"entries": [...]}')
    out: list[tuple[int, dict[str, Any]]] = []
    for n, item in enumerate(entries, start=1):
        out.append((n, item if isinstance(item, dict) else {"_invalid": item}))
    return _bounded(out, limits)


_FRONT = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n?(.*)\Z", re.S)


def _parse_markdown_zip(content: bytes, limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    try:
        zipped = archive.open_archive(content, limits, what="zip of Markdown files")
    except InvalidInput as exc:
        raise InvalidInput(f"a Markdown import is a .zip of .md files; {exc.detail}") from exc
    members = sorted(
        (i for i in zipped.infolist() if i.filename.endswith(".md") and not i.is_dir()), key=lambda i: i.filename
    )
    if len(members) > limits.max_rows:
        raise LimitExceeded(
            "max_rows", limits.max_rows, f"at most {limits.max_rows} entries per file; split the file", status=422
        )
    budget = archive.Budget(limits.max_uncompressed_bytes)
    out: list[tuple[int, dict[str, Any]]] = []
    for n, info in enumerate(members, start=1):
        name = info.filename
        try:
            text = archive.read_member(zipped, info, limits, budget).decode("utf-8-sig")
        except UnicodeDecodeError:
            out.append((n, {"_invalid": f"{name} is not UTF-8"}))
            continue
        match = _FRONT.match(text)
        if not match:
            out.append((n, {"_invalid": f"{name} has no front matter (--- key: value lines ---)"}))
            continue
        meta: dict[str, Any] = {"_file": name}
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key in ("variants", "tags"):
                try:
                    parsed = json.loads(value) if value.startswith("[") else _split_tags(value)
                except json.JSONDecodeError:
                    parsed = value
                meta[key] = parsed
            elif key == "title":
                meta["question"] = value
            elif value:
                meta[key] = value
        meta["answer"] = match.group(2).strip("\n")
        out.append((n, meta))
    return out


def with_status(content: bytes, status: str) -> bytes:
    """A CSV with ``status`` set on every row when the file has no status column (the assistant answers only
    published FAQ, and FAQ files from other systems have no such column)."""
    try:
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        return content  # the import reports what is wrong with the file
    if not rows or "status" in [h.strip().lower() for h in rows[0]]:
        return content
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*rows[0], "status"])
    for row in rows[1:]:
        writer.writerow([*row, status] if any(cell.strip() for cell in row) else row)
    return out.getvalue().encode("utf-8")


def _bounded(rows: list[tuple[int, dict[str, Any]]], limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    if len(rows) > limits.max_rows:
        raise LimitExceeded(
            "max_rows", limits.max_rows, f"at most {limits.max_rows} entries per file; split the file", status=422
        )
    return rows


_PRINTABLE_ID = re.compile(r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$")
_ID_CHARS = 100  # kb_articles.external_id
_TITLE_CHARS = 300  # kb_articles.title
_variants_adapter: TypeAdapter[list[str]] = TypeAdapter(list[Variant])


def stored_id(value: str) -> str:
    """The id kept for ``value``: itself when it is printable and fits, else a readable prefix plus a hash of the
    whole (stable: importing the same file again finds the same entries)."""
    if len(value) <= _ID_CHARS and _PRINTABLE_ID.match(value):
        return value
    readable = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())
    if readable and len(readable) <= _ID_CHARS:
        return readable
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    return f"{readable[: _ID_CHARS - 13].rstrip()}~{digest}" if readable else f"id~{digest}"


def _read_leniently(n: int, data: dict[str, Any], notices: _Notices) -> dict[str, Any] | str:
    """Normalise what other systems write differently; returns the data, or an error message for the language."""
    language = data.get("language")
    if isinstance(language, str):
        tag = language_tag(language)
        if tag is None:
            return f"unknown language '{language[:40]}': use zh-CN or en (zh, zh-Hans, en-US … are read as these)"
        if tag != language:
            notices.add(n, "language", f"'{language[:40]}' read as {tag}")
        data["language"] = tag
    external_id = data.get("external_id")
    if isinstance(external_id, int | float) and not isinstance(external_id, bool):
        external_id = data["external_id"] = str(external_id)
    if isinstance(external_id, str):
        kept = stored_id(external_id)
        if kept != external_id:
            notices.add(n, "external_id", f"id '{external_id[:60]}' stored as '{kept}'")
        data["external_id"] = kept
    variants = data.get("variants")
    if isinstance(variants, str):
        data["variants"] = variants = _split_lines(variants)
    question = data.get("question")
    if isinstance(question, str):
        line = question.strip()
        if "\n" in line or "\r" in line:
            line = _one_line(line)
            notices.add(n, "question", "a question on several lines was joined into one line")
        if len(line) > _TITLE_CHARS:
            notices.add(
                n, "question", f"a question over {_TITLE_CHARS} characters is shortened as the title; "
                "its whole text is kept as the first variant",
            )  # fmt: skip
            data["variants"] = [line, *(variants if isinstance(variants, list) else [])]
            line = line[: _TITLE_CHARS - 1].rstrip() + "…"
        data["question"] = line
    return data


def validate(
    rows: list[tuple[int, dict[str, Any]]],
) -> tuple[list[tuple[int, ImportEntry]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Typed entries, precise errors (row, field, message) and notices (what was read differently); pure.

    A row with the id and language of an earlier entry and no answer adds its variants to that entry (files with
    one phrasing per row); any other repeated id is an error.
    """
    good: list[tuple[int, ImportEntry]] = []
    errors: list[dict[str, Any]] = []
    notices = _Notices()
    seen: dict[tuple[str, str], int] = {}  # (language, id) → index in ``good``
    seen_row: dict[tuple[str, str], int] = {}
    for n, raw in rows:
        if "_invalid" in raw:
            errors.append({"row": n, "field": "", "message": str(raw["_invalid"])[:300]})
            continue
        data = {k: v for k, v in raw.items() if not k.startswith("_")}
        if "title" in data and "question" not in data:
            data["question"] = data.pop("title")
        if "body" in data and "answer" not in data:
            data["answer"] = data.pop("body")
        read = _read_leniently(n, data, notices)
        if isinstance(read, str):
            errors.append({"row": n, "field": "language", "message": read})
            continue
        key = (str(data.get("language")), str(data.get("external_id"))) if data.get("external_id") else None
        if key is not None and key in seen and not data.get("answer"):
            index = seen[key]
            first_row, entry = good[index]
            if data.get("question") not in (None, entry.question):
                errors.append({"row": n, "field": "question",
                               "message": f"row {first_row} has this id with another question"})  # fmt: skip
                continue
            try:
                more = _variants_adapter.validate_python(list(data.get("variants") or []))
            except ValidationError as exc:
                for err in exc.errors():
                    errors.append({"row": n, "field": ".".join(["variants", *map(str, err["loc"])]),
                                   "message": err["msg"]})  # fmt: skip
                continue
            merged = list(dict.fromkeys([*entry.variants, *more]))
            if len(merged) > MAX_VARIANTS:
                errors.append({"row": n, "field": "variants",
                               "message": f"more than {MAX_VARIANTS} variants for id {key[1]}"})  # fmt: skip
                continue
            good[index] = (first_row, entry.model_copy(update={"variants": merged}))
            _note_long_variants(n, more, notices)
            continue
        try:
            entry = ImportEntry.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "row"
                errors.append({"row": n, "field": loc, "message": error_message(err)})
            continue
        if entry.effective_from and entry.expires_at and entry.expires_at <= entry.effective_from:
            errors.append({"row": n, "field": "expires_at", "message": "must be after effective_from"})
            continue
        if not entry.answer.strip():
            errors.append({"row": n, "field": "answer", "message": "must not be empty"})
            continue
        if entry.visibility == Visibility.RESTRICTED:
            errors.append({"row": n, "field": "visibility", "message": "restricted entries cannot be imported "
                           "(teams are not part of the file); use internal"})  # fmt: skip
            continue
        key = (entry.language, entry.external_id or _derived_id(entry))
        if key in seen_row:
            errors.append(
                {"row": n, "field": "external_id", "message": f"duplicate of row {seen_row[key]} ({key[1]}, {key[0]})"}
            )
            continue
        seen_row[key] = n
        if entry.external_id:
            seen[key] = len(good)
        good.append((n, entry))
        _note_long_variants(n, entry.variants, notices)
    return good, errors, notices.as_list()


def _note_long_variants(n: int, variants: list[str], notices: _Notices) -> None:
    if any(len(v) > ASSISTANT_MATCH_CHARS for v in variants):
        notices.add(
            n, "variants", f"variants over {ASSISTANT_MATCH_CHARS} characters are kept whole; the assistant "
            f"matches on their first {ASSISTANT_MATCH_CHARS}",
        )  # fmt: skip


def _derived_id(entry: ImportEntry) -> str:
    digest = hashlib.sha256(" ".join(entry.question.lower().split()).encode()).hexdigest()[:12]
    return f"{entry.kind.value}-{digest}"


# --- importing -----------------------------------------------------------------------------------------------


def import_entries(
    session: Session,
    actor: Actor,
    fmt: str,
    content: bytes,
    *,
    all_or_nothing: bool = False,
    limits: Limits = Limits(),
) -> Report:
    """Import in the caller's transaction: the good rows, the bad ones reported (all or nothing if asked)."""
    entries, report = prepare(actor, fmt, content, all_or_nothing=all_or_nothing, limits=limits)
    apply(session, actor, entries, report)
    report.skipped = len({e["row"] for e in report.errors})
    if report.errors and all_or_nothing:
        raise InvalidInput(
            f"{len(report.errors)} row(s) could not be applied; nothing was imported", errors=report.errors
        )
    return report


def prepare(
    actor: Actor, fmt: str, content: bytes, *, all_or_nothing: bool, limits: Limits
) -> tuple[list[tuple[int, ImportEntry]], Report]:
    """Parse and validate (pure): the entries to apply and a report holding the bad rows, or the refusal."""
    actor.require(Perm.KNOWLEDGE_WRITE)
    entries, errors, notices = validate(parse(fmt, content, limits))
    if any(e.status in (ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED) for _, e in entries):
        actor.require(Perm.KNOWLEDGE_PUBLISH)
    if errors and all_or_nothing:
        raise InvalidInput(
            f"{len(errors)} bad row(s); nothing was imported. Fix them, or import without all-or-nothing to "
            "import the good rows",
            errors=errors,
        )
    if errors and not entries:
        raise InvalidInput(f"{len(errors)} bad row(s) and no good one; nothing was imported", errors=errors)
    return entries, Report(errors=list(errors), notices=notices)


def preview(session: Session, actor: Actor, fmt: str, content: bytes, *, limits: Limits = Limits()) -> Report:
    """What :func:`import_entries` would do with this file (created / updated / unchanged per entry, the bad rows
    and the notices), reading the database only. Never raises for bad rows: previewing them is the point."""
    actor.require(Perm.KNOWLEDGE_WRITE)
    entries, errors, notices = validate(parse(fmt, content, limits))
    report = Report(errors=list(errors), notices=notices, dry_run=True)
    cats = _Categories(session, actor)
    may_publish = actor.can(Perm.KNOWLEDGE_PUBLISH)
    for n, entry in entries:
        external_id = entry.external_id or _derived_id(entry)
        publishes = entry.status in (ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED)
        existing = session.scalar(
            select(KbArticle).where(KbArticle.language == entry.language, KbArticle.external_id == external_id)
        )
        if existing is None:
            outcome = "created"
        else:
            values = _values(entry, cats.find(entry.category))
            changed = not _same(existing, values)
            status_changed = entry.status is not None and entry.status.value != existing.status
            outcome = "updated" if changed or status_changed else "unchanged"
            publishes = publishes or (changed and existing.status == ArticleStatus.PUBLISHED.value)
        if publishes and not may_publish and outcome != "unchanged":
            report.errors.append(
                {"row": n, "field": "status", "message": "publishing needs the knowledge manager role"}
            )
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    report.errors.sort(key=lambda e: e["row"])
    report.skipped = len({e["row"] for e in report.errors})
    return report


def apply(session: Session, actor: Actor, entries: list[tuple[int, ImportEntry]], report: Report) -> None:
    """Write ``entries`` in the caller's transaction, each in a savepoint; failures go to ``report.errors``."""
    cats = _Categories(session, actor)
    for n, entry in entries:
        try:
            with session.begin_nested():
                outcome = _import_one(session, actor, entry, cats)
        except DomainError as exc:
            report.errors.append({"row": n, "field": "", "message": exc.detail})
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)


class _Categories:
    """Resolves a category by slug or by name in any language, creating it (once) when unknown."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.by_key: dict[str, KbCategory] = {}
        for c in queries.categories(session):
            self.by_key[c.slug] = c
            for name in c.names.values():
                self.by_key.setdefault(str(name).lower(), c)

    def find(self, label: str | None) -> uuid.UUID | None:
        """The existing category's id, without creating one (a preview)."""
        found = (self.by_key.get(label) or self.by_key.get(label.lower())) if label else None
        return found.id if found is not None else None

    def resolve(self, label: str | None, language: str) -> uuid.UUID | None:
        if not label:
            return None
        found = self.by_key.get(label) or self.by_key.get(label.lower())
        if found is None:
            slug = _slugify(label)
            found = self.by_key.get(slug) or actions.create_category(
                self.session, self.actor, CategoryCreate(slug=slug, names={language: label[:300]})
            )
            self.by_key[label.lower()] = found
            self.by_key[slug] = found
        return found.id


def _slugify(label: str) -> str:
    ascii_part = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    if len(ascii_part) >= 2 and ascii_part == label.lower().replace(" ", "-"):
        return ascii_part[:63]
    return ("c-" + hashlib.sha256(label.encode()).hexdigest()[:10])[:63]


def _values(entry: ImportEntry, category_id: uuid.UUID | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": entry.question,
        "variants": list(dict.fromkeys(entry.variants)),
        "body": entry.answer,
        "tags": list(dict.fromkeys(entry.tags)),
        "category_id": category_id,
        "visibility": entry.visibility.value,
        "effective_from": entry.effective_from,
        "expires_at": entry.expires_at,
    }
    if entry.summary:
        values["summary"] = entry.summary
    return values


def _import_one(session: Session, actor: Actor, entry: ImportEntry, cats: _Categories) -> str:
    external_id = entry.external_id or _derived_id(entry)
    values = _values(entry, cats.resolve(entry.category, entry.language))
    existing = session.scalar(
        select(KbArticle).where(KbArticle.language == entry.language, KbArticle.external_id == external_id)
    )
    if existing is None:
        article = KbArticle(
            tenant_id=actor.tenant_id,
            kind=entry.kind.value,
            external_id=external_id,
            language=entry.language,
            translation_group=_group_for(session, actor.tenant_id, external_id),
            status=ArticleStatus.DRAFT.value,
            current_version=0,
            created_by=actor.id,
            title=entry.question,
        )
        session.add(article)
        session.flush()
        actions.apply_content(session, actor, article, values, note="import", action="knowledge.article_import")
        if entry.status and entry.status != ArticleStatus.DRAFT:
            actions.change_status(session, actor, article.id, entry.status, note="import")
        return "created"
    before = existing.current_version
    if existing.status == ArticleStatus.PUBLISHED.value and not _same(existing, values):
        actor.require(Perm.KNOWLEDGE_PUBLISH)
    actions.apply_content(session, actor, existing, values, note="import", action="knowledge.article_import")
    status_changed = entry.status is not None and entry.status.value != existing.status
    if status_changed and entry.status is not None:
        actions.change_status(session, actor, existing.id, entry.status, note="import")
    return "updated" if status_changed or existing.current_version != before else "unchanged"


def _same(article: KbArticle, values: dict[str, Any]) -> bool:
    return all(getattr(article, k) == v for k, v in values.items())


def _group_for(session: Session, tenant_id: uuid.UUID, external_id: str) -> uuid.UUID:
    """Entries sharing an external id across languages are translations of each other."""
    sibling = session.scalar(select(KbArticle.translation_group).where(KbArticle.external_id == external_id).limit(1))
    return sibling or uuid.uuid5(_GROUP_NS, f"{tenant_id}:{external_id}")


# --- exporting -----------------------------------------------------------------------------------------------


def export_rows(session: Session, actor: Actor, kind: str | None) -> list[dict[str, Any]]:
    actor.require(Perm.KNOWLEDGE_WRITE)
    stmt = select(KbArticle)
    if kind:
        stmt = stmt.where(KbArticle.kind == kind)
    stmt = stmt.where(KbArticle.visibility != Visibility.RESTRICTED.value)
    slugs = {c.id: c.slug for c in queries.categories(session)}
    rows = []
    for a in session.scalars(stmt.order_by(KbArticle.language, KbArticle.external_id)):
        rows.append(
            {
                "kind": a.kind,
                "external_id": a.external_id,
                "question": a.title,
                "variants": list(a.variants or []),
                "answer": a.body,
                "summary": a.summary,
                "category": slugs.get(a.category_id) if a.category_id else None,
                "language": a.language,
                "tags": list(a.tags or []),
                "visibility": a.visibility,
                "status": a.status,
                "effective_from": a.effective_from.isoformat() if a.effective_from else None,
                "expires_at": a.expires_at.isoformat() if a.expires_at else None,
            }
        )
    return rows


def _cells(row: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name in COLUMNS:
        value = row.get(name)
        if name == "variants":
            out.append("\n".join(value or []))
        elif name == "tags":
            out.append(", ".join(value or []))
        else:
            out.append("" if value is None else str(value))
    return out


def render_export(fmt: str, rows: list[dict[str, Any]]) -> tuple[bytes, str, str]:
    """``(content, media type, file extension)``."""
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_csv_safe(c) for c in _cells(row)])
        return buf.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", "csv"
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        book = Workbook(write_only=True)
        sheet = book.create_sheet("faq")
        sheet.append(list(COLUMNS))
        for row in rows:
            # XLSX cannot hold C0 control characters; they are dropped (CSV and JSON exports keep them).
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("", _csv_safe(c)) for c in _cells(row)])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    if fmt == "json":
        body = json.dumps({"entries": rows}, ensure_ascii=False, indent=2)
        return body.encode(), "application/json", "json"
    if fmt == "markdown":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
            for row in rows:
                folder = f"{row['language']}/{row['category'] or 'uncategorized'}"
                zipped.writestr(f"{folder}/{_safe_name(row['external_id'])}.md", _markdown_file(row))
        return out.getvalue(), "application/zip", "zip"
    raise InvalidInput(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")


def _csv_safe(cell: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ is read as text by Excel.

    The import strips the guard again, so a round trip is exact.
    """
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def _safe_name(external_id: str) -> str:
    """A file name for the id; ids that differ only in characters a file name cannot hold ("a?b", "a/b") get
    different names (the id itself is read back from the front matter)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", external_id)
    if safe == external_id:
        return safe
    return f"{safe[:80]}-{hashlib.sha256(external_id.encode()).hexdigest()[:10]}"


def _markdown_file(row: dict[str, Any]) -> str:
    meta = {
        "kind": row["kind"],
        "external_id": row["external_id"],
        "language": row["language"],
        "title": row["question"],
        "variants": json.dumps(row["variants"], ensure_ascii=False),
        "tags": json.dumps(row["tags"], ensure_ascii=False),
        "category": row["category"] or "",
        "visibility": row["visibility"],
        "status": row["status"],
        "summary": row["summary"],
        "effective_from": row["effective_from"] or "",
        "expires_at": row["expires_at"] or "",
    }
    head = "\n".join(f"{k}: {' '.join(str(v).split())}" for k, v in meta.items())
    return f"---\n{head}\n---\n{row['answer']}\n"
