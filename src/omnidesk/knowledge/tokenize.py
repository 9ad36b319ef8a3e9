"""Chinese-aware tokenisation for search: jieba words plus CJK character bigrams plus lower-cased Latin words.

Words from jieba give precise matches ("退货" as one term); bigrams make recall independent of how jieba happened
to segment a phrase ("无理由退货" still matches "理由退"), and single CJK characters of one-character queries are
kept. A private ``jieba.Tokenizer`` is used so that the process-wide default dictionary is never changed.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata

import jieba

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:[.'][a-z0-9]+)*")
_CJK_RE = re.compile(rf"^[{_CJK}]+$")
_STOP = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "或",
        "吗",
        "呢",
        "吧",
        "啊",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "这",
        "那",
        "有",
        "也",
        "就",
        "都",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "do",
        "does",
        "how",
        "what",
        "my",
        "your",
        "i",
        "you",
        "it",
        "can",
        "with",
        "at",
        "by",
        "from",
    ]
)

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _jieba() -> jieba.Tokenizer:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            _tokenizer = tk
        return _tokenizer


def normalise(text: str) -> str:
    """NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def is_cjk(term: str) -> bool:
    return bool(_CJK_RE.match(term))


def tokens(text: str) -> list[str]:
    """Search terms of ``text`` in order, repeats kept (term frequency matters), stop words dropped."""
    out: list[str] = []
    tk: jieba.Tokenizer | None = None
    for run in _RUN_RE.findall(normalise(text)):
        if not is_cjk(run):
            if run not in _STOP:
                out.append(_stem(run))
            continue
        if len(run) == 1:
            if run not in _STOP:
                out.append(run)
            continue
        tk = tk or _jieba()
        words = [w for w in tk.cut(run, HMM=False) if len(w) > 1 and w not in _STOP]
        out.extend(words)
        out.extend(b for b in (run[i : i + 2] for i in range(len(run) - 1)) if b not in words)
    return out


def _stem(word: str) -> str:
    """A light English plural folding ("orders" → "order") applied alike to documents and queries."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def query_terms(text: str) -> list[str]:
    """Distinct terms of a query, in order; a lone CJK character stays a term so one-character queries work."""
    return list(dict.fromkeys(tokens(text)))
