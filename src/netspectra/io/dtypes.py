"""Stored dtypes and their conversion to float32/float64 NumPy arrays, without torch or ml_dtypes.

Dtype names follow the safetensors spelling (``F32``, ``BF16``, ``F8_E4M3``, ``I8``, ...); every
source (torch files, ONNX, NumPy, live modules) reports its dtypes with these names.

* ``BF16`` is the upper half of an IEEE float32: shifting the raw ``uint16`` left by 16 bits and
  reinterpreting as ``float32`` is exact.
* ``F8_E4M3`` is OCP FP8 E4M3FN (sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities;
  ``0x7F`` and ``0xFF`` are NaN; largest finite value 448).  ``F8_E5M2`` is IEEE-like (bias 15,
  exponent 31 with zero mantissa is +-inf, otherwise NaN; largest finite value 57344).  Both are
  decoded with a 256-entry lookup table built from the bit layout.
* ``FP4 E2M1`` (OCP microscaling, MX v1.0 section 5.3.3; NVFP4): sign, 2 exponent bits with bias 1, 1 mantissa
  bit; the 16 codes are 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives, decoded with a 16-entry table.
* ``E8M0`` (the MX block scale): 8 exponent bits, bias 127, no sign or mantissa: 2^(e - 127); 0xFF is NaN.
"""

from __future__ import annotations

import numpy as np

#: Bytes per element of every dtype a reader can decode.
ITEMSIZE: dict[str, int] = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
}

#: Integer (and boolean) dtypes: analyzed as floats, without any dequantization scale.
INTEGER_DTYPES = frozenset({"I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"})

#: Floating dtypes.
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})

# Little-endian raw storage dtype of each stored dtype (what the bytes are viewed as before decoding).
_RAW: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "F8_E4M3": "u1",
    "F8_E5M2": "u1",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "u1",
}

# Dtypes whose values need float64 to be represented exactly.
_WIDE = frozenset({"F64", "I64", "I32", "U64", "U32"})

# NumPy dtype -> stored dtype name (for .npy/.npz and ONNX arrays).
_FROM_NUMPY: dict[str, str] = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint64": "U64",
    "uint32": "U32",
    "uint16": "U16",
    "uint8": "U8",
    "bool": "BOOL",
}

#: torch dtype name (str(torch.float32) without the "torch.") -> stored dtype name: NumPy's names, torch's
#: aliases of them, and the complex dtypes.
TORCH_DTYPES: dict[str, str] = {
    **_FROM_NUMPY,
    "double": "F64",
    "float": "F32",
    "half": "F16",
    "long": "I64",
    "int": "I32",
    "short": "I16",
    "complex64": "C64",
    "complex128": "C128",
}


def _fp8_table(exp_bits: int, man_bits: int, bias: int, finite_only: bool) -> np.ndarray:
    """256-entry float32 table decoding every FP8 bit pattern (sign | exponent | mantissa)."""
    table = np.empty(256, dtype=np.float32)
    exp_max = (1 << exp_bits) - 1
    man_max = (1 << man_bits) - 1
    for byte in range(256):
        sign = -1.0 if byte >> 7 else 1.0
        exp = (byte >> man_bits) & exp_max
        man = byte & man_max
        if finite_only and exp == exp_max and man == man_max:
            value = float("nan")  # E4M3FN: S.1111.111 is NaN, there is no infinity
        elif not finite_only and exp == exp_max:
            value = sign * float("inf") if man == 0 else float("nan")
        elif exp == 0:
            value = sign * (man / (1 << man_bits)) * 2.0 ** (1 - bias)  # subnormal
        else:
            value = sign * (1.0 + man / (1 << man_bits)) * 2.0 ** (exp - bias)
        table[byte] = value
    table.setflags(write=False)
    return table


#: Decoding tables for the two FP8 formats.
FP8_E4M3_TABLE = _fp8_table(4, 3, 7, finite_only=True)
FP8_E5M2_TABLE = _fp8_table(5, 2, 15, finite_only=False)


#: Decoding table of the 16 FP4 E2M1 codes (sign bit 3, then two exponent bits and one mantissa bit).
FP4_E2M1_TABLE = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float32)
FP4_E2M1_TABLE.setflags(write=False)


def decode_e8m0(raw: np.ndarray) -> np.ndarray:
    """E8M0 block scales (bytes) as float32: 2^(e - 127) exactly (2^-127 is a float32 subnormal), NaN for 0xFF."""
    exponents = np.asarray(raw).astype(np.int32)
    scales = np.ldexp(np.float32(1.0), exponents - 127).astype(np.float32)
    scales[exponents == 255] = np.nan
    return scales


def is_known(dtype: str) -> bool:
    """Whether :func:`decode` can convert this stored dtype."""
    return dtype in _RAW


def raw_numpy_dtype(dtype: str) -> np.dtype:
    """The NumPy dtype the raw little-endian bytes of ``dtype`` are viewed as."""
    return np.dtype(_RAW[dtype])


def result_dtype(dtype: str) -> type:
    """float64 for dtypes float32 cannot hold exactly (F64, 32/64-bit integers), else float32."""
    return np.float64 if dtype in _WIDE else np.float32


def decode(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Convert raw stored values (viewed with :func:`raw_numpy_dtype`) to a new float32/float64 array."""
    if dtype == "BF16":  # the upper half of a float32: one pass, one new array
        out = np.empty(raw.shape, dtype=np.uint32)
        np.left_shift(raw, 16, out=out, dtype=np.uint32)
        return out.view(np.float32)
    if dtype == "F8_E4M3":
        return FP8_E4M3_TABLE[raw]
    if dtype == "F8_E5M2":
        return FP8_E5M2_TABLE[raw]
    return raw.astype(result_dtype(dtype))


def decode_bytes(buffer: bytes | memoryview | np.ndarray, dtype: str, count: int, offset: int = 0) -> np.ndarray:
    """Decode ``count`` elements of ``dtype`` from a bytes-like object starting at byte ``offset``."""
    raw = np.frombuffer(buffer, dtype=raw_numpy_dtype(dtype), count=count, offset=offset)
    return decode(raw, dtype)


def from_numpy(dtype: np.dtype) -> str:
    """Stored dtype name of a NumPy dtype (``float32`` -> ``F32``); unknown ones keep their NumPy name."""
    dt = np.dtype(dtype)
    return _FROM_NUMPY.get(dt.name, dt.str if dt.name.startswith("void") else dt.name)


def from_torch(dtype: object) -> str:
    """Stored dtype name of a torch dtype, given as the dtype or its name (``torch.bfloat16`` -> ``BF16``)."""
    name = str(dtype).removeprefix("torch.")
    return TORCH_DTYPES.get(name, name)


def numpy_to_float(arr: np.ndarray, dtype_name: str) -> np.ndarray:
    """Convert a NumPy array (any stored dtype, including ml_dtypes bfloat16/fp8) to float32/float64."""
    if arr.dtype.kind in "fiub":
        target = np.float64 if arr.dtype.itemsize >= 8 or arr.dtype.kind in "iu" and arr.dtype.itemsize >= 4 else np.float32
        return np.asarray(arr, dtype=target)
    if dtype_name in ("BF16", "F8_E4M3", "F8_E5M2") and arr.dtype.itemsize in (1, 2):
        # ml_dtypes types: reinterpret the bytes and decode with our own tables.
        raw = np.ascontiguousarray(arr).view(raw_numpy_dtype(dtype_name).newbyteorder("="))
        return decode(raw, dtype_name)
    raise TypeError(f"cannot convert dtype {arr.dtype} to float")
