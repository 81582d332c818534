"""A GGUF tensor's data read in blocks of rows: dequantized into one float32 array, and its quantization noise.

ggml stores a tensor row by row (the fastest dimension, ``ne[0]``, is a row), each row a whole number of
the type's blocks (``GGML_QUANT_SIZES``: block of 32 values in 18 bytes for Q4_0, of 256 in 144 bytes for
Q4_K, ...).  :func:`dequantize_tensor` reads :data:`ROW_BLOCK_ELEMENTS` values' worth of rows at a time with
``os.pread`` (no memory map: pages read through a map stay in the process's resident memory while the file
is open) and dequantizes them with ``gguf.quants.dequantize`` into their place in the float32 result, so that
the peak is the result plus one block's temporaries.  ``gguf.quants.dequantize`` on the whole tensor held
every group's output in a list before concatenating it: twice the result (a 262,144 x 640 Q8_0 embedding
peaked at 1.3 GB for 671 MB of float32).

:func:`tensor_noise` gives the mean per-entry quantization noise variance of the tensor
(:mod:`netspectra.io.quant_noise`) from the same blocks: the step of each (sub-)block read from its bytes
(the layouts of ``ggml-common.h``, as ``gguf.quants`` decodes them):

==========  ======  =====================================================================================
type        bytes   step of the codes
==========  ======  =====================================================================================
Q4_0, Q5_0  18, 22  |d| (f16 at byte 0), 32 values
Q4_1, Q5_1  20, 24  d (f16 at byte 0), 32 values
Q8_0        34      |d| (f16 at byte 0), 32 values
Q2_K        84      d (f16 at byte 80) x (scales[j] & 15) (bytes 0..15), 16 sub-blocks of 16
Q3_K        110     |d (f16 at byte 108) x (sc_j - 32)|, 6-bit sc_j packed in bytes 96..107, 16 of 16
Q4_K, Q5_K  144,176 d (f16 at byte 0) x sc_j, 6-bit sc_j packed in bytes 4..15, 8 sub-blocks of 32
Q6_K        210     |d (f16 at byte 208) x sc_j|, int8 sc_j at bytes 192..207, 16 sub-blocks of 16
F16, BF16   2       the width of the code's cell (:func:`~netspectra.io.quant_noise.cell_widths`)
F32, F64    4, 8    0
==========  ======  =====================================================================================

Other types (IQ*, TQ*, MXFP4) get NaN.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import MatrixError, SourceError
from .gguf_header import HeaderTensor
from .quant_noise import bfloat16_widths, coded_noise, float16_widths, mean_noise, uniform_noise

#: Values dequantized per block of rows (a 1 MiB float32 output; the K-quant decoders' temporaries are a few times it:
#: 1 << 20 measured 12 MiB more peak on a 131,072 x 256 Q8_0 embedding, at the same speed).
ROW_BLOCK_ELEMENTS = 1 << 18

#: NumPy dtype of the plain (not block-quantized) types, to honour a big-endian file's byte order.
_PLAIN = {"F32": "f4", "F16": "f2", "F64": "f8", "I8": "i1", "I16": "i2", "I32": "i4", "I64": "i8"}


def _f16(raw: np.ndarray, start: int) -> np.ndarray:
    """The float16 at bytes [start, start + 2) of each block, as float32."""
    return np.ascontiguousarray(raw[:, start : start + 2]).view(np.float16).astype(np.float32)[:, 0]


def _k_scales(raw: np.ndarray) -> np.ndarray:
    """The eight 6-bit sub-block scales of Q4_K/Q5_K blocks (bytes 4..15; ``gguf.quants.Q4_K.get_scale_min``)."""
    packed = raw[:, 4:16].reshape(-1, 3, 4)
    low, high = packed[:, 0], packed[:, 2]
    return np.concatenate([low & 0x3F, (high & 0x0F) | ((low >> 2) & 0x30)], axis=-1)


def _q3_scales(raw: np.ndarray) -> np.ndarray:
    """The sixteen signed 6-bit sub-block scales of Q3_K blocks (bytes 96..107, as ``gguf.quants.Q3_K``)."""
    scales = raw[:, 96:108]
    low = (scales[:, :8, None] >> np.array([0, 4], dtype=np.uint8)).transpose(0, 2, 1).reshape(-1, 16)
    high = (scales[:, None, 8:12] >> np.array([0, 2, 4, 6], dtype=np.uint8)[:, None]).reshape(-1, 16)
    return ((low & 0x0F) | ((high & 0x03) << 4)).astype(np.int8).astype(np.float32) - 32.0


#: Block-quantized types: type name -> (steps of each block's sub-blocks, shape (blocks, sub-blocks)).
_STEPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Q4_0": lambda raw: np.abs(_f16(raw, 0))[:, None],
    "Q4_1": lambda raw: np.abs(_f16(raw, 0))[:, None],
    "Q5_0": lambda raw: np.abs(_f16(raw, 0))[:, None],
    "Q5_1": lambda raw: np.abs(_f16(raw, 0))[:, None],
    "Q8_0": lambda raw: np.abs(_f16(raw, 0))[:, None],
    "Q2_K": lambda raw: np.abs(_f16(raw, 80)[:, None] * (raw[:, :16] & 0x0F).astype(np.float32)),
    "Q3_K": lambda raw: np.abs(_f16(raw, 108)[:, None] * _q3_scales(raw)),
    "Q4_K": lambda raw: np.abs(_f16(raw, 0)[:, None] * _k_scales(raw).astype(np.float32)),
    "Q5_K": lambda raw: np.abs(_f16(raw, 0)[:, None] * _k_scales(raw).astype(np.float32)),
    "Q6_K": lambda raw: np.abs(_f16(raw, 208)[:, None] * raw[:, 192:208].view(np.int8).astype(np.float32)),
}
#: Types stored as codes of a float format, and the cell widths of their codes.
_CODED: dict[str, Callable[[], np.ndarray]] = {"F16": float16_widths, "BF16": bfloat16_widths}


def _layout(tensor: HeaderTensor) -> tuple[int, int, int]:
    """(rows, bytes per row, values per row) of a tensor."""
    from gguf.constants import GGML_QUANT_SIZES

    block, type_size = GGML_QUANT_SIZES[tensor.tensor_type]
    per_row = tensor.shape[0] if tensor.shape else 1
    rows = tensor.n_elements // per_row if per_row else 0
    return rows, per_row // block * type_size, per_row


def raw_row_blocks(
    path: Path, tensor: HeaderTensor, label: str, rows: tuple[int, int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, counted from ``rows[0]``; uint8 array (rows, bytes per row)) of each block of the rows
    ``rows`` = (start, stop) of ``tensor`` (ggml rows: every dimension but the first flattened; default all),
    read from ``path``.

    Raises
    ------
    SourceError
        When the file ends before the tensor does (changed since its header was read).
    """
    total, row_bytes, per_row = _layout(tensor)
    first, stop = rows if rows is not None else (0, total)
    if not 0 <= first <= stop <= total:
        raise SourceError(f"{label}: rows {first}..{stop} outside the {total} rows of {tensor.name[:80]!r}")
    step = max(1, ROW_BLOCK_ELEMENTS // max(per_row, 1))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SourceError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        for start in range(first, stop, step):
            count = min(step, stop - start)
            want = count * row_bytes
            data = os.pread(fd, want, tensor.data_offset + start * row_bytes)
            if len(data) != want:
                raise SourceError(f"{label}: {tensor.name[:80]!r} ends past the end of the file (truncated since it was opened)")
            yield start - first, np.frombuffer(data, dtype=np.uint8).reshape(count, row_bytes)
    finally:
        os.close(fd)


def dequantize_tensor(
    path: Path, tensor: HeaderTensor, label: str, byte_order: str = "<", rows: tuple[int, int] | None = None
) -> np.ndarray:
    """The tensor's values as float32 of shape (rows, values per row), dequantized block of rows by block of rows
    by ``gguf.quants.dequantize`` (module docstring); ``rows`` = (start, stop): only those ggml rows (one expert
    of a stacked ``ffn_*_exps`` tensor: rows e out .. (e + 1) out), whose blocks are all that is read.

    Raises
    ------
    MatrixError
        For a type the gguf package cannot dequantize.
    SourceError
        When the file ends early.
    """
    import gguf

    total, _, per_row = _layout(tensor)
    first, stop = rows if rows is not None else (0, total)
    kind = tensor.tensor_type.name
    out = np.empty((max(stop - first, 0), per_row), dtype=np.float32)
    for start, raw in raw_row_blocks(path, tensor, label, rows):
        block = raw.view(np.dtype(_PLAIN[kind]).newbyteorder(byte_order)) if kind in _PLAIN else raw
        try:
            values = gguf.quants.dequantize(block, tensor.tensor_type)
        except NotImplementedError:
            raise MatrixError(f"the gguf package cannot dequantize {kind}") from None
        out[start : start + raw.shape[0]] = values.reshape(raw.shape[0], per_row)
    return out


def tensor_noise(path: Path, tensor: HeaderTensor, label: str, byte_order: str = "<") -> float:
    """sigma2_quant of the tensor: the mean over its entries of the quantization noise variance of its
    (sub-)blocks (module docstring); 0 for F32/F64, NaN for a type whose steps are not read here."""
    from gguf.constants import GGML_QUANT_SIZES

    kind = tensor.tensor_type.name
    if kind in ("F32", "F64"):
        return 0.0
    if kind not in _STEPS and kind not in _CODED:
        return float("nan")
    block, type_size = GGML_QUANT_SIZES[tensor.tensor_type]
    parts = []
    for _, raw in raw_row_blocks(path, tensor, label):
        if kind in _CODED:
            parts.append(coded_noise(_CODED[kind](), raw.view(np.dtype("u2").newbyteorder(byte_order))))
            continue
        steps = _STEPS[kind](raw.reshape(-1, type_size))
        parts.append(uniform_noise(steps, block // steps.shape[1]))
    return mean_noise(parts)
