"""Float arrays back to stored dtypes: exact round trips, bf16 round-to-nearest-even, FP8 refusal."""

from __future__ import annotations

import numpy as np
import pytest

from netspectra.denoise.encoding import encode
from netspectra.errors import MatrixError
from netspectra.io import dtypes


def bits(value: float) -> int:
    return int(encode(np.array([value], dtype=np.float32), "BF16")[0])


def test_bf16_rounds_to_nearest_even():
    assert bits(1.0) == 0x3F80 and bits(-2.0) == 0xC000
    assert bits(1 + 2**-8) == 0x3F80  # halfway between 0x3F80 and 0x3F81: to even
    assert bits(1 + 3 * 2**-8) == 0x3F82  # halfway between 0x3F81 and 0x3F82: to even
    assert bits(1 + 2**-8 + 2**-20) == 0x3F81  # above halfway: up
    assert bits(1 + 2**-9) == 0x3F80  # below halfway: down
    assert bits(np.inf) == 0x7F80 and bits(-0.0) == 0x8000 and bits(np.nan) == 0x7FC0


def test_bf16_agrees_with_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * np.float32(1e3)
    ours = encode(x, "BF16")
    theirs = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "U16", "BOOL"])
def test_decoded_values_encode_back_to_the_same_bytes(dtype):
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, size=64 * dtypes.ITEMSIZE[dtype], dtype=np.uint8).view(dtypes.raw_numpy_dtype(dtype))
    if dtype == "BOOL":
        raw = raw % 2
    if dtype == "I64":  # decoded as float64: exact below 2^53 only
        raw = raw >> 11
    if dtype in ("F64", "F32", "F16", "BF16"):  # keep finite, non-NaN patterns (NaN payloads are not preserved)
        decoded = dtypes.decode(raw, dtype)
        raw = raw[np.isfinite(decoded)]
    again = encode(dtypes.decode(raw, dtype), dtype)
    assert again.dtype.itemsize == dtypes.ITEMSIZE[dtype]
    assert again.tobytes() == raw.tobytes()


@pytest.mark.parametrize("dtype", ["F8_E4M3", "F8_E5M2"])
def test_fp8_round_trips_every_code_and_refuses_other_values(dtype):
    codes = np.arange(256, dtype=np.uint8)
    decoded = dtypes.decode(codes, dtype)
    again = encode(decoded, dtype)
    finite = ~np.isnan(decoded)
    assert np.array_equal(again[finite], codes[finite])
    assert np.all(np.isnan(dtypes.decode(again[~finite], dtype)))
    with pytest.raises(MatrixError, match="not representable"):
        encode(np.array([0.3]), dtype)


def test_unknown_dtype_is_refused():
    with pytest.raises(MatrixError, match="cannot write dtype"):
        encode(np.zeros(3), "C64")
