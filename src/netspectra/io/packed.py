"""Integer codes packed into 32-bit words, and weights rebuilt from a grid of per-block scales: what the
MLX and compressed-tensors readers share.

* **Bit-stream packing.**  The codes of a row, ``bits`` wide each, lie end to end from the least significant
  bit of the row's first little-endian 32-bit word: code i occupies bits [i b, (i + 1) b) of the row's
  stream and straddles two words when 32 is not a multiple of b (3, 5, 6, 7 bits).  This is MLX's layout
  (``mx.quantize``: "packed in an unsigned 32 bit integer from the lower to upper bits") and
  compressed-tensors' (``pack_to_int32``: "element i is extracted from global bit position i*num_bits").
* **Grid dequantization.**  W[r, c] = (q[r, c] - z[R(r), C(c)]) s[R(r), C(c)] + beta[R(r), C(c)]: one scale
  s (and zero point z, or bias beta, where the format has them) per block of the grid, R(r) = r // rows
  per block and C(c) the block of column c (c // group, or a stored column-to-group map such as GPTQ's
  activation order ``g_idx``).  Per tensor, per channel, per group and 2-D block schemes are all such
  grids.  Computed in float32, the product rounded once and the bias added once (what each format's own
  code does in float32), in chunks of rows so that no temporary is as large as W.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..constraints import Constraint, short_repr, violation
from ..errors import MatrixError, SourceError

#: Elements of W rebuilt per chunk of rows (bounds every temporary to a few tens of MB).
CHUNK_ELEMENTS = 1 << 22


def as_words(values: np.ndarray) -> np.ndarray:
    """Stored 32-bit words (decoded to float64 by a reader, as signed or unsigned integers) as uint32 bits."""
    return np.asarray(values).astype(np.int64).astype(np.uint32)


def unpack_bits(words: np.ndarray, bits: int, count: int) -> np.ndarray:
    """(rows, w) uint32 words -> (rows, count) uint32 codes of the bit stream of each row (module docstring).

    Raises
    ------
    MatrixError
        When the words hold fewer than ``count * bits`` bits per row.
    """
    rows, width = words.shape
    if not 1 <= bits <= 16 or width * 32 < count * bits:
        raise MatrixError(f"{width} words of 32 bits cannot hold {count} codes of {bits} bits")
    mask = np.uint64((1 << bits) - 1)
    if 32 % bits == 0:
        shifts = np.arange(0, 32, bits, dtype=np.uint32)
        codes = (words[:, :, None] >> shifts) & np.uint32(mask)
        return codes.reshape(rows, -1)[:, :count]
    start = np.arange(count, dtype=np.int64) * bits
    word, offset = start // 32, (start % 32).astype(np.uint64)
    padded = np.zeros((rows, width + 1), dtype=np.uint64)
    padded[:, :width] = words
    pairs = padded[:, word] | (padded[:, word + 1] << np.uint64(32))
    return ((pairs >> offset) & mask).astype(np.uint32)


def grid_dequantize(
    codes: Callable[[int, int], np.ndarray],
    shape: tuple[int, int],
    scale: np.ndarray,
    block_rows: int,
    columns: np.ndarray,
    *,
    zero: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """The float32 (rows, cols) matrix W = (q - z) s + beta on a grid of blocks (module docstring).

    Parameters
    ----------
    codes : callable(start, stop) -> ndarray
        The values q of rows start..stop-1, (stop - start, cols), as float32 (integer codes, or the
        decoded values of a floating-point format).
    shape : (rows, cols)
        Shape of W.
    scale : ndarray
        The 2-D grid of scales, one per block.
    block_rows : int
        Rows per block: R(r) = r // block_rows.
    columns : ndarray of int, (cols,)
        C(c), the block (grid column) of each column of W.
    zero, bias : ndarray, optional
        Zero points subtracted from q, biases added after scaling; grids of the shape of ``scale``.

    Raises
    ------
    MatrixError
        When the grids do not cover the matrix.
    """
    rows, cols = shape
    grids = {"scale": scale, "zero point": zero, "bias": bias}
    for what, grid in grids.items():
        if grid is not None and (grid.ndim != 2 or grid.shape != scale.shape):
            raise MatrixError(f"{what} grid of shape {grid.shape} does not match the scale grid {scale.shape}")
    if (
        block_rows < 1
        or columns.shape != (cols,)
        or (rows > 0 and (rows - 1) // block_rows >= scale.shape[0])
        or (cols > 0 and (columns.min() < 0 or columns.max() >= scale.shape[1]))
    ):
        raise MatrixError(f"a scale grid of shape {scale.shape} does not cover a {rows} x {cols} matrix")
    out = np.empty(shape, dtype=np.float32)
    step = max(1, CHUNK_ELEMENTS // max(cols, 1))
    s32, z32, b32 = (None if g is None else np.asarray(g, dtype=np.float32) for g in (scale, zero, bias))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        block = np.arange(start, stop) // block_rows
        chunk = out[start:stop]
        chunk[...] = codes(start, stop)
        if z32 is not None:
            chunk -= z32[block][:, columns]
        chunk *= s32[block][:, columns]
        if b32 is not None:
            chunk += b32[block][:, columns]
    return out


def check_setting(label: str, where: str, value: object, constraints: Sequence[Constraint]) -> None:
    """Raise :class:`SourceError` ``"{label}: {where} = {value}: must be ..."`` unless one constraint accepts
    ``value`` (a quantization setting read from a model's files)."""
    allowed = violation(value, constraints)
    if allowed is not None:
        raise SourceError(f"{label}: {where} = {short_repr(value)}: must be {allowed}")
