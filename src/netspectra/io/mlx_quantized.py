"""MLX quantized checkpoints (mlx-lm, ``mlx.nn.quantize``), dequantized exactly, one matrix at a time.

An MLX model's ``config.json`` says ``"quantization": {"group_size": g, "bits": b, "mode": ...}`` (mlx-lm
copies it to ``quantization_config``, without a ``quant_method``); an entry keyed by a module's path
overrides it for that module (``{"group_size": 32, "bits": 8}``).  Each quantized module (Linear,
Embedding, the stacked experts of a ``SwitchLinear``) stores three tensors:

* ``<module>.weight``: uint32 (..., out, in b / 32), the b-bit codes of each row as one bit stream
  (:mod:`netspectra.io.packed`);
* ``<module>.scales``: (..., out, in / g), one per group of g consecutive inputs of a row;
* ``<module>.biases`` (``affine`` mode only): likewise.

and W = s q + beta per group (``mx.dequantize``, mode ``affine``: b = 1..8 bits, the scales and biases in the
model's float dtype).  The microscaling modes have no biases: ``mxfp4`` (E2M1 codes, b = 4, g = 32, scales
E8M0 bytes 2^(e - 127)), ``mxfp8`` (E4M3 codes, b = 8, g = 32, E8M0 scales) and ``nvfp4`` (E2M1 codes,
b = 4, g = 16, E4M3 scales); W = value(q) s (OCP Microscaling Formats (MX) v1.0, section 5).

Each quantized weight becomes one ``<module>.weight`` record of the dequantized shape (..., out, in),
dtype ``MLX-int4`` (affine, 4 bits), ``MLX-mxfp4``, ...; its loader rebuilds it in float32 (the product
s q is exact in float32 for float16/bfloat16 scales, the bias added with one rounding; ``mx.dequantize``
itself computes in the scales' dtype, rounding s q and the sum to it), and its ``sigma2_quant`` is read
from the scales (:meth:`_MLXDequantize.noise`).
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..constraints import Interval, OneOf
from ..errors import MatrixError, SourceError
from .base import ModelSource, TensorRecord
from .dtypes import FP4_E2M1_TABLE, FP8_E4M3_TABLE, decode_e8m0
from .packed import CHUNK_ELEMENTS, as_words, check_setting, grid_dequantize, unpack_bits
from .quant_noise import cell_widths, coded_noise, grid_noise, mean_noise
from .quantized import QuantizedSource

#: Bit widths and group sizes of each mode (``mx.quantize``'s table of quantization modes; affine groups of any
#: size that divides a row, 32, 64 and 128 being its kernels'), and the mode's default width and group.
MODES: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None, int, int]] = {
    "affine": ((1, 2, 3, 4, 5, 6, 8), None, 4, 64),
    "mxfp4": ((4,), (32,), 4, 32),
    "mxfp8": ((8,), (32,), 8, 32),
    "nvfp4": ((4,), (16,), 4, 16),
}
_SCALE_DTYPES = {"affine": frozenset({"F32", "F16", "BF16"}), "mxfp4": {"U8"}, "mxfp8": {"U8"}, "nvfp4": {"U8", "F8_E4M3"}}
_WORD_DTYPES = frozenset({"U32", "I32"})


def mlx_quantization(config: dict) -> dict | None:
    """config.json's ``quantization`` of an MLX model (``group_size``/``bits``/``mode``), or None: absent,
    or the checkpoint names a Hugging Face ``quant_method`` (read by :mod:`netspectra.io.quantized`)."""
    quantization = config.get("quantization")
    hf = config.get("quantization_config")
    if not isinstance(quantization, dict) or (isinstance(hf, dict) and "quant_method" in hf):
        return None
    return quantization if {"group_size", "bits", "mode"} & set(quantization) else None


class _MLXDequantize:
    """Loader of one MLX quantized weight (picklable: records and numbers)."""

    def __init__(self, parts: dict[str, TensorRecord], mode: str, bits: int, group: int, shape: tuple[int, ...]) -> None:
        self.parts, self.mode, self.bits, self.group, self.shape = parts, mode, bits, group, shape

    def _scales(self, rows: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The decoded scales (rows, groups) and the code table of a floating-point mode (None for affine)."""
        raw_scales = np.asarray(self.parts["scales"].load()).reshape(rows, -1)
        if self.mode == "affine":
            return raw_scales, None
        table = FP8_E4M3_TABLE if self.mode == "mxfp8" else FP4_E2M1_TABLE
        nv_bytes = self.parts["scales"].dtype == "U8"
        scales = FP8_E4M3_TABLE[raw_scales.astype(np.uint8)] if self.mode == "nvfp4" and nv_bytes else raw_scales
        return (decode_e8m0(scales) if self.mode.startswith("mx") else scales), table

    def __call__(self) -> np.ndarray:
        cols = self.shape[-1]
        rows = math.prod(self.shape[:-1])
        try:
            words = as_words(self.parts["weight"].load()).reshape(rows, -1)
            scales, table = self._scales(rows)
            biases = np.asarray(self.parts["biases"].load()).reshape(rows, -1) if "biases" in self.parts else None

            def codes(start: int, stop: int) -> np.ndarray:
                q = unpack_bits(words[start:stop], self.bits, cols)
                return q if table is None else table[q]

            columns = np.arange(cols) // self.group
            matrix = grid_dequantize(codes, (rows, cols), scales, 1, columns, bias=biases)
        except (ValueError, IndexError) as exc:  # parts whose sizes changed since they were listed
            raise MatrixError(f"MLX {self.mode} parts do not fit together: {exc}") from None
        return matrix.reshape(self.shape)

    def noise(self) -> float:
        """sigma2_quant (:mod:`netspectra.io.quant_noise`): the scale of each group as the step of its affine
        codes; for the microscaling modes, the width of each code's E2M1 or E4M3 cell times its group's scale."""
        cols = self.shape[-1]
        rows = math.prod(self.shape[:-1])
        try:
            scales, table = self._scales(rows)
            groups = np.full(scales.shape[1], self.group)
            if table is None:
                return mean_noise([grid_noise(scales, np.ones(rows), groups)])
            words = as_words(self.parts["weight"].load()).reshape(rows, -1)
            widths = cell_widths(table)
            columns = np.arange(cols) // self.group
            step = max(1, CHUNK_ELEMENTS // max(cols, 1))
            parts = []
            for start in range(0, rows, step):
                q = unpack_bits(words[start : start + step], self.bits, cols)
                parts.append(coded_noise(widths, q, np.asarray(scales[start : start + step], np.float64)[:, columns]))
            return mean_noise(parts)
        except (ValueError, IndexError) as exc:
            raise MatrixError(f"MLX {self.mode} parts do not fit together: {exc}") from None


class MLXQuantizedSource(QuantizedSource):
    """A source whose MLX-quantized weights are listed as one dequantizing record each (module docstring)."""

    def __init__(self, inner: ModelSource, quantization: dict) -> None:
        super().__init__(inner, "mlx", {})
        self.label = os.fspath(inner.path) if inner.path is not None else "model"
        self.quantization = quantization
        self.default = self._scheme(quantization, "quantization")

    def _scheme(self, entry: dict, where: str) -> tuple[str, int, int]:
        """(mode, bits, group_size) of a quantization entry, checked against :data:`MODES`."""
        mode = entry.get("mode", "affine")
        check_setting(self.label, f"{where}.mode", mode, [OneOf(*MODES)])
        widths, groups, bits, group = MODES[mode]
        bits, group = entry.get("bits", bits), entry.get("group_size", group)
        check_setting(self.label, f"{where}.bits", bits, [OneOf(*widths)])
        check_setting(self.label, f"{where}.group_size", group, [OneOf(*groups)] if groups else [Interval(int, 1, None)])
        return mode, bits, group

    def _combine(self, record: TensorRecord, by_name: dict[str, TensorRecord]) -> tuple[dict, TensorRecord] | None:
        name = record.name
        if not name.endswith(".weight") or record.dtype not in _WORD_DTYPES:
            return None
        module = name.removesuffix(".weight")
        override = self.quantization.get(module)
        if override is False:
            return None
        mode, bits, group = self._scheme(override, f"quantization.{module}") if isinstance(override, dict) else self.default
        parts = {"weight": record}
        for role in ("scales", "biases"):
            if f"{module}.{role}" in by_name:
                parts[role] = by_name[f"{module}.{role}"]
        shape = self._checked_shape(module, parts, mode, bits, group)
        dtype = f"MLX-int{bits}" if mode == "affine" else f"MLX-{mode}"
        loader = _MLXDequantize(parts, mode, bits, group, shape)
        return parts, TensorRecord(name, shape, dtype, record.source, loader, noise=loader.noise)

    def _checked_shape(self, module: str, parts: dict[str, TensorRecord], mode: str, bits: int, group: int) -> tuple[int, ...]:
        """The dequantized shape (..., out, in) of a module's parts, or SourceError naming what does not fit."""
        weight = parts["weight"]
        where = f"{weight.source}: {module}"
        if "scales" not in parts:
            raise SourceError(f"{where}.weight is packed {weight.dtype} but the module has no scales")
        scales = parts["scales"]
        if (mode == "affine") != ("biases" in parts):
            raise SourceError(f"{where}: MLX {mode} mode stores {'biases' if mode == 'affine' else 'no biases'}")
        if len(weight.shape) < 2 or weight.shape[-1] * 32 % bits:
            raise SourceError(f"{where}.weight of shape {weight.shape} does not hold whole {bits}-bit codes")
        shape = (*weight.shape[:-1], weight.shape[-1] * 32 // bits)
        grid = (*weight.shape[:-1], shape[-1] // group)
        if shape[-1] % group or scales.shape != grid or parts.get("biases", scales).shape != grid:
            raise SourceError(
                f"{where}: scales {scales.shape} do not give one scale per group of {group} of the "
                f"{bits}-bit weight {weight.shape} (expected {grid})"
            )
        if scales.dtype not in _SCALE_DTYPES[mode] or parts.get("biases", scales).dtype != scales.dtype:
            raise SourceError(f"{where}: MLX {mode} scales are {' or '.join(sorted(_SCALE_DTYPES[mode]))}, not {scales.dtype}")
        return shape


def mlx_dequantizing(source: ModelSource) -> ModelSource | None:
    """``source`` wrapped in :class:`MLXQuantizedSource` when its config.json says MLX quantization, else None."""
    quantization = mlx_quantization(source.config) if isinstance(source.config, dict) else None
    return None if quantization is None else MLXQuantizedSource(source, quantization)
