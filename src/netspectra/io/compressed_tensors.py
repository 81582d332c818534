"""compressed-tensors checkpoints (llm-compressor; ``quant_method: compressed-tensors``), dequantized
exactly, one matrix at a time.

``quantization_config`` names a ``format`` (a config group may name its own: ``mixed-precision``) and
``config_groups``, each ``{"targets": [...], "weights": {"num_bits", "type", "symmetric", "strategy",
"group_size", "block_structure"}}``; a target is a module name, ``re:<regex>`` matched at the start of
the name, or a class name (``Linear``).  Each quantized module stores, by format:

* ``pack-quantized`` (integers of 1 to 8 bits): ``weight_packed`` int32 (out, ceil(in b / 32)), the codes
  q + 2^(b-1) of each row as one bit stream (:mod:`netspectra.io.packed`); ``weight_shape`` [out, in];
  ``weight_scale``; ``weight_zero_point`` when asymmetric (int32 packed down the columns, along dim 0,
  for the channel and group strategies);
* ``naive-quantized``, ``int-quantized``, ``float-quantized``: ``weight`` int8 or float8_e4m3fn (out, in),
  ``weight_scale``, ``weight_zero_point`` when asymmetric; ``mxfp8-quantized``: ``weight`` float8_e4m3fn
  and E8M0 scale bytes (2^(e - 127));
* ``nvfp4-pack-quantized``, ``mxfp4-pack-quantized``: ``weight_packed`` uint8 (out, in / 2), two FP4
  E2M1 codes a byte, low nibble first; ``weight_scale`` E4M3 with ``weight_global_scale`` (NVFP4: scale
  / global scale, divided in float32) or E8M0 bytes (MXFP4).

W = (q - z) s on the grid of the ``strategy`` (``compressed_tensors.quantization.lifecycle.forward``):
``tensor`` one scale, ``channel`` one per output row, ``group``/``tensor_group`` one per row and group of
``group_size`` inputs (with a ``weight_g_idx``, GPTQ's activation order, input c is in group g_idx[c]),
``block`` one per ``block_structure`` [rows, columns] block.  Computed in float32: equal to
compressed-tensors' own ``dequantize`` with float32 scales (with bfloat16 scales it rounds to bfloat16,
this does not).  The record of a module is ``<module>.weight`` with dtype ``CT-int4``, ``CT-fp8``,
``CT-nvfp4``, ``CT-mxfp4`` or ``CT-mxfp8``.  Sparse formats (``sparse-bitmask``, ``sparse-24-bitmask``,
``marlin-24``) and ``mxfp6`` are refused, naming the format.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import regex

from ..constraints import NONE, Interval, Kind, OneOf
from ..errors import MatrixError, SourceError
from .base import ModelSource, TensorRecord
from .dtypes import FP4_E2M1_TABLE, FP8_E4M3_TABLE, decode_e8m0
from .packed import CHUNK_ELEMENTS, as_words, check_setting, grid_dequantize, unpack_bits
from .quant_noise import cell_widths, grid_noise, mean_noise, scaled_noise, value_widths
from .quantized import QuantizedSource

#: Formats whose quantized weights this module reads (``dense``: nothing is compressed).
FORMATS = (
    "pack-quantized",
    "naive-quantized",
    "int-quantized",
    "float-quantized",
    "nvfp4-pack-quantized",
    "mxfp4-pack-quantized",
    "mxfp8-quantized",
    "mixed-precision",
    "dense",
)
STRATEGIES = ("tensor", "channel", "group", "tensor_group", "block")
_PARTS = ("weight_scale", "weight_zero_point", "weight_shape", "weight_global_scale", "weight_g_idx")
_FLOAT_SCALES = frozenset({"F32", "F16", "BF16", "F8_E4M3"})
_INTEGERS = frozenset({"I8", "I16", "I32", "I64", "U8"})
#: Longest a config group's regex target may take to match one module name.
REGEX_SECONDS = 1.0
_PAIR = Kind((list, tuple), "two positive integers", lambda v: len(v) == 2 and all(Interval(int, 1, None).accepts(d) for d in v))
_NAMES = Kind(list, "a list of strings", lambda v: all(isinstance(t, str) for t in v))


@dataclass(frozen=True)
class WeightArgs:
    """The ``weights`` quantization arguments of a config group, checked."""

    num_bits: int
    type: str
    strategy: str
    group_size: int | None
    block_structure: tuple[int, int] | None


def weight_args(entry: object, label: str, where: str) -> WeightArgs:
    """:class:`WeightArgs` of a config group's ``weights`` entry; SourceError naming what is wrong.

    A missing ``strategy`` is ``group`` when a ``group_size`` is given (``channel`` for -1), else
    ``tensor``, as compressed-tensors' ``QuantizationArgs`` decides.
    """
    check_setting(label, where, entry, [Kind(dict, "an object")])
    assert isinstance(entry, dict)
    bits, kind, symmetric = entry.get("num_bits", 8), entry.get("type", "int"), entry.get("symmetric", True)
    group, block = entry.get("group_size"), entry.get("block_structure")
    check_setting(label, f"{where}.num_bits", bits, [Interval(int, 1, 8)])
    check_setting(label, f"{where}.type", kind, [OneOf("int", "float")])
    check_setting(label, f"{where}.symmetric", symmetric, [OneOf(True, False)])
    check_setting(label, f"{where}.group_size", group, [NONE, OneOf(-1), Interval(int, 1, None)])
    check_setting(label, f"{where}.block_structure", block, [NONE, _PAIR])
    strategy = entry.get("strategy") or ("tensor" if group is None else "channel" if group == -1 else "group")
    check_setting(label, f"{where}.strategy", strategy, [OneOf(*STRATEGIES)])
    if (strategy in ("group", "tensor_group") and group is None) or (group == -1 and strategy != "channel"):
        raise SourceError(f"{label}: {where}: strategy {strategy} needs a positive group_size, not {group!r}")
    if strategy == "block" and block is None:
        raise SourceError(f"{label}: {where}: strategy block needs a block_structure")
    return WeightArgs(bits, kind, strategy, group, tuple(block) if block is not None else None)


@dataclass(frozen=True)
class _Scheme:
    """A config group: its name, targets and weight arguments."""

    name: str
    targets: tuple[str, ...]
    args: WeightArgs


@dataclass(frozen=True)
class _Layout:
    """How one module's parts rebuild W: the storage, the grid (rows per block, column-to-block map rule)."""

    storage: str  # "packed-int", "packed-fp4", "int" or "float"
    shape: tuple[int, int]
    bits: int
    block_rows: int
    group: int  # columns per block (0: every column in block 0)
    grid: tuple[int, int]
    packed_zero: bool
    dtype: str


def _matches(target: str, module: str, label: str) -> int:
    """How specifically ``target`` names ``module``: 0 exactly, 1 by regex, 2 as a class name (unknown here:
    every module matches), -1 not at all (compressed-tensors' ``match_targets`` order).

    A regex is matched with the ``regex`` package under :data:`REGEX_SECONDS`: the pattern comes from the
    file, and one that backtracks catastrophically is refused (SourceError) rather than left to hang.
    """
    if target.startswith("re:"):
        try:
            return 1 if regex.match(target[3:], module, timeout=REGEX_SECONDS) else -1
        except (regex.error, ValueError, TypeError):
            return -1
        except TimeoutError:
            raise SourceError(f"{label}: matching target {target[:60]!r} took over {REGEX_SECONDS} s: refused") from None
    if target == module:
        return 0
    return 2 if target.isidentifier() and target[:1].isupper() else -1


class _CTDequantize:
    """Loader of one compressed-tensors weight (picklable: records and a layout)."""

    def __init__(self, parts: dict[str, TensorRecord], layout: _Layout) -> None:
        self.parts, self.layout = parts, layout

    def __call__(self) -> np.ndarray:
        lay = self.layout
        try:
            stored = np.asarray(self.parts["weight"].load())
            scale, columns = self._scale_grid()
            codes = self._codes(stored)
            return grid_dequantize(codes, lay.shape, scale, lay.block_rows, columns, zero=self._zero())
        except (ValueError, IndexError) as exc:  # parts whose sizes changed since they were listed
            raise MatrixError(f"compressed-tensors parts do not fit together: {exc}") from None

    def noise(self) -> float:
        """sigma2_quant (:mod:`netspectra.io.quant_noise`): each block's scale as the step of integer codes; for
        FP8 and FP4 codes, the width of each code's E4M3 or E2M1 cell times its block's scale."""
        lay = self.layout
        rows, cols = lay.shape
        try:
            scale, columns = self._scale_grid()
            if lay.storage in ("packed-int", "int"):
                row_counts = np.bincount(np.arange(rows) // lay.block_rows, minlength=lay.grid[0])
                return mean_noise([grid_noise(scale, row_counts, np.bincount(columns, minlength=lay.grid[1]))])
            stored = np.asarray(self.parts["weight"].load())
            fp4 = cell_widths(FP4_E2M1_TABLE)
            step = max(1, CHUNK_ELEMENTS // max(cols, 1))
            parts = []
            for start in range(0, rows, step):
                stop = min(rows, start + step)
                if lay.storage == "float":
                    widths = value_widths(stored[start:stop], FP8_E4M3_TABLE)
                else:
                    chunk = stored[start:stop].astype(np.uint8)
                    widths = fp4[np.stack((chunk & 15, chunk >> 4), axis=-1).reshape(stop - start, -1)]
                block_scale = np.asarray(scale, np.float64)[np.arange(start, stop) // lay.block_rows][:, columns]
                parts.append(scaled_noise(widths, block_scale))
            return mean_noise(parts)
        except (ValueError, IndexError) as exc:
            raise MatrixError(f"compressed-tensors parts do not fit together: {exc}") from None

    def _scale_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The grid of scales (divided by the global scale, NVFP4) and the block of each column of W."""
        lay = self.layout
        scale = self._grid("weight_scale")
        if "weight_global_scale" in self.parts:
            global_scale = np.asarray(self.parts["weight_global_scale"].load(), dtype=np.float32).reshape(())
            scale = scale / global_scale
        cols = lay.shape[1]
        columns = np.zeros(cols, dtype=np.int64) if lay.group == 0 else np.arange(cols) // lay.group
        if "weight_g_idx" in self.parts:
            g_idx = np.asarray(self.parts["weight_g_idx"].load()).reshape(-1)
            if not (g_idx < 0).any():  # all -1: columns in their natural groups
                columns = g_idx.astype(np.int64)
        return scale, columns

    def _grid(self, role: str) -> np.ndarray:
        """A stored scale as its 2-D grid of float32 values (E8M0 bytes decoded)."""
        record = self.parts[role]
        values = np.asarray(record.load())
        values = decode_e8m0(values) if record.dtype == "U8" else values.astype(np.float32)
        return values.reshape(self.layout.grid)

    def _zero(self) -> np.ndarray | None:
        record = self.parts.get("weight_zero_point")
        if record is None:
            return None
        lay = self.layout
        if not lay.packed_zero:
            return np.asarray(record.load(), dtype=np.float32).reshape(lay.grid)
        offset = 1 << (lay.bits - 1)
        codes = unpack_bits(as_words(record.load()).T, lay.bits, lay.grid[0]).T
        return codes.astype(np.float32) - offset

    def _codes(self, stored: np.ndarray) -> Callable[[int, int], np.ndarray]:
        lay = self.layout
        if lay.storage == "packed-int":
            words = as_words(stored)
            offset = np.float32(1 << (lay.bits - 1))
            return lambda start, stop: unpack_bits(words[start:stop], lay.bits, lay.shape[1]).astype(np.float32) - offset
        if lay.storage == "packed-fp4":
            packed = stored.astype(np.uint8)

            def fp4(start: int, stop: int) -> np.ndarray:
                chunk = packed[start:stop]
                return FP4_E2M1_TABLE[np.stack((chunk & 15, chunk >> 4), axis=-1).reshape(stop - start, -1)]

            return fp4
        return lambda start, stop: stored[start:stop]


def _fit(storage: str, shape: tuple[int, int], args: WeightArgs, parts: dict[str, TensorRecord]) -> _Layout:
    """The layout of the parts under ``args``; ValueError saying what does not fit."""
    rows, cols = shape
    bits = args.num_bits
    kinds = {"packed-int": ("int", None), "int": ("int", None), "float": ("float", 8), "packed-fp4": ("float", 4)}
    kind, width = kinds[storage]
    if args.type != kind or (width is not None and bits != width):
        raise ValueError(f"its {args.type} {bits}-bit weights are not {storage}")
    if storage == "packed-int" and parts["weight"].shape[1] != -(-cols * bits // 32):
        raise ValueError(f"{cols} inputs of {bits} bits do not pack into {parts['weight'].shape[1]} words")
    strategy, group = args.strategy, args.group_size or 0
    block_rows, columns_per_block = rows, 0
    if strategy == "channel":
        block_rows = 1
    elif strategy in ("group", "tensor_group"):
        block_rows, columns_per_block = 1, group
        if "weight_g_idx" not in parts and cols % group:
            raise ValueError(f"group_size {group} does not divide the {cols} inputs")
    elif strategy == "block":
        block_rows, columns_per_block = args.block_structure or (rows, cols)
    grid = (-(-rows // block_rows), -(-cols // columns_per_block) if columns_per_block else 1)
    scale = parts["weight_scale"]
    if math.prod(scale.shape) != math.prod(grid) or (len(scale.shape) == 2 and scale.shape != grid):
        raise ValueError(f"{strategy} scales of shape {scale.shape} are not a {grid[0]} x {grid[1]} grid")
    if scale.dtype not in _FLOAT_SCALES | {"U8"}:
        raise ValueError(f"weight_scale is {scale.dtype}")
    packed_zero = False
    zero = parts.get("weight_zero_point")
    if zero is not None:
        packed_zero = storage == "packed-int" and strategy in ("channel", "group") and zero.dtype == "I32"
        expected = (-(-grid[0] * bits // 32), grid[1]) if packed_zero else None
        if zero.dtype not in _INTEGERS or (zero.shape != expected if packed_zero else math.prod(zero.shape) != math.prod(grid)):
            raise ValueError(f"weight_zero_point {zero.dtype} {zero.shape} does not fit a {grid[0]} x {grid[1]} grid")
    g_idx = parts.get("weight_g_idx")
    if g_idx is not None and (g_idx.shape != (cols,) or g_idx.dtype not in _INTEGERS):
        raise ValueError(f"weight_g_idx of shape {g_idx.shape} does not map {cols} inputs")
    global_scale = parts.get("weight_global_scale")
    if global_scale is not None and math.prod(global_scale.shape) != 1:
        raise ValueError(f"weight_global_scale of shape {global_scale.shape} is not one number")
    if storage == "packed-fp4":
        dtype = "CT-mxfp4" if scale.dtype == "U8" else "CT-nvfp4"
    elif storage == "float":
        dtype = "CT-mxfp8" if scale.dtype == "U8" else "CT-fp8"
    else:
        dtype = f"CT-int{bits}"
    return _Layout(storage, shape, bits, block_rows, columns_per_block, grid, packed_zero, dtype)


class CompressedTensorsSource(QuantizedSource):
    """A source whose compressed-tensors weights are listed as one dequantizing record each (module docstring)."""

    def __init__(self, inner: ModelSource, config: dict) -> None:
        super().__init__(inner, "compressed-tensors", {})
        self.label = label = os.fspath(inner.path) if inner.path is not None else "model"
        fmt = config.get("format", "dense")
        check_setting(label, "quantization_config.format", fmt, [OneOf(*FORMATS)])
        sparsity = config.get("sparsity_config") or {}
        if isinstance(sparsity, dict) and sparsity.get("format", "dense") != "dense":
            raise SourceError(f"{label}: compressed-tensors sparsity format {str(sparsity.get('format'))!r:.40} is not supported")
        groups = config.get("config_groups") or {}
        check_setting(label, "quantization_config.config_groups", groups, [Kind(dict, "an object")])
        self.schemes: list[_Scheme] = []
        for name, group in groups.items():
            where = f"quantization_config.config_groups.{name}"
            check_setting(label, where, group, [Kind(dict, "an object")])
            targets = group.get("targets", [])
            check_setting(label, f"{where}.targets", targets, [_NAMES])
            if group.get("weights") is None:
                continue  # activations only: the weights are stored as they are
            check_setting(label, f"{where}.format", group.get("format") or fmt, [OneOf(*FORMATS)])
            args = weight_args(group["weights"], label, f"{where}.weights")
            self.schemes.append(_Scheme(name, tuple(targets), args))

    def _combine(self, record: TensorRecord, by_name: dict[str, TensorRecord]) -> tuple[dict, TensorRecord] | None:
        name = record.name
        if name.endswith(".weight_packed"):
            module = name.removesuffix(".weight_packed")
        elif name.endswith(".weight") and f"{name}_scale" in by_name and record.dtype in ("I8", "F8_E4M3"):
            module = name.removesuffix(".weight")
        else:
            return None
        parts = {"weight": record} | {role: by_name[f"{module}.{role}"] for role in _PARTS if f"{module}.{role}" in by_name}
        if "weight_scale" not in parts:
            raise SourceError(f"{record.source}: {name} has no weight_scale")
        layout = self._layout(module, parts)
        stored = {role: part for role, part in parts.items() if role != "weight_shape"}
        loader = _CTDequantize(stored, layout)
        return parts, TensorRecord(f"{module}.weight", layout.shape, layout.dtype, record.source, loader, noise=loader.noise)

    def _layout(self, module: str, parts: dict[str, TensorRecord]) -> _Layout:
        """The layout of a module's parts under the first config group that targets it and fits them."""
        weight = parts["weight"]
        where = f"{weight.source}: {module}"
        storage, shape = self._storage(where, parts)
        ranked = []
        for index, scheme in enumerate(self.schemes):
            ranks = [rank for target in scheme.targets if (rank := _matches(target, module, self.label)) >= 0]
            if ranks:
                ranked.append((min(ranks), index, scheme))
        reasons = []
        for _, _, scheme in sorted(ranked, key=lambda c: c[:2]):
            try:
                return _fit(storage, shape, scheme.args, parts)
            except ValueError as exc:
                reasons.append(f"{scheme.name}: {exc}")
        why = "; ".join(reasons) if reasons else "no config group targets it"
        raise SourceError(f"{where}: no compressed-tensors config group describes its {storage} parts ({why})")

    def _storage(self, where: str, parts: dict[str, TensorRecord]) -> tuple[str, tuple[int, int]]:
        """The storage kind of a module's weight and the shape of W it holds."""
        weight = parts["weight"]
        if len(weight.shape) != 2:
            raise SourceError(f"{where}: {len(weight.shape)}-D compressed-tensors weights are not supported (2-D are)")
        rows, width = weight.shape
        if weight.dtype == "U8":
            return "packed-fp4", (rows, 2 * width)
        if weight.dtype in ("I8", "F8_E4M3") and "weight_shape" not in parts:
            return ("int" if weight.dtype == "I8" else "float"), (rows, width)
        if weight.dtype != "I32":
            raise SourceError(f"{where}.weight_packed is {weight.dtype}; compressed-tensors packs int32 words or uint8 FP4 pairs")
        record = parts.get("weight_shape")
        if record is None or record.shape != (2,) or record.dtype not in _INTEGERS:
            raise SourceError(f"{where}: packed weight without a weight_shape of two integers")
        stored = [int(d) for d in np.asarray(record.load()).reshape(-1)]
        if stored[0] != rows or not 0 < stored[1] <= width * 32:
            raise SourceError(f"{where}: weight_shape {stored} does not fit the packed words {weight.shape}")
        return "packed-int", (rows, stored[1])


def compressed_tensors_dequantizing(source: ModelSource) -> ModelSource | None:
    """``source`` wrapped in :class:`CompressedTensorsSource` when its config.json says compressed-tensors, else None."""
    config = source.config.get("quantization_config") if isinstance(source.config, dict) else None
    if not isinstance(config, dict) or str(config.get("quant_method", "")).lower() != "compressed-tensors":
        return None
    return CompressedTensorsSource(source, config)
