"""Conversions between results and SQLite values: layer rows and compressed eigenvalue arrays.

Eigenvalues are stored as little-endian float64 bytes compressed with zlib (RFC 1950), so that a
stored spectrum decodes to exactly the array that was analyzed (eigenvalues of W^T W / N, ascending).
Layer rows keep the column names of :meth:`LayerReport.columns`; SQLite has no NaN (it stores NULL),
so a NULL in a float column reads back as NaN.
"""

from __future__ import annotations

import json
import math
import zlib

import numpy as np

from netspectra.constraints import short_repr
from netspectra.scale.workers import available_memory, stack_peak_bytes

#: Codec name written beside every stored spectrum.
EIGENVALUE_CODEC = "zlib-f8le"

#: SQLite type of each Python annotation used by LayerReport; anything else is stored as JSON text.
_SQL_TYPES = {"int": "INTEGER", "int | None": "INTEGER", "float": "REAL", "str": "TEXT", "bool": "INTEGER"}
#: What a NULL reads as, per annotation (None in an ``int | None`` column: a count that was not computed).
_NULL_VALUES = {"float": math.nan, "int": 0, "bool": False, "str": ""}


def sql_type(annotation: str) -> str:
    """SQLite column type for a LayerReport annotation (TEXT holding JSON for anything unusual)."""
    return _SQL_TYPES.get(annotation, "TEXT")


def encode_eigenvalues(eigenvalues: np.ndarray) -> bytes:
    """zlib-compressed little-endian float64 bytes of the eigenvalues of W^T W / N."""
    return zlib.compress(np.ascontiguousarray(eigenvalues, dtype="<f8").tobytes())


#: Most eigenvalues the spectrum of one matrix may hold: one with more would have needed a Gram matrix
#: of over 100 TB; a larger count in a store is forged (unless its row is a conv stack: :func:`spectrum_limit`).
MAX_STORED_EIGENVALUES = 1 << 22


def spectrum_limit(n: object, m: object, num_matrices: object) -> int:
    """The most eigenvalues the stored spectrum of a row with k = ``num_matrices`` matrices N x M may claim.

    :data:`MAX_STORED_EIGENVALUES`, or the k min(N, M) eigenvalues a conv stack pools when that is more
    and the analysis could have held the stack (:func:`~netspectra.scale.workers.stack_peak_bytes` within
    the memory available now, the rule of the conv planner that let it run).  A forged row cannot raise
    the bound past that memory.
    """
    if not all(isinstance(v, int) and v > 0 for v in (n, m, num_matrices)):
        return MAX_STORED_EIGENVALUES
    pooled = num_matrices * min(n, m)
    available = available_memory()
    if pooled <= MAX_STORED_EIGENVALUES or available is None:
        return MAX_STORED_EIGENVALUES
    fits = stack_peak_bytes((num_matrices, n, m)) <= available
    return pooled if fits else MAX_STORED_EIGENVALUES


def decode_eigenvalues(blob: object, count: object, limit: int = MAX_STORED_EIGENVALUES) -> np.ndarray:
    """Inverse of :func:`encode_eigenvalues`; ``count`` guards against a truncated or foreign blob.

    The blob is decompressed to at most ``8 * count`` bytes, so a forged blob (a zlib bomb) costs no
    more memory than the spectrum it claims to be, and ``count`` may not exceed ``limit`` (its row's
    :func:`spectrum_limit`).

    Raises
    ------
    ValueError
        If the blob is not bytes or does not decompress to exactly ``count`` float64 values.
    """
    if not isinstance(count, int) or not 0 <= count <= limit:
        raise ValueError(f"stored spectrum claims {count!r:.40} values (at most {limit})")
    if not isinstance(blob, bytes):
        raise ValueError(f"stored spectrum is {type(blob).__name__}, not bytes")
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(blob, 8 * count + 1)
    except zlib.error as exc:
        raise ValueError(f"stored spectrum does not decompress: {exc}") from None
    if len(raw) != 8 * count or not inflate.eof:
        raise ValueError(f"stored spectrum does not hold the {count} values it claims")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


def to_sql(value: object, annotation: str) -> object:
    """A LayerReport value as a SQLite value (NumPy scalars unwrapped; NaN becomes NULL)."""
    if annotation == "float":
        value = float(value)
        return None if math.isnan(value) else value
    if annotation == "int | None" and value is None:
        return None
    if annotation in ("int", "bool", "int | None"):
        return int(value)
    if annotation == "str":
        return str(value)
    return json.dumps(value)


def from_sql(value: object, annotation: str) -> object:
    """Inverse of :func:`to_sql`, for a value read from a store (untrusted): its type is checked.

    NULL reads as NaN in a float column, None in an ``int | None`` one, and as 0, False or "" in a column
    added to the table after the row was written (a store created by an older netspectra).

    Raises
    ------
    ValueError
        A value SQLite could not have been given by :func:`to_sql` for this annotation (text in a
        number column, a number in a text column, a bool column holding 7, a BLOB anywhere).
    """
    if value is None:
        return _NULL_VALUES.get(annotation)
    if annotation == "float" and isinstance(value, int | float):
        return float(value)
    if annotation in ("int", "int | None") and isinstance(value, int):
        return value
    if annotation == "bool" and value in (0, 1) and isinstance(value, int):
        return bool(value)
    if annotation == "str" and isinstance(value, str):
        return value
    if annotation == "bool | None" and value in ("true", "false", "null"):
        return json.loads(value)
    raise ValueError(f"holds {type(value).__name__} {short_repr(value)}, not {annotation}")
