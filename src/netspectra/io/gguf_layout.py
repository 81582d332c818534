"""What llama.cpp's converter did to the values of a tensor, undone as transformers' GGUF loader undoes it.

``convert_hf_to_gguf.py`` stores some tensors of some architectures in a layout of its own, and
transformers' loader (``modeling_gguf_pytorch_utils.TENSOR_PROCESSORS``, ``integrations/gguf``)
gives the Hugging Face layout back; so does :func:`relayout_rule`, so that a GGUF file and the
checkpoint it was converted from line up in ``compare`` (same shapes, ||W_gguf - W_hf|| the
quantization error, not a shuffle).  Row and column orders and transposes do not change singular
values, hence no spectral column; they change what ``compare`` measures.

* ``llama``: the rows of Q and K are permuted for llama.cpp's rotary layout
  (``LlamaModel.permute``: ``reshape(heads, 2, d/2, in).swapaxes(1, 2)``), K with the key-value heads;
  permuted back (:class:`RotaryRows`).
* ``bloom``: the fused QKV is stored as [q; k; v] blocks; Bloom interleaves them per head,
  ``[head][q, k, v][head_dim]`` (:class:`BloomQKVRows`).
* ``gpt2``: ``attn_qkv``, ``attn_output``, ``ffn_up``, ``ffn_down`` are transposed back to GPT-2's
  ``Conv1D`` layout, in x out (:class:`Transposed`).
* ``gemma2``, ``gemma3``, ``nemotron``: norm weights are stored as 1 + w (:class:`MinusOne`).
* ``mamba``: ``ssm_a`` is stored as -exp(A_log) (:class:`LogOfNegated`); ``ssm_conv1d`` squeezed to
  (d, k), and LFM2's ``shortconv.conv`` likewise (:class:`Unsqueezed`, (d, 1, k)).
* ``qwen2moe``, ``qwen3moe``: the shared expert's gate ``ffn_gate_inp_shexp`` is stored as a vector
  (:class:`Unsqueezed`, (1, d)).

Where transformers leaves a llama file's Q and K as stored because ``head_count_kv`` is missing, K is
un-permuted with ``head_count`` here, as llama.cpp reads such a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Shape = tuple[int, ...]


class Relayout:
    """One change of layout: the shape it gives a tensor and the values (PyTorch dimension order)."""

    def shape(self, shape: Shape) -> Shape:
        return shape

    def __call__(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def unpermute_rotary(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's row permutation of a Q or K projection (``heads`` query or key-value heads)."""
    half = weight.shape[0] // heads // 2
    return weight.reshape(heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


@dataclass(frozen=True)
class RotaryRows(Relayout):
    """Rows of a llama Q or K projection (or bias) back from the rotary order (:func:`unpermute_rotary`)."""

    heads: int

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return unpermute_rotary(values, self.heads)


@dataclass(frozen=True)
class BloomQKVRows(Relayout):
    """Rows of a Bloom QKV weight (or bias) from [q; k; v] back to ``[head][q, k, v][head_dim]``."""

    heads: int

    def __call__(self, values: np.ndarray) -> np.ndarray:
        parts = np.split(values, 3, axis=0)
        per_head = [part.reshape(self.heads, -1, *values.shape[1:]) for part in parts]
        return np.stack(per_head, axis=1).reshape(values.shape)


@dataclass(frozen=True)
class Transposed(Relayout):
    """A matrix transposed (GPT-2's ``Conv1D`` weights are stored in x out)."""

    def shape(self, shape: Shape) -> Shape:
        return shape[::-1]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values.T)


@dataclass(frozen=True)
class MinusOne(Relayout):
    """A norm weight stored as 1 + w (Gemma's and Nemotron's norms scale by 1 + w)."""

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return values - values.dtype.type(1)


@dataclass(frozen=True)
class LogOfNegated(Relayout):
    """Mamba's A_log, stored as A = -exp(A_log): log(-A) (NaN where A >= 0, as in transformers)."""

    def __call__(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(-values)


@dataclass(frozen=True)
class Unsqueezed(Relayout):
    """A dimension of size 1 put back at ``axis``."""

    axis: int

    def shape(self, shape: Shape) -> Shape:
        return (*shape[: self.axis], 1, *shape[self.axis :])

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return np.expand_dims(values, self.axis)


_GPT2_TRANSPOSED = ("attn_qkv.weight", "ffn_down.weight", "ffn_up.weight", "attn_output.weight")


def _positive(value: object) -> int:
    """A head count from the metadata, 0 when it is not one positive integer (absent, a per-layer array)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def relayout_rule(architecture: str | None, field: Callable[[str], object]) -> Callable[[str, Shape], Relayout | None]:
    """The change of layout of each tensor of a file of ``architecture`` (module docstring).

    Parameters
    ----------
    architecture : str or None
        ``general.architecture``.
    field : callable
        A metadata value of the file by key (``llama.attention.head_count``), None when absent.

    Returns
    -------
    callable
        GGUF tensor name, shape in PyTorch order -> the :class:`Relayout` to apply, or None.  A tensor
        whose shape does not fit the change (rows not a whole number of heads) is left as stored.
    """
    heads = _positive(field(f"{architecture}.attention.head_count"))
    kv_heads = _positive(field(f"{architecture}.attention.head_count_kv")) or heads

    def rule(name: str, shape: Shape) -> Relayout | None:
        rows = shape[0] if shape else 0
        if architecture == "llama" and heads and shape and len(shape) <= 2:
            count = heads if ".attn_q." in name else kv_heads if ".attn_k." in name else 0
            return RotaryRows(count) if count and rows % (2 * count) == 0 else None
        if architecture == "bloom" and "attn_qkv" in name and heads and shape and len(shape) <= 2:
            return BloomQKVRows(heads) if rows % (3 * heads) == 0 else None
        if architecture == "gpt2" and len(shape) == 2 and any(part in name for part in _GPT2_TRANSPOSED):
            return Transposed()
        if architecture in ("gemma2", "gemma3", "nemotron") and "norm.weight" in name:
            return MinusOne()
        if architecture == "mamba" and "ssm_conv1d.weight" in name and len(shape) == 2:
            return Unsqueezed(1)
        if architecture == "mamba" and "ssm_a" in name:
            return LogOfNegated()
        if architecture == "lfm2" and "shortconv.conv.weight" in name and len(shape) == 2:
            return Unsqueezed(1)
        if architecture in ("qwen2moe", "qwen3moe") and "ffn_gate_inp_shexp" in name and len(shape) == 1:
            return Unsqueezed(0)
        return None

    return rule
