"""Quantized Hugging Face checkpoints, dequantized exactly per their formats, one matrix at a time.

A model whose ``config.json`` has a ``quantization_config`` stores each quantized Linear weight as
several tensors; :func:`dequantizing` wraps its source so that each becomes one ``<module>.weight``
record (the scheme in its ``dtype``) whose loader rebuilds the float matrix (out x in):

* **GPTQ** (``quant_method: gptq``; AutoGPTQ/GPTQModel): ``qweight`` int32 (in/p, out) packs p = 32/bits
  input rows per word, lowest bits first; ``qzeros`` int32 (groups, out/p) packs output columns;
  ``scales`` (groups, out); ``g_idx`` (in,) the group of each input row (``desc_act``), else row //
  group_size.  W^T[i, o] = scales[g_i, o] (q[i, o] - z[g_i, o]), with z the stored zero + 1 in the
  original ("v1") format and as stored in ``checkpoint_format: gptq_v2``.  Bits 2, 4, 8.
* **AWQ** (``quant_method: awq``, GEMM layout; AutoAWQ): ``qweight`` int32 (in, out/8) and ``qzeros``
  (groups, out/8) pack output columns in the order [0, 2, 4, 6, 1, 3, 5, 7]; ``scales`` (groups, out);
  W^T[i, o] = (q[i, o] - z[i // g, o]) scales[i // g, o].  4 bits.
* **FP8** (``quant_method: fp8``; DeepSeek-V3, Qwen3-FP8): ``weight`` F8_E4M3 (out, in) times
  ``weight_scale_inv`` (ceil(out/b0), ceil(in/b1)) per block of ``weight_block_size`` [b0, b1], or
  times a per-tensor/per-channel ``weight_scale`` (FBGEMM; compressed-tensors is read by :mod:`.compressed_tensors`).
* **bitsandbytes 4-bit** (NF4, FP4): ``weight`` uint8 holds two 4-bit codes a byte (high nibble first);
  value = ``quant_map``[code] x absmax of its block of ``blocksize``; with double quantization the
  absmax are themselves codes: ``nested_quant_map``[code] x ``nested_absmax`` of their block of
  ``nested_blocksize`` + ``nested_offset``.  Block sizes, shape and offset come from the packed JSON
  ``weight.quant_state.bitsandbytes__nf4`` (or ``__fp4``).
* **bitsandbytes 8-bit** (LLM.int8): ``weight`` int8 (out, in), ``SCB`` per row: W = q SCB / 127.

The configuration and the parts' shapes and dtypes come from the file, so they are checked before a
byte is unpacked (one :class:`~netspectra.errors.SourceError` naming the file): bit widths, group and
block sizes are integers of the format (``bits: 4.0`` is refused, not cast), packed words are integers
(a float ``qweight`` is not a GPTQ layer), a bitsandbytes shape holds exactly the codes stored and its
``absmax`` one scale per block.  Scales are spread over their blocks by indexing, so that a block size
costs nothing (``np.repeat`` by a forged block of 10^8 allocated 23.8 GiB), and each dequantization is
planned against the memory available (:func:`~netspectra.scale.workers.refuse_unless_fits`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np

from ..constraints import Interval, Kind, OneOf, check_value
from ..errors import MatrixError, SourceError
from ..scale.workers import refuse_unless_fits
from .base import ModelSource, TensorRecord
from .dtypes import FLOAT_DTYPES, FP8_E4M3_TABLE, INTEGER_DTYPES
from .packed import CHUNK_ELEMENTS
from .quant_noise import UNIFORM, cell_widths, grid_noise, mean_noise, scaled_noise, value_widths
from .structured import parse_json

#: AWQ's packing order of 8 output columns in a word, and its inverse.
AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)
AWQ_REVERSE_ORDER = (0, 4, 1, 5, 2, 6, 3, 7)
_PACKED_PARTS = ("qweight", "qzeros", "scales", "g_idx")
#: Rank and stored dtypes of packed 32-bit words.
_WORDS = (2, frozenset({"I32", "U32"}))
#: Peak bytes per entry of the dequantized matrix while each formula runs (the arrays it holds at once:
#: GPTQ/AWQ fields, codes and gathered zeros and scales; FP8 decoded weight, scales and product;
#: bitsandbytes codes, block indices and values).
_PEAK_BYTES_PER_ENTRY = {"gptq": 24, "awq": 24, "fp8": 12, "bnb-4bit": 28, "bnb-int8": 12}
#: Entries of a bitsandbytes quant_map (4-bit codes) and nested_quant_map (8-bit codes).
_QUANT_MAP_SIZE, _NESTED_QUANT_MAP_SIZE = 16, 256
_POSITIVE_INT = Interval(int, 1, None)
_FINITE = Interval(float, None, None)
_MAX_DIMS = 8


def _positive_ints(count: int | None = None) -> Kind:
    """A list of positive integers: ``count`` of them, or a tensor shape (1 to :data:`_MAX_DIMS`)."""
    what = f"{count} positive integers" if count else "a shape of positive integers"
    return Kind(
        (list, tuple),
        what,
        lambda v: (len(v) == count if count else 0 < len(v) <= _MAX_DIMS) and all(_POSITIVE_INT.accepts(d) for d in v),
    )


def _blocks(size: int, block: int) -> int:
    """ceil(size / block) in integers."""
    return -(-size // block)


def _fields(words: np.ndarray, bits: int) -> np.ndarray:
    """(r, c) int32 words -> (r, c, 32/bits): the ``bits``-wide fields of each word, lowest bits first."""
    shifts = np.arange(0, 32, bits, dtype=np.uint32)
    return (words.astype(np.int64).astype(np.uint32)[:, :, None] >> shifts) & np.uint32((1 << bits) - 1)


def unpack_rows(words: np.ndarray, bits: int) -> np.ndarray:
    """(r, c) int32 words -> (r * 32/bits, c) values: word r holds rows r*p .. r*p + p-1, lowest bits first."""
    return _fields(words, bits).transpose(0, 2, 1).reshape(-1, words.shape[1])


def unpack_columns(words: np.ndarray, bits: int) -> np.ndarray:
    """(r, c) int32 words -> (r, c * 32/bits) values: word c holds columns c*p .. c*p + p-1, lowest bits first."""
    return _fields(words, bits).reshape(words.shape[0], -1)


def gptq_weight(
    qweight: np.ndarray,
    qzeros: np.ndarray,
    scales: np.ndarray,
    g_idx: np.ndarray | None,
    bits: int,
    group_size: int,
    zero_offset: int,
) -> np.ndarray:
    """The (out, in) float32 matrix of a GPTQ layer (module docstring)."""
    q = unpack_rows(qweight, bits).astype(np.float32)  # (in, out)
    zeros = unpack_columns(qzeros, bits).astype(np.float32)[:, : q.shape[1]] + zero_offset  # (groups, out)
    groups = np.arange(q.shape[0]) // group_size if g_idx is None else np.asarray(g_idx, dtype=np.int64)
    if groups.shape != (q.shape[0],) or groups.min(initial=0) < 0 or groups.max(initial=0) >= scales.shape[0]:
        raise MatrixError(f"g_idx does not index the {scales.shape[0]} groups of {q.shape[0]} input rows")
    s = scales.astype(np.float32)
    return ((q - zeros[groups]) * s[groups]).T


def awq_weight(qweight: np.ndarray, qzeros: np.ndarray, scales: np.ndarray, bits: int, group_size: int) -> np.ndarray:
    """The (out, in) float32 matrix of an AWQ GEMM layer (module docstring)."""
    order = np.arange(qweight.shape[1] * 32 // bits).reshape(-1, 32 // bits)[:, AWQ_REVERSE_ORDER].reshape(-1)
    q = unpack_columns(qweight, bits)[:, order].astype(np.float32)  # (in, out)
    zeros = unpack_columns(qzeros, bits)[:, order].astype(np.float32)  # (groups, out)
    rows = np.arange(q.shape[0]) // group_size
    if rows.max(initial=0) >= scales.shape[0] or zeros.shape[0] != scales.shape[0]:
        raise MatrixError(f"{scales.shape[0]} groups of {group_size} do not cover {q.shape[0]} input rows")
    return ((q - zeros[rows]) * scales.astype(np.float32)[rows]).T


def fp8_weight(weight: np.ndarray, scale: np.ndarray, block: tuple[int, int] | None) -> np.ndarray:
    """An FP8 matrix (decoded to float32) times its scales: per block of ``block`` rows x columns when
    the scale is a grid of blocks (entry (i, j) times scale[i // b0, j // b1]), else broadcast (one
    scale, or one per output row)."""
    scale = np.asarray(scale, dtype=np.float32)
    rows, cols = weight.shape
    if scale.size == 1:
        return weight * scale.reshape(())
    if scale.size == rows and scale.ndim <= 2 and (scale.ndim == 1 or scale.shape[-1] == 1):
        return weight * scale.reshape(rows, 1)
    if block is None or scale.shape != (_blocks(rows, block[0]), _blocks(cols, block[1])):
        raise MatrixError(f"scale of shape {scale.shape} does not tile {rows} x {cols} (blocks {block})")
    return weight * scale[np.ix_(np.arange(rows) // block[0], np.arange(cols) // block[1])]


def bnb_4bit_weight(
    packed: np.ndarray,
    absmax: np.ndarray,
    quant_map: np.ndarray,
    state: dict,
    nested_absmax: np.ndarray | None = None,
    nested_quant_map: np.ndarray | None = None,
) -> np.ndarray:
    """The float32 matrix of a bitsandbytes 4-bit weight (module docstring); ``state`` checked by
    :func:`check_bnb_state`: value k is quant_map[code k] x absmax[k // blocksize]."""
    shape = tuple(int(d) for d in state["shape"])
    count = math.prod(shape)
    codes_bytes = np.asarray(packed).astype(np.uint8).reshape(-1)
    codes = np.empty(codes_bytes.size * 2, dtype=np.intp)
    codes[0::2], codes[1::2] = codes_bytes >> 4, codes_bytes & 15
    scales = bnb_block_scales(absmax, state, nested_absmax, nested_quant_map)
    values = np.asarray(quant_map, np.float32)[codes[:count]] * scales[np.arange(count) // int(state["blocksize"])]
    return values.reshape(shape)


def bnb_block_scales(
    absmax: np.ndarray, state: dict, nested_absmax: np.ndarray | None = None, nested_quant_map: np.ndarray | None = None
) -> np.ndarray:
    """The float32 absmax of each block of a bitsandbytes 4-bit weight: as stored, or with double quantization
    nested_quant_map[code] x the nested absmax of its block of ``nested_blocksize`` + ``nested_offset``."""
    scales = np.asarray(absmax, dtype=np.float32).reshape(-1)
    if nested_absmax is not None and nested_quant_map is not None:
        nested = np.asarray(nested_absmax, np.float32).reshape(-1)[np.arange(scales.size) // int(state["nested_blocksize"])]
        scales = np.asarray(nested_quant_map, np.float32)[scales.astype(np.intp)] * nested
        scales = scales + np.float32(state.get("nested_offset", 0.0))
    return scales


def bnb_int8_weight(weight: np.ndarray, scb: np.ndarray) -> np.ndarray:
    """The float32 matrix of an LLM.int8 weight: q x SCB / 127 per row."""
    return (np.asarray(weight, np.float32) * (np.asarray(scb, np.float32).reshape(-1, 1) / np.float32(127.0))).astype(np.float32)


def gptq_noise(scales: np.ndarray, groups: np.ndarray, outputs: int) -> float:
    """sigma2_quant of a GPTQ or AWQ layer: step scales[g_i, o] for input row i of group g_i and output o
    (:func:`~netspectra.io.quant_noise.grid_noise`, one cell per group and output column)."""
    counts = np.bincount(groups, minlength=scales.shape[0])
    if counts.size != scales.shape[0] or scales.shape[1] < outputs:
        raise MatrixError(f"{scales.shape[0]} groups of scales do not cover the input rows' groups")
    return mean_noise([grid_noise(scales[:, :outputs], counts, np.ones(outputs))])


def fp8_noise(weight: np.ndarray, scale: np.ndarray, block: tuple[int, int] | None) -> float:
    """sigma2_quant of an FP8 matrix (decoded E4M3 values) times its scales (as :func:`fp8_weight`): the
    width of each value's E4M3 cell times its scale, a chunk of rows at a time."""
    scale = np.asarray(scale, dtype=np.float64)
    rows, cols = weight.shape
    step = max(1, CHUNK_ELEMENTS // max(cols, 1))
    parts = []
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        if scale.size == 1:
            scales = scale.reshape(())
        elif scale.size == rows:
            scales = scale.reshape(rows, 1)[start:stop]
        elif block is not None:
            scales = scale[np.ix_(np.arange(start, stop) // block[0], np.arange(cols) // block[1])]
        else:
            raise MatrixError(f"scale of shape {scale.shape} does not tile {rows} x {cols}")
        parts.append(scaled_noise(value_widths(weight[start:stop], FP8_E4M3_TABLE), scales))
    return mean_noise(parts)


def bnb_4bit_noise(packed: np.ndarray, scales: np.ndarray, quant_map: np.ndarray, count: int, blocksize: int) -> float:
    """sigma2_quant of a bitsandbytes 4-bit weight: the width of each code's cell in ``quant_map`` (NF4's
    and FP4's levels are unequally spaced) times the absmax of its block."""
    codes_bytes = np.asarray(packed).astype(np.uint8).reshape(-1)
    squares = cell_widths(np.asarray(quant_map, np.float64)).astype(np.float32) ** 2
    per_code = np.empty(codes_bytes.size * 2, dtype=np.float32)
    per_code[0::2], per_code[1::2] = squares[codes_bytes >> 4], squares[codes_bytes & 15]
    blocks = _blocks(count, blocksize)
    padded = np.zeros(blocks * blocksize, dtype=np.float32)
    padded[:count] = per_code[:count]
    block_sums = padded.reshape(blocks, blocksize).sum(axis=1, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64).reshape(-1)[:blocks]
    return float(block_sums @ (scales * scales)) * UNIFORM / count if count else float("nan")


class _Dequantize:
    """Loader of one quantized matrix of ``shape`` from its stored parts (picklable: records and numbers);
    :meth:`noise` is its ``sigma2_quant``."""

    def __init__(self, method: str, parts: dict[str, TensorRecord], settings: dict[str, object], shape: tuple[int, ...]) -> None:
        self.method, self.parts, self.settings, self.shape = method, parts, settings, shape

    def __call__(self) -> np.ndarray:
        needed = math.prod(self.shape) * _PEAK_BYTES_PER_ENTRY[self.method]
        refuse_unless_fits(needed, f"dequantizing a {' x '.join(map(str, self.shape))} {self.method} matrix", MatrixError)
        p = {key: record.load() for key, record in self.parts.items()}
        s = self.settings
        try:
            if self.method == "gptq":
                g_idx = p.get("g_idx") if s["desc_act"] else None
                return gptq_weight(p["qweight"], p["qzeros"], p["scales"], g_idx, s["bits"], s["group_size"], s["zero_offset"])
            if self.method == "awq":
                return awq_weight(p["qweight"], p["qzeros"], p["scales"], s["bits"], s["group_size"])
            if self.method == "bnb-4bit":
                return bnb_4bit_weight(
                    p["weight"], p["absmax"], p["quant_map"], s["state"], p.get("nested_absmax"), p.get("nested_quant_map")
                )
            if self.method == "bnb-int8":
                return bnb_int8_weight(p["weight"], p["scb"])
            return fp8_weight(p["weight"], p["scale"], s["block"])
        except (ValueError, IndexError) as exc:  # parts of shapes that do not fit together (a forged file)
            shapes = ", ".join(f"{key} {tuple(value.shape)}" for key, value in p.items())
            raise MatrixError(f"{self.method} parts do not fit together ({shapes}): {exc}") from None

    def noise(self) -> float:
        """sigma2_quant: the mean per-entry variance of the rounding error the stored steps imply
        (:mod:`netspectra.io.quant_noise`): GPTQ/AWQ scales per group and output, LLM.int8's SCB / 127 per row,
        the FP8 cell of each value times its scale, the NF4/FP4 cell of each code times its block's absmax."""
        s, out, inputs = self.settings, self.shape[0], self.shape[-1]
        try:
            if self.method in ("gptq", "awq"):
                scales = self.parts["scales"].load()
                if self.method == "gptq" and s["desc_act"] and "g_idx" in self.parts:
                    groups = np.asarray(self.parts["g_idx"].load(), dtype=np.int64)
                else:
                    groups = np.arange(inputs) // s["group_size"]
                if groups.shape != (inputs,) or groups.min(initial=0) < 0:
                    raise MatrixError(f"groups of {inputs} input rows do not index the scales")
                return gptq_noise(scales, groups, out)
            if self.method == "bnb-int8":
                steps = np.asarray(self.parts["scb"].load(), np.float64).reshape(-1, 1) / 127.0
                return mean_noise([grid_noise(steps, np.ones(steps.shape[0]), np.array([inputs]))])
            if self.method == "bnb-4bit":
                p = {key: record.load() for key, record in self.parts.items()}
                state = s["state"]
                scales = bnb_block_scales(p["absmax"], state, p.get("nested_absmax"), p.get("nested_quant_map"))
                count = math.prod(int(d) for d in state["shape"])
                return bnb_4bit_noise(p["weight"], scales, p["quant_map"], count, int(state["blocksize"]))
            return fp8_noise(self.parts["weight"].load(), self.parts["scale"].load(), s["block"])
        except (ValueError, IndexError) as exc:
            raise MatrixError(f"{self.method} scales do not fit the weight: {exc}") from None


def check_bnb_state(state: object, parts: dict[str, TensorRecord], label: str, name: str) -> None:
    """Refuse a bitsandbytes 4-bit quant state that does not describe its stored parts: a shape of
    positive integers holding exactly the codes of the packed uint8 ``weight`` (two a byte), positive
    block sizes, one ``absmax`` per block of ``blocksize`` values, one ``nested_absmax`` per block of
    ``nested_blocksize`` absmax codes, 16 and 256 code values."""
    if not isinstance(state, dict) or not {"shape", "blocksize", "quant_type"} <= set(state):
        raise SourceError(f"{label}: {name}: invalid bitsandbytes quant state")
    where = f"{name} quant state"
    check_value(f"{label}: {where} quant_type", state["quant_type"], [OneOf("nf4", "fp4")], SourceError)
    check_value(f"{label}: {where} shape", state["shape"], [_positive_ints()], SourceError)
    check_value(f"{label}: {where} blocksize", state["blocksize"], [_POSITIVE_INT], SourceError)
    count = math.prod(state["shape"])
    weight, absmax = parts["weight"], parts["absmax"]
    if weight.dtype != "U8" or math.prod(weight.shape) != _blocks(count, 2):
        raise SourceError(
            f"{label}: {name} stores {math.prod(weight.shape):,} {weight.dtype} values; a shape of {count:,} "
            f"4-bit codes is {_blocks(count, 2):,} U8 bytes"
        )
    blocks = _blocks(count, state["blocksize"])
    if math.prod(absmax.shape) != blocks:
        raise SourceError(
            f"{label}: {name}.absmax holds {math.prod(absmax.shape):,} scales; {count:,} values in blocks of "
            f"{state['blocksize']:,} need {blocks:,}"
        )
    if math.prod(parts["quant_map"].shape) != _QUANT_MAP_SIZE:
        raise SourceError(f"{label}: {name}.quant_map holds {math.prod(parts['quant_map'].shape):,} values, not 16")
    nested = parts.get("nested_absmax")
    if nested is not None and "nested_quant_map" in parts:
        check_value(f"{label}: {where} nested_blocksize", state.get("nested_blocksize"), [_POSITIVE_INT], SourceError)
        check_value(
            f"{label}: {where} nested_offset", state.get("nested_offset", 0.0), [Interval(float, None, None)], SourceError
        )
        nested_blocks = _blocks(blocks, state["nested_blocksize"])
        if math.prod(nested.shape) != nested_blocks or math.prod(parts["nested_quant_map"].shape) != _NESTED_QUANT_MAP_SIZE:
            raise SourceError(
                f"{label}: {name}: {math.prod(nested.shape):,} nested absmax and {math.prod(parts['nested_quant_map'].shape):,} "
                f"nested codes; {blocks:,} absmax codes in blocks of {state['nested_blocksize']:,} need {nested_blocks:,} and 256"
            )


#: The stored parts of one quantized weight (by role: qweight, scales, ...) and the record replacing them.
_Combined = tuple[dict[str, TensorRecord], TensorRecord]


class QuantizedSource(ModelSource):
    """A source whose quantized weights are listed as one dequantizing record each (module docstring)."""

    def __init__(self, inner: ModelSource, method: str, config: dict) -> None:
        self.inner = inner
        self.path, self.config, self.files = inner.path, inner.config, inner.files
        self.format = inner.format
        self.method = method
        label = os.fspath(self.path)
        bits = config.get("bits", 4 if method != "fp8" else 8)
        group = config.get("group_size", -1)
        block = config.get("weight_block_size")
        if method in ("gptq", "awq"):
            widths = (2, 4, 8) if method == "gptq" else (4,)
            supported = Kind(
                int, f"an integer bit width {method.upper()} packs ({', '.join(map(str, widths))})", lambda b: b in widths
            )
            check_value(f"{label}: quantization_config.bits", bits, [supported], SourceError)
            check_value(f"{label}: quantization_config.group_size", group, [OneOf(-1), _POSITIVE_INT], SourceError)
        elif block is not None:
            check_value(f"{label}: quantization_config.weight_block_size", block, [_positive_ints(2)], SourceError)
        self.settings: dict[str, object] = {
            "bits": bits,
            "desc_act": bool(config.get("desc_act", True)),
            "zero_offset": 0 if str(config.get("checkpoint_format", "gptq")).lower() == "gptq_v2" else 1,
            "block": tuple(block) if block is not None else None,
            "group_size": group,
        }

    def _group_size(self, rows: int) -> int:
        group = self.settings["group_size"]
        return rows if group == -1 else group

    def tensors(self) -> Iterator[TensorRecord]:
        records = list(self.inner.tensors())
        by_name = {r.name: r for r in records}
        combined = {r.name: c for r in records if (c := self._combine(r, by_name)) is not None}
        consumed = {part.name for parts, _ in combined.values() for part in parts.values()}
        for record in records:
            if record.name in combined:
                yield combined[record.name][1]
            elif record.name not in consumed:
                yield record

    def _combine(self, record: TensorRecord, by_name: dict[str, TensorRecord]) -> _Combined | None:
        """The parts and the dequantizing record of the quantized weight ``record`` starts, or None."""
        name = record.name
        if self.method in ("gptq", "awq"):
            if not name.endswith(".qweight"):
                return None
            module = name[: -len(".qweight")]
            parts = {k: by_name[f"{module}.{k}"] for k in _PACKED_PARTS if f"{module}.{k}" in by_name}
            missing = [k for k in ("qzeros", "scales") if k not in parts]
            if missing:
                raise SourceError(f"{record.source}: {module} has qweight but no {missing[0]}")
            self._check_packed(module, parts)
            pack = 32 // int(self.settings["bits"])
            if self.method == "gptq":
                shape = (record.shape[1], record.shape[0] * pack)
            else:
                shape = (record.shape[1] * pack, record.shape[0])
            settings = {**self.settings, "group_size": self._group_size(shape[1])}
            dtype = f"{self.method.upper()}-int{self.settings['bits']}"
            loader = _Dequantize(self.method, parts, settings, shape)
            return parts, TensorRecord(f"{module}.weight", shape, dtype, record.source, loader, noise=loader.noise)
        if self.method == "bitsandbytes":
            return self._bitsandbytes(record, by_name)
        scale = by_name.get(f"{name}_scale_inv") or by_name.get(f"{name}_scale")
        if scale is None or not name.endswith(".weight") or len(record.shape) != 2:
            return None
        parts = {"weight": record, "scale": scale}
        loader = _Dequantize("fp8", parts, self.settings, record.shape)
        return parts, TensorRecord(name, record.shape, f"{record.dtype}*scale", record.source, loader, noise=loader.noise)

    def _check_packed(self, module: str, parts: dict[str, TensorRecord]) -> None:
        """Refuse GPTQ/AWQ parts of the wrong rank or dtype: packed words are 2-D I32/U32, scales 2-D
        floats, g_idx 1-D integers (a float qweight would be cast and unpacked into noise)."""
        method = self.method.upper()
        kinds = {
            "qweight": _WORDS,
            "qzeros": _WORDS,
            "scales": (2, FLOAT_DTYPES),
            "g_idx": (1, INTEGER_DTYPES),
        }
        for role, part in parts.items():
            rank, dtypes = kinds[role]
            if len(part.shape) != rank:
                raise SourceError(f"{part.source}: {module}.{role} has shape {part.shape}; {method} stores it {rank}-D")
            if part.dtype not in dtypes:
                raise SourceError(
                    f"{part.source}: {module}.{role} is {part.dtype}; {method} stores it as {' or '.join(sorted(dtypes))}"
                )

    def _bitsandbytes(self, record: TensorRecord, by_name: dict[str, TensorRecord]) -> _Combined | None:
        name = record.name
        state_record = next(
            (
                by_name[k]
                for k in (f"{name}.quant_state.bitsandbytes__nf4", f"{name}.quant_state.bitsandbytes__fp4")
                if k in by_name
            ),
            None,
        )
        if state_record is not None:
            raw = bytes(np.asarray(state_record.load()).astype(np.uint8).reshape(-1))
            state = parse_json(raw, record.source, f"{name} quant state", SourceError)
            roles = {
                "weight": name,
                "absmax": f"{name}.absmax",
                "quant_map": f"{name}.quant_map",
                "state": state_record.name,
                "nested_absmax": f"{name}.nested_absmax",
                "nested_quant_map": f"{name}.nested_quant_map",
            }
            parts = {role: by_name[key] for role, key in roles.items() if key in by_name}
            if "absmax" not in parts or "quant_map" not in parts:
                raise SourceError(f"{record.source}: {name} has a 4-bit quant state but no absmax or quant_map")
            check_bnb_state(state, parts, record.source, name)
            shape = tuple(state["shape"])
            loader = _Dequantize("bnb-4bit", {k: v for k, v in parts.items() if k != "state"}, {"state": state}, shape)
            dtype = f"BNB-{state['quant_type'].upper()}"
            return parts, TensorRecord(name, shape, dtype, record.source, loader, noise=loader.noise)
        scb = by_name.get(f"{name.removesuffix('.weight')}.SCB")
        if scb is None or not name.endswith(".weight") or len(record.shape) != 2:
            return None
        if record.dtype != "I8" or math.prod(scb.shape) != record.shape[0]:
            raise SourceError(
                f"{record.source}: {name} is {record.dtype} {record.shape} with {math.prod(scb.shape):,} SCB; "
                "LLM.int8 stores I8 rows and one SCB a row"
            )
        parts = {"weight": record, "scb": scb}
        loader = _Dequantize("bnb-int8", parts, {}, record.shape)
        return parts, TensorRecord(name, record.shape, "BNB-INT8", record.source, loader, noise=loader.noise)

    def close(self) -> None:
        self.inner.close()


def holds_quantized_tensors(source: ModelSource) -> bool:
    """Whether ``source`` stores quantized tensors (GGUF, or a checkpoint read through
    :class:`QuantizedSource`), which no safetensors dtype can hold: writers (compress, merge) refuse it."""
    return source.format == "gguf" or isinstance(source, QuantizedSource)


def dequantizing(source: ModelSource) -> ModelSource:
    """``source`` itself, or wrapped in :class:`QuantizedSource` when its config says it is quantized.

    Raises
    ------
    SourceError
        For a quantization this module cannot dequantize (HQQ, EETQ, an AWQ layout other than GEMM, ...).
    """
    config = source.config.get("quantization_config") if isinstance(source.config, dict) else None
    if not isinstance(config, dict):
        return source
    method = str(config.get("quant_method", "")).lower()
    if method in ("gptq", "awq", "fp8"):
        if method == "awq" and str(config.get("version", "gemm")).lower() != "gemm":
            raise SourceError(f"{source.path}: AWQ {config.get('version')!r:.20} layout is not supported (GEMM is)")
        return QuantizedSource(source, method, config)
    if method == "bitsandbytes":
        return QuantizedSource(source, method, {})
    if method == "fbgemm_fp8":
        return QuantizedSource(source, "fp8", config)
    raise SourceError(
        f"{source.path}: {method or 'unknown'} quantization is not supported yet (GPTQ, AWQ, FP8 and "
        "bitsandbytes are): analyze the unquantized model"
    )
