"""Shared schema bases: inputs refuse unknown fields; outputs read from ORM objects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Interval
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

T = TypeVar("T")


class Input(BaseModel):
    """Request bodies: unknown fields are an error, strings are stripped, NUL characters are refused (PostgreSQL
    cannot store them and no person types them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return value


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="pass as ?cursor= to get the next page")


# No C0 or C1 control character (CR, LF, tab, ESC, NEL, ...) nor the Unicode line and paragraph separators.
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
TAG = r"^[^\s,\x00-\x1f\x7f-\x9f\u2028\u2029]+$"

SingleLine = Annotated[str, StringConstraints(pattern=ONE_LINE)]
"""A one-line text: subjects, names, titles, labels. CR/LF in these ends up in e-mail headers, CSV and log lines,
list views and notification subjects; other control characters only hide text. Refused at the edge with a 422
naming the field (surrounding whitespace is stripped first by :class:`Input`). Bound the length as usual:
``Annotated[SingleLine, StringConstraints(max_length=300)]``; a field that needs its own ``pattern`` must fold this
one into it (a second pattern replaces the first), as :data:`Tag` does. Multi-line texts (bodies, notes,
descriptions) stay ``str``. The check is a pattern so that the OpenAPI description shows it."""

PATTERN_MESSAGES = {
    ONE_LINE: "must be a single line: line breaks, tabs and other control characters are not allowed",
    TAG: "must be one word: no spaces, commas, line breaks or other control characters",
}
"""What a person reads instead of the regular expression when one of these patterns refuses a value."""


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message for a person: never a regular expression of :data:`PATTERN_MESSAGES`."""
    if error.get("type") == "string_pattern_mismatch":
        friendly = PATTERN_MESSAGES.get(str((error.get("ctx") or {}).get("pattern", "")))
        if friendly:
            return friendly
    return str(error.get("msg", "invalid"))


Name = Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=TAG)]
Slug = Annotated[str, StringConstraints(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")]
Email = Annotated[
    str,
    StringConstraints(
        max_length=254,
        pattern=r"^[^@\s<>\"',;\x00-\x1f\x7f]+@[^@\s<>\"',;\x00-\x1f\x7f]+\.[^@\s<>\"',;\x00-\x1f\x7f]+$",
        to_lower=True,
    ),
]
Language = Annotated[str, StringConstraints(pattern=r"^(zh-CN|en)$")]

INT32_MAX = 2_147_483_647
Int32 = Annotated[int, Interval(ge=-INT32_MAX - 1, le=INT32_MAX)]
"""Every integer a client sends (path, query, form or body: versions, sequence numbers, offsets) fits the 32-bit
columns it is compared with. Without the bound, ``?to=99999999999999999999`` reached the driver, which cannot bind
it (500); now it is a 422 naming the parameter. Narrow it further where needed: ``Annotated[Int32, Query(ge=1)]``."""


def _reasonable(value: datetime) -> datetime:
    if not datetime(1971, 1, 1, tzinfo=UTC) <= value <= datetime(2200, 1, 1, tzinfo=UTC):
        raise ValueError("must be between 1971 and 2200")
    return value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, AfterValidator(_reasonable)]
"""A time with an explicit zone (e.g. ``2027-01-01T09:00:00+08:00``), stored in UTC."""
