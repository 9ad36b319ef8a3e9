"""An in-memory BM25 index over knowledge entries: field weights, typo tolerance, prefixes, highlighted snippets.

Pure: built from :class:`IndexDoc` values, no database. Fields are weighted by repeating their terms (title and
question variants count more than the body), then scored with Okapi BM25 (k1=1.2, b=0.75). A Latin query term
unknown to the index matches vocabulary words one edit away (SymSpell-style deletion neighbourhoods, built
lazily) at a discount; the last term of an as-you-type query also matches as a prefix. CJK terms are matched
exactly: bigrams already give partial matching, and "typos" in Chinese are usually different characters.
"""

from __future__ import annotations

import html
import math
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from omnidesk.knowledge.tokenize import is_cjk, normalise, query_terms, tokens

K1 = 1.2
B = 0.75
WEIGHTS = {"title": 3, "variants": 2, "tags": 2, "body": 1}
FUZZY_DISCOUNT = 0.6
PREFIX_DISCOUNT = 0.8
SNIPPET_CHARS = 140
SHORTLIST = 256  # ranked first; the full candidate set is sorted only if filters leave too few


@dataclass(frozen=True)
class IndexDoc:
    id: uuid.UUID
    title: str
    variants: tuple[str, ...]
    tags: tuple[str, ...]
    text: str
    language: str
    category_id: uuid.UUID | None
    visibility: str
    team_ids: frozenset[str] = frozenset()
    kind: str = "article"
    starts: datetime | None = None
    ends: datetime | None = None

    def live_at(self, now: datetime) -> bool:
        return (self.starts is None or self.starts <= now) and (self.ends is None or self.ends > now)


@dataclass(frozen=True)
class Hit:
    doc: IndexDoc
    score: float
    title_html: str
    snippet_html: str


@dataclass
class SearchIndex:
    """Posting lists as numpy arrays (document numbers, weighted term frequencies), scored vectorised per term."""

    docs: list[IndexDoc] = field(default_factory=list)
    postings: dict[str, tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]] = field(default_factory=dict)
    norms: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    _deletes: dict[str, set[str]] | None = None
    _sorted_vocab: list[str] | None = None

    @classmethod
    def build(cls, docs: Iterable[IndexDoc], counted: dict[IndexDoc, dict[str, int]] | None = None) -> SearchIndex:
        """Index ``docs``. ``counted`` maps documents to their weighted term counts from an earlier build; it is
        reused for documents that did not change (tokenising is most of the cost) and updated in place."""
        index = cls()
        acc: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        lengths: list[int] = []
        for doc in docs:
            n = len(index.docs)
            index.docs.append(doc)
            counts = counted.get(doc) if counted is not None else None
            if counts is None:
                counts = term_counts(doc)
                if counted is not None:
                    counted[doc] = counts
            for term, tf in counts.items():
                numbers, freqs = acc[term]
                numbers.append(n)
                freqs.append(tf)
            lengths.append(sum(counts.values()))
        index.postings = {
            term: (np.array(numbers, dtype=np.int32), np.array(freqs, dtype=np.float32))
            for term, (numbers, freqs) in acc.items()
        }
        length = np.array(lengths, dtype=np.float32)
        avg = float(length.mean()) if len(lengths) else 1.0
        index.norms = (K1 * (1 - B + B * length / max(avg, 1.0))).astype(np.float32)
        return index

    def __len__(self) -> int:
        return len(self.docs)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        language: str | None = None,
        category_id: uuid.UUID | None = None,
        allow: Visibility | None = None,
        prefix: bool = False,
        exclude: uuid.UUID | None = None,
        now: datetime | None = None,
    ) -> list[Hit]:
        """Best matches first. ``allow`` filters what the reader may see; ``prefix`` is for as-you-type input.

        Entries outside their effective period at ``now`` are skipped, so even an index built a moment before an
        expiry never offers the expired entry.
        """
        now = now or datetime.now(UTC)
        terms = query_terms(query)
        if not terms or not self.docs:
            return []
        expanded = self._expand(terms, prefix=prefix)
        n = len(self.docs)
        scores = np.zeros(n, dtype=np.float32)
        for term, factor in expanded.items():
            posting = self.postings.get(term)
            if posting is None:
                continue
            numbers, freqs = posting
            idf = math.log(1 + (n - len(numbers) + 0.5) / (len(numbers) + 0.5))
            scores[numbers] += factor * idf * freqs * (K1 + 1) / (freqs + self.norms[numbers])
        marks = [t for t in expanded if t in self.postings]
        candidates = np.flatnonzero(scores)
        shortlist = _best(candidates, scores, SHORTLIST) if len(candidates) > SHORTLIST else None
        for pool in (shortlist, candidates):
            if pool is None:
                continue
            ordered = pool[np.argsort(-scores[pool], kind="stable")]
            hits = self._filter(ordered, scores, marks, limit, language, category_id, allow, exclude, now)
            if len(hits) >= limit or pool is candidates:
                return hits
        return []

    def _filter(
        self,
        ordered: npt.NDArray[np.intp],
        scores: npt.NDArray[np.float32],
        marks: list[str],
        limit: int,
        language: str | None,
        category_id: uuid.UUID | None,
        allow: Visibility | None,
        exclude: uuid.UUID | None,
        now: datetime,
    ) -> list[Hit]:
        hits: list[Hit] = []
        for i in ordered.tolist():
            doc = self.docs[i]
            if not doc.live_at(now):
                continue
            if language and doc.language != language:
                continue
            if category_id and doc.category_id != category_id:
                continue
            if allow is not None and not allow(doc):
                continue
            if exclude is not None and doc.id == exclude:
                continue
            hits.append(Hit(doc, float(scores[i]), highlight(doc.title, marks), snippet(doc.text or doc.title, marks)))
            if len(hits) >= limit:
                break
        return hits

    def _expand(self, terms: list[str], *, prefix: bool) -> dict[str, float]:
        out: dict[str, float] = {}
        for pos, term in enumerate(terms):
            if term in self.postings:
                out[term] = max(out.get(term, 0.0), 1.0)
            last = pos == len(terms) - 1
            if prefix and last and not is_cjk(term) and len(term) >= 2:
                for word in self._prefixed(term):
                    out.setdefault(word, PREFIX_DISCOUNT)
            elif term not in self.postings and not is_cjk(term) and len(term) >= 4 and not term.isdigit():
                for word in self._near(term):
                    out.setdefault(word, FUZZY_DISCOUNT)
        return out

    def _prefixed(self, stem: str, cap: int = 20) -> list[str]:
        import bisect

        if self._sorted_vocab is None:
            self._sorted_vocab = sorted(t for t in self.postings if not is_cjk(t))
        vocab = self._sorted_vocab
        start = bisect.bisect_left(vocab, stem)
        out: list[str] = []
        for word in vocab[start : start + cap]:
            if not word.startswith(stem):
                break
            out.append(word)
        return out

    def _near(self, term: str) -> set[str]:
        """Vocabulary words within one edit (insert, delete, substitute; transposition via two deletes)."""
        if self._deletes is None:
            table: dict[str, set[str]] = defaultdict(set)
            for word in self.postings:
                if len(word) >= 3 and not is_cjk(word):
                    table[word].add(word)
                    for d in _deletions(word):
                        table[d].add(word)
            self._deletes = dict(table)
        found: set[str] = set(self._deletes.get(term, ()))
        for d in _deletions(term):
            found |= self._deletes.get(d, set())
        return {w for w in found if w != term and _within_one(term, w)}


def term_counts(doc: IndexDoc) -> dict[str, int]:
    """Weighted term frequencies of one document (a term in the title counts three times)."""
    counts: dict[str, int] = defaultdict(int)
    for name, text in (
        ("title", doc.title),
        ("variants", " \n ".join(doc.variants)),
        ("tags", " ".join(doc.tags)),
        ("body", doc.text),
    ):
        weight = WEIGHTS[name]
        for term in tokens(text):
            counts[term] += weight
    return dict(counts)


class Visibility:
    """A reader's right to see a document: the public, or staff with their teams."""

    def __init__(self, *, staff: bool, team_ids: frozenset[str] = frozenset(), all_teams: bool = False) -> None:
        self.staff = staff
        self.team_ids = team_ids
        self.all_teams = all_teams

    def __call__(self, doc: IndexDoc) -> bool:
        if doc.visibility == "public":
            return True
        if not self.staff:
            return False
        if doc.visibility == "internal" or self.all_teams:
            return True
        return bool(self.team_ids & doc.team_ids)


def _best(candidates: npt.NDArray[np.intp], scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """The ``k`` best-scoring candidates, unordered (linear time)."""
    part = np.argpartition(-scores[candidates], k)[:k]
    return candidates[part]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one(a: str, b: str) -> bool:
    """Damerau distance ≤ 1 (adjacent transposition counts as one)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _mark_pattern(marks: Iterable[str]) -> re.Pattern[str] | None:
    parts = sorted({m for m in marks if m}, key=len, reverse=True)
    if not parts:
        return None
    return re.compile("|".join(re.escape(p) for p in parts))


def highlight(text: str, marks: Iterable[str]) -> str:
    """HTML-escaped ``text`` with every matched term wrapped in ``<mark>``; matching ignores case and width."""
    return _highlight(text, _mark_pattern(marks))


def _highlight(text: str, pattern: re.Pattern[str] | None) -> str:
    if pattern is None:
        return html.escape(text)
    folded = normalise(text)
    if len(folded) != len(text):  # NFKC changed lengths (ligatures): positions would not line up; skip marks
        return html.escape(text)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(folded):
        out.append(html.escape(text[pos : m.start()]))
        out.append(f"<mark>{html.escape(text[m.start() : m.end()])}</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def snippet(text: str, marks: Iterable[str], width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around the first match, escaped and highlighted."""
    pattern = _mark_pattern(marks)
    start = 0
    if pattern is not None:
        first = pattern.search(normalise(text))
        if first is not None:
            start = max(0, first.start() - width // 4)
    piece = text[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return prefix + _highlight(piece, pattern) + suffix
