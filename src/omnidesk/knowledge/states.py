"""The publishing workflow of an article: draft → in review → published → archived, and the ways back."""

from __future__ import annotations

from enum import StrEnum

from omnidesk.core.errors import Conflict


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"


class Kind(StrEnum):
    ARTICLE = "article"
    FAQ = "faq"


_ALLOWED: dict[ArticleStatus, frozenset[ArticleStatus]] = {
    ArticleStatus.DRAFT: frozenset({ArticleStatus.IN_REVIEW, ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED}),
    ArticleStatus.IN_REVIEW: frozenset({ArticleStatus.DRAFT, ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED}),
    ArticleStatus.PUBLISHED: frozenset({ArticleStatus.DRAFT, ArticleStatus.ARCHIVED}),
    ArticleStatus.ARCHIVED: frozenset({ArticleStatus.DRAFT, ArticleStatus.PUBLISHED}),
}

# Moves that change what customers and the assistant see need the publish permission.
PUBLISHING = frozenset({ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED})


def check_transition(current: ArticleStatus, target: ArticleStatus) -> None:
    if target == current:
        return
    if target not in _ALLOWED[current]:
        raise Conflict(f"an article that is '{current}' cannot become '{target}'")
