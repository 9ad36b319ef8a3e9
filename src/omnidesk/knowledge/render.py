"""Markdown to safe HTML, and to plain text for search, snippets and the assistant.

Markdown is parsed by markdown-it-py with raw HTML disabled; its output is then cleaned by nh3 (the Ammonia
sanitiser) against an allow-list, so neither raw HTML nor a ``javascript:`` link nor an ``onerror`` attribute can
reach a page even if the parser let one through. Images may come from https URLs or this server.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "td": {"align"}, "th": {"align"}}
_SCHEMES = {"http", "https", "mailto", "tel"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def to_html(markdown: str) -> str:
    """Sanitised HTML for a page; safe to mark as safe in a template."""
    raw = _parser().render(markdown)
    return nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


def to_text(markdown: str) -> str:
    """Plain text (no markup, entities decoded, whitespace collapsed) for indexing, snippets and bot answers."""
    stripped = _TAG_RE.sub(" ", to_html(markdown))
    return _SPACE_RE.sub(" ", html.unescape(stripped)).strip()
