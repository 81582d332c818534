"""Float arrays back to stored dtypes (the inverse of :func:`netspectra.io.dtypes.decode`), without torch.

* ``F64``/``F32``/``F16`` and the integer dtypes: NumPy casts (integers rounded to nearest first; a
  decoded I64/U64 tensor is float64, exact below 2^53 only, which is why tensors of a safetensors file
  are copied as bytes, not through this function).
* ``BF16``: the upper 16 bits of the float32 pattern after round-to-nearest-even on the lower 16
  (NaN kept as a quiet NaN), the rounding every bf16 conversion in torch and XLA uses.
* ``F8_E4M3``/``F8_E5M2``: only values the format holds exactly (a decoded tensor written back unchanged)
  are encoded, by lookup in the 256-entry decoding table; anything else is refused rather than rounded.
"""

from __future__ import annotations

import numpy as np

from netspectra.errors import MatrixError
from netspectra.io import dtypes

#: Dtypes a compressed matrix may be written in (others are copied unchanged, never recomputed).
COMPRESSIBLE_DTYPES = ("F64", "F32", "F16", "BF16")


def encode(values: np.ndarray, dtype: str) -> np.ndarray:
    """Raw little-endian array of ``values`` in the stored dtype ``dtype`` (viewable as bytes).

    Raises
    ------
    MatrixError
        For an unknown dtype, or an FP8 value the format cannot hold exactly.
    """
    if not dtypes.is_known(dtype):
        raise MatrixError(f"cannot write dtype {dtype}")
    arr = np.asarray(values)
    if dtype == "BF16":
        return _to_bf16(arr)
    if dtype in ("F8_E4M3", "F8_E5M2"):
        return _to_fp8(arr, dtype)
    raw = dtypes.raw_numpy_dtype(dtype)
    if dtype == "BOOL":
        return (arr != 0).astype(raw)
    if dtype in dtypes.INTEGER_DTYPES:
        return np.rint(arr).astype(raw)
    return arr.astype(raw)


def _to_bf16(arr: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1)))) >> 16
    out = rounded.astype("<u2")
    out[np.isnan(arr)] = 0x7FC0
    return out


def _to_fp8(arr: np.ndarray, dtype: str) -> np.ndarray:
    table = dtypes.FP8_E4M3_TABLE if dtype == "F8_E4M3" else dtypes.FP8_E5M2_TABLE
    codes = np.flatnonzero(~np.isnan(table))
    values = table[codes]
    order = np.argsort(values, kind="stable")
    values, codes = values[order], codes[order]
    flat = np.asarray(arr, dtype=np.float32).ravel()
    pos = np.clip(np.searchsorted(values, flat), 0, values.size - 1)
    out = codes[pos].astype(np.uint8)
    nan = np.isnan(flat)
    out[nan] = np.flatnonzero(np.isnan(table))[0]
    exact = (values[pos] == flat) | nan
    if not exact.all():
        raise MatrixError(f"{int(exact.size - np.count_nonzero(exact))} values not representable in {dtype}")
    # -0.0 and +0.0 compare equal: keep the sign bit of negative zeros.
    negative_zero = (flat == 0) & np.signbit(flat)
    out[negative_zero] |= np.uint8(0x80)
    return out.reshape(arr.shape)
