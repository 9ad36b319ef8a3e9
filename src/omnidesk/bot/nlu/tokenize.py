"""Chinese-aware tokenisation: words (jieba for Han text) always *alongside* character n-grams.

Why both: jieba misses domain keywords it has never seen ("花呗", product names), and character n-grams recover
them; word tokens keep the precision of whole words.

Per-tenant dictionaries: each distinct user dictionary gets its *own* ``jieba.Tokenizer`` instance; jieba's
process-wide default tokenizer (``jieba.dt``) is never mutated, so one tenant's words never leak into another
tenant's segmentation. Instances are cached by the (frozen) word list, because building one costs ~0.5 s.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .normalize import normalize

__all__ = ["Tokenizer", "char_ngrams", "get_tokenizer", "has_han"]

log = logging.getLogger(__name__)

_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A "word" for non-Han text: letters/digits with inner apostrophes or hyphens ("don't", "e-mail").
_LATIN_WORD_RE = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")
_WORD_CHAR_RE = re.compile(r"[^\W_]")
_jieba_lock = threading.Lock()


def has_han(text: str) -> bool:
    """True if the text contains at least one Chinese (Han) character."""
    return _HAN_RE.search(text) is not None


def char_ngrams(text: str, n_min: int, n_max: int, *, boundary: bool = False) -> list[str]:
    """Character n-grams of ``text`` (spaces removed unless ``boundary`` pads each word with spaces).

    With ``boundary=True`` this mirrors scikit-learn's ``char_wb`` analyzer: n-grams never cross words.
    """
    grams: list[str] = []
    if boundary:
        for word in text.split():
            padded = f" {word} "
            for n in range(n_min, n_max + 1):
                grams.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 0)))
        return grams
    compact = "".join(text.split())
    for n in range(n_min, n_max + 1):
        grams.extend(compact[i : i + n] for i in range(max(len(compact) - n + 1, 0)))
    return grams


class Tokenizer:
    """Word tokenizer; ``words`` expects *normalised* text (see :func:`normalize.normalize`).

    ``user_words`` are (word[, frequency]) entries of the tenant's dictionary, added to a private jieba
    instance only.
    """

    def __init__(self, user_words: Iterable[str | tuple[str, int]] = ()) -> None:
        entries: list[tuple[str, int | None]] = []
        for entry in user_words:
            if isinstance(entry, str):
                entries.append((entry.strip(), None))
            else:
                entries.append((entry[0].strip(), int(entry[1])))
        self.user_words: tuple[tuple[str, int | None], ...] = tuple(e for e in entries if e[0])
        self._jieba: object | None = None

    def __getstate__(self) -> dict[str, object]:
        """Pickle only the dictionary; the jieba instance is rebuilt lazily after loading."""
        return {"user_words": self.user_words, "_jieba": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    def _segmenter(self) -> object:
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            with _jieba_lock:
                if self._jieba is None:
                    tok = jieba.Tokenizer()  # private instance: never touch jieba.dt
                    tok.initialize()
                    for word, freq in self.user_words:
                        tok.add_word(normalize(word), freq)
                    self._jieba = tok
        return self._jieba

    def words(self, text: str) -> list[str]:
        """Word tokens: jieba segmentation for text containing Han characters, regex words otherwise.

        Punctuation and whitespace tokens are dropped; Latin words inside Chinese text are kept whole.
        """
        if not has_han(text):
            return _LATIN_WORD_RE.findall(text)
        seg = self._segmenter()
        return [w for w in seg.cut(text, HMM=True) if _WORD_CHAR_RE.search(w)]  # type: ignore[attr-defined]

    def features(self, text: str) -> list[str]:
        """Bag of matching features for ``text`` (normalised internally): words plus character n-grams.

        Han text: words + character bigrams (unigrams too when the text is very short);
        Latin text: words + within-word character 3-grams. Prefixes keep the two kinds apart.
        """
        norm = normalize(text)
        feats = ["w:" + w for w in self.words(norm)]
        if has_han(norm):
            compact = "".join(ch for ch in norm if _WORD_CHAR_RE.match(ch))
            feats.extend("c:" + g for g in char_ngrams(compact, 2, 2))
            if len(compact) <= 3:
                feats.extend("c:" + g for g in char_ngrams(compact, 1, 1))
        else:
            feats.extend("c:" + g for g in char_ngrams(norm, 3, 3, boundary=True))
        return feats


@lru_cache(maxsize=64)
def _cached_tokenizer(user_words: tuple[tuple[str, int | None], ...]) -> Tokenizer:
    return Tokenizer([(w, f) if f is not None else w for w, f in user_words])


def get_tokenizer(user_words: Sequence[str | tuple[str, int]] = ()) -> Tokenizer:
    """Shared :class:`Tokenizer` for a given user dictionary (cached; equal dictionaries share one)."""
    key = tuple(sorted(Tokenizer(user_words).user_words, key=lambda e: (e[0], e[1] or -1)))
    return _cached_tokenizer(key)
