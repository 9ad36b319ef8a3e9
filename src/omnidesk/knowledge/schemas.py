"""Request and response shapes of the knowledge API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from omnidesk.core.schemas import Input, Int32, Language, Output, SingleLine, Slug, Tag, Timestamp
from omnidesk.knowledge.states import ArticleStatus, Kind, Visibility


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL; refuse it at the edge instead of failing in the database."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Title = Annotated[SingleLine, StringConstraints(min_length=1, max_length=300)]
MAX_VARIANTS = 5_000
"""Phrasings per FAQ entry: real FAQs carry 100–200, other products accept 2,000 training phrases per intent."""
ASSISTANT_MATCH_CHARS = 300
"""The assistant matches a question or variant on its first this many characters; the whole text is kept."""
Variant = Annotated[SingleLine, StringConstraints(min_length=1, max_length=2_000)]
MarkdownBody = Annotated[Text, StringConstraints(max_length=100_000)]
Note = Annotated[Text, StringConstraints(max_length=500)]
# any printable text without surrounding spaces: ids come from other systems ("faq?id=12", "常见问题-3")
ExternalId = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, pattern=r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
    ),
]
LocalisedText = dict[Language, Annotated[Text, StringConstraints(max_length=300)]]
LocalisedName = dict[Language, Annotated[SingleLine, StringConstraints(max_length=300)]]


class CategoryCreate(Input):
    slug: Slug
    names: LocalisedName = Field(min_length=1, description='e.g. {"zh-CN": "退换货", "en": "Returns"}')
    descriptions: LocalisedText = Field(default_factory=dict)
    position: int = Field(default=0, ge=0, le=10_000)


class CategoryUpdate(Input):
    names: LocalisedName | None = None
    descriptions: LocalisedText | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class CategoryOut(Output):
    id: uuid.UUID
    slug: str
    names: dict[str, str]
    descriptions: dict[str, str]
    position: int


class _Dates(Input):
    @model_validator(mode="after")
    def _ordered(self) -> Any:
        start = getattr(self, "effective_from", None)
        end = getattr(self, "expires_at", None)
        if start is not None and end is not None and end <= start:
            raise ValueError("expires_at must be after effective_from")
        return self


class ArticleCreate(_Dates):
    kind: Kind = Kind.ARTICLE
    language: Language
    title: Title = Field(description="the article title, or the FAQ question")
    variants: list[Variant] = Field(
        default=[], max_length=MAX_VARIANTS, description="other phrasings of an FAQ question"
    )
    body: MarkdownBody = Field(default="", description="Markdown; raw HTML is not rendered")
    summary: Note = ""
    category_id: uuid.UUID | None = None
    tags: list[Tag] = Field(default=[], max_length=50)
    visibility: Visibility = Visibility.PUBLIC
    team_ids: list[uuid.UUID] = Field(default=[], max_length=50, description="teams that may read a restricted one")
    effective_from: Timestamp | None = None
    expires_at: Timestamp | None = None
    external_id: ExternalId | None = Field(default=None, description="your stable key; imports match on it")
    translation_of: uuid.UUID | None = Field(default=None, description="an article this one translates")


class ArticleUpdate(_Dates):
    title: Title | None = None
    variants: list[Variant] | None = Field(default=None, max_length=MAX_VARIANTS)
    body: MarkdownBody | None = None
    summary: Note | None = None
    category_id: uuid.UUID | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    visibility: Visibility | None = None
    team_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    effective_from: Timestamp | None = None
    expires_at: Timestamp | None = None
    note: Note = Field(default="", description="why; kept with the version")
    version: Int32 | None = Field(
        default=None, ge=1, description="if given, the update fails with 409 unless it matches"
    )


class StatusChange(Input):
    status: ArticleStatus
    note: Note = ""


class Rollback(Input):
    to_version: Int32 = Field(ge=1)


class SuggestionCreate(Input):
    title: Title | None = None
    variants: list[Variant] | None = Field(default=None, max_length=MAX_VARIANTS)
    body: MarkdownBody | None = None
    note: Annotated[Text, StringConstraints(max_length=1000)] = ""


class SuggestionDecision(Input):
    accept: bool


class ArticleOut(Output):
    id: uuid.UUID
    kind: str
    external_id: str
    language: str
    translation_group: uuid.UUID
    category_id: uuid.UUID | None
    title: str
    variants: list[str]
    body: str
    summary: str
    tags: list[str]
    status: str
    visibility: str
    team_ids: list[str]
    effective_from: datetime | None
    expires_at: datetime | None
    current_version: int
    published_at: datetime | None
    published_by: uuid.UUID | None
    helpful_yes: int
    helpful_no: int
    version: int
    created_at: datetime
    updated_at: datetime


class VersionOut(Output):
    number: int
    snapshot: dict[str, Any]
    note: str
    created_by: uuid.UUID | None
    created_at: datetime


class DiffOut(Output):
    from_version: int
    to_version: int
    fields: dict[str, str] = Field(description="unified diff per changed field")


class SuggestionOut(Output):
    id: uuid.UUID
    article_id: uuid.UUID
    changes: dict[str, Any]
    note: str
    status: str
    created_by: uuid.UUID | None
    decided_by: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None


class SearchHitOut(Output):
    id: uuid.UUID
    kind: str
    title: str
    title_html: str = Field(description="escaped title with <mark> around matches")
    snippet_html: str = Field(description="escaped excerpt with <mark> around matches")
    language: str
    category_id: uuid.UUID | None
    url: str
    score: float


class SuggestOut(SearchHitOut):
    answer_markdown: str
    answer_text: str = Field(description="plain text, ready to insert into a reply")


class FeedbackIn(Input):
    helpful: bool


class ImportError_(Output):
    row: int = Field(description="1-based row (CSV/XLSX: the header is row 1), entry or file number")
    field: str
    message: str


class ImportNotice(Output):
    """Something the import read differently from how the file wrote it, on every row listed (nothing is lost)."""

    field: str
    message: str
    count: int = Field(description="how many rows")
    rows: list[int] = Field(description="the first rows concerned (at most 20)")


class ImportReport(Output):
    """What an import did, or with ``dry_run`` what it would do: nothing is written by a dry run."""

    created: int
    updated: int
    unchanged: int
    skipped: int = Field(description="bad rows left out (listed in errors)")
    errors: list[ImportError_]
    notices: list[ImportNotice] = Field(default_factory=list)
    dry_run: bool = False


class ImportJobOut(Output):
    """A background import: ``rows_done`` of ``rows_total`` (known once the file is parsed), the counts so far,
    and, when it ``failed``, why (``error``, ``errors`` per row)."""

    id: uuid.UUID
    state: str = Field(description="queued, running, done or failed")
    format: str
    filename: str
    size: int
    rows_total: int
    rows_done: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[ImportError_]
    error: str
    status_url: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AnalyticsOut(Output):
    since: datetime
    views: int
    searches: int
    searches_without_result: int
    helpful_yes: int
    helpful_no: int
    helpful_rate: float | None
    sessions: int
    sessions_contacted: int
    deflection_rate: float | None = Field(description="share of help-center sessions that never opened a conversation")
    top_articles: list[dict[str, Any]]
    top_failed_searches: list[dict[str, Any]]


class KnowledgeStateOut(Output):
    version: int
    valid_until: datetime | None
