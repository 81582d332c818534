"""The quantization noise of a stored weight, known from its format: the ``sigma2_quant`` column.

Rounding a value to a grid whose neighbouring points lie a step Delta apart leaves an error that is, for
values spread over many steps, uniform on [-Delta/2, Delta/2]: variance Delta^2 / 12 (Widrow & Kollar,
"Quantization Noise", Cambridge University Press 2008, ch. 4; the textbook model of a uniform quantizer).
A block-quantized weight W_q = W + E therefore carries a noise E of per-entry variance Delta_b^2 / 12 in
block b, and

    sigma2_quant = (1 / (N M)) sum_b n_b Delta_b^2 / 12,

the mean over the N M entries (n_b of them in block b), in the units of the entries of W: the same units
as ``sigma2_mp``, the variance of the entries of a random matrix whose Marchenko–Pastur law fits the bulk of
W^T W / N.  If E were independent of W and of its own entries, its spectrum alone would be MP with sigma^2 =
sigma2_quant, so ``sigma2_quant / sigma2_mp`` is the share of the bulk that the rounding alone can make.

The step Delta of each format:

* integer codes times a scale (GGUF Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; GPTQ, AWQ; MLX affine; compressed-tensors
  int; LLM.int8): the scale of the block (one code apart is one scale apart);
* GGUF K-quants (Q2_K .. Q6_K): super-block scale times the sub-block's 4-, 6- or 8-bit scale
  (``d * sc``), the step between two codes of the sub-block;
* codebooks with unequal spacing (FP8 E4M3 and FP4 E2M1 codes, bitsandbytes NF4/FP4, float16 and bfloat16
  storage): the effective step of the code's cell, from its gaps to the two neighbouring codes
  (:func:`cell_widths`; for a float format the spacing of the exponent's binade, 2^(e - mantissa bits)),
  times the block's scale;
* float32 and float64 storage: 0 (nothing rounded beyond the float the weights were trained in).

Formats whose codes are vectors (GGUF IQ2/IQ3/IQ1 lattices, TQ ternaries) or whose block structure is not
read here get NaN.
"""

from __future__ import annotations

from functools import cache

import numpy as np

#: The uniform-noise factor: a uniform error on [-Delta/2, Delta/2] has variance Delta^2 / 12.
UNIFORM = 1.0 / 12.0


def uniform_noise(steps: np.ndarray, counts: np.ndarray | float = 1.0) -> tuple[float, float]:
    """(sum of the per-entry noise variances, number of entries) of blocks with steps Delta_b of ``counts``
    entries each: (sum_b n_b Delta_b^2 / 12, sum_b n_b), accumulated in float64.

    ``counts`` broadcasts against ``steps`` (a number: every block holds that many entries)."""
    steps = np.asarray(steps, dtype=np.float64)
    weights = np.broadcast_to(np.asarray(counts, dtype=np.float64), steps.shape)
    return float(np.sum(steps * steps * weights)) * UNIFORM, float(np.sum(weights))


def cell_widths(codebook: np.ndarray) -> np.ndarray:
    """The effective step of each code of a codebook (values in code order, finite or not): the step w of a
    uniform grid with the same rounding variance, w^2 / 12 = E (x - c)^2 for x uniform over the code's cell
    [c - a, c + b] (a, b half the gaps to the neighbours below and above on the sorted grid):

        w^2 = 4 (a^2 - a b + b^2),

    w = the gap for equal gaps; an end code's cell is taken as wide outside as inside (b = a); NaN for a
    non-finite code.  For a float format this is the spacing of the code's binade (2^(e - mantissa bits)),
    sqrt(3)/2 of it at a power of two (whose lower neighbour is half a spacing closer), the subnormal spacing
    near 0.  Codes of equal value (+0 and -0) share their cell.
    """
    with np.errstate(invalid="ignore"):  # NaN codes (float16's, bfloat16's) stay NaN
        values = np.asarray(codebook, dtype=np.float64)
    widths = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    grid = np.unique(values[finite])
    if grid.size < 2:
        return np.where(finite, 0.0, np.nan)
    gaps = np.diff(grid) / 2.0
    below, above = np.concatenate(([gaps[0]], gaps)), np.concatenate((gaps, [gaps[-1]]))
    cell = np.sqrt(4.0 * (below * below - below * above + above * above))
    widths[finite] = cell[np.searchsorted(grid, values[finite])]
    return widths


@cache
def float16_widths() -> np.ndarray:
    """:func:`cell_widths` of every IEEE half-precision code (65,536, indexed by the bits)."""
    return cell_widths(np.arange(1 << 16, dtype=np.uint16).view(np.float16))


@cache
def bfloat16_widths() -> np.ndarray:
    """:func:`cell_widths` of every bfloat16 code (65,536, indexed by the bits: the top half of a float32)."""
    return cell_widths((np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)).view(np.float32))


def scaled_noise(widths: np.ndarray, scales: np.ndarray | float = 1.0) -> tuple[float, float]:
    """(sum of (w s)^2 / 12 over the entries, number of entries) of entries whose cells are ``widths`` wide in
    code units, each times its scale (``scales`` broadcast against ``widths``), in float64."""
    w = np.asarray(widths, dtype=np.float64) * np.asarray(scales, dtype=np.float64)
    return float(np.sum(w * w)) * UNIFORM, float(w.size)


def coded_noise(widths: np.ndarray, codes: np.ndarray, scales: np.ndarray | float = 1.0) -> tuple[float, float]:
    """:func:`scaled_noise` of codes (an integer array) of a codebook whose cell widths are ``widths``."""
    return scaled_noise(np.asarray(widths, dtype=np.float64)[np.asarray(codes, dtype=np.intp)], scales)


def grid_noise(steps: np.ndarray, row_counts: np.ndarray, column_counts: np.ndarray) -> tuple[float, float]:
    """(sum of Delta^2 / 12 over the entries, number of entries) of a matrix whose step is constant on the cells
    of a grid: ``steps`` (R, C), cell (i, j) holding row_counts[i] x column_counts[j] entries (a GPTQ group of
    input rows by one output column, an MLX group of a row, one block of a 2-D block scheme, ...); no array of
    the matrix's size is made: the sum is r^T (Delta o Delta) c / 12."""
    steps = np.asarray(steps, dtype=np.float64)
    rows, columns = np.asarray(row_counts, dtype=np.float64), np.asarray(column_counts, dtype=np.float64)
    return float(rows @ (steps * steps) @ columns) * UNIFORM, float(rows.sum() * columns.sum())


def value_widths(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """The cell widths (:func:`cell_widths`) of decoded ``values``, each one of the finite values of ``codebook``
    (an FP8 weight read as float32), as float32."""
    grid = np.unique(np.asarray(codebook, dtype=np.float64)[np.isfinite(codebook)])
    widths = cell_widths(grid).astype(np.float32)
    index = np.clip(np.searchsorted(grid, values), 0, grid.size - 1)
    return widths[index]


def mean_noise(parts: list[tuple[float, float]]) -> float:
    """sigma2_quant from (sum, count) parts of one weight: the total noise over the total entries (NaN for none)."""
    total, count = (sum(values) for values in zip(*parts, strict=True)) if parts else (0.0, 0.0)
    return total / count if count > 0 else float("nan")
