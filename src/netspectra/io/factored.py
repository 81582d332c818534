"""Factored models (``netspectra compress``'s default output) read back as the model they stand for.

``compress`` stores a matrix W (R x C) whose low-rank estimate is smaller as two factors, ``NAME.A``
(R x r) and ``NAME.B`` (r x C), and says so in a JSON sidecar ``OUT.json`` beside ``OUT.safetensors``::

    {"format": "netspectra-factored", "version": 1, "weights": "OUT.safetensors",
     "factored": {"fc1.weight": {"A": "fc1.weight.A", "B": "fc1.weight.B",
                                 "shape": [256, 64], "dtype": "F32", "rank": 12}, ...}}

Every tensor not listed is stored as it is, under its own name.  Read through
:class:`~netspectra.io.safetensors_source.SafetensorsSource`, such a file yields each factored matrix
as one record under its original name and shape whose loader forms W = A B (:func:`factor_product`),
one matrix at a time, and the other tensors as stored: analyze, compare, compress and merge see the
model, not its factors.

A file is factored when its ``__metadata__`` entry ``netspectra`` (JSON, written by compress) says
``"factored": true`` (the sidecar is then required), or when a sidecar of this format lies beside it.
Before any tensor is read, what the sidecar says is checked against the file's header: its format,
version and ``weights`` (this file's name); each entry's factors exist, are 2-D, of one float dtype
(F64, F32, F16, BF16, the one it states), A (R x r) and B (r x C) with [R, C] its ``shape`` and r its
``rank`` (at most min(R, C)); no factor serves twice, no factored name is also stored; and W fits in
the memory available now.  Any lie is a :class:`~netspectra.errors.SourceError`, one line naming the
sidecar.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SourceError
from ..scale.workers import available_memory
from . import dtypes
from .base import MAX_JSON_BYTES
from .paths import model_roots, resolve_inside
from .safetensors_file import SafetensorsEntry, SafetensorsFile, SafetensorsLoader
from .structured import read_json_file

SIDECAR_FORMAT = "netspectra-factored"
SIDECAR_VERSION = 1
#: The dtypes compress writes factors in.
FACTOR_DTYPES = ("F64", "F32", "F16", "BF16")
#: Rows of W formed at once: float64 blocks of about this many bytes.
_BLOCK_BYTES = 16 << 20


def sidecar_path(weights: str | os.PathLike) -> Path:
    """``OUT.json`` for ``OUT.safetensors`` (``OUT.ext.json`` for any other suffix)."""
    path = Path(weights)
    return path.with_suffix(".json") if path.suffix == ".safetensors" else path.with_name(path.name + ".json")


def factor_names(name: str) -> tuple[str, str]:
    """Names of the two factors of tensor ``name``."""
    return f"{name}.A", f"{name}.B"


def factor_product(left: np.ndarray, right: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """W = left @ right (R x r times r x C), summed in float64 and stored as ``dtype``.

    Formed in blocks of rows, so that beside W itself only one float64 block of about 16 MiB is held;
    compress's dense output and the reader of its factored output both form W here, so the two agree
    bit for bit.
    """
    a = np.asarray(left, dtype=np.float64)
    b = np.asarray(right, dtype=np.float64)
    out = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
    step = max(1, _BLOCK_BYTES // (8 * max(1, b.shape[1])))
    for start in range(0, a.shape[0], step):
        out[start : start + step] = a[start : start + step] @ b
    return out


@dataclass(frozen=True)
class FactorPair:
    """One factored matrix of a file: ``name`` and its factors' header entries (``left`` R x r, ``right`` r x C)."""

    name: str
    left: SafetensorsEntry
    right: SafetensorsEntry

    @property
    def shape(self) -> tuple[int, int]:
        """(R, C): the shape of W as the model stored it."""
        return self.left.shape[0], self.right.shape[1]


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class FactorProduct:
    """Picklable loader of one factored matrix: reads A and B (their loaders), returns W = A B (float32, float64
    for F64)."""

    left: SafetensorsLoader
    right: SafetensorsLoader

    def __call__(self) -> np.ndarray:
        return factor_product(self.left(), self.right(), dtypes.result_dtype(self.left.entry.dtype))


def read_factored(file: SafetensorsFile) -> tuple[dict[str, FactorPair], Path] | None:
    """The factored matrices of ``file`` (by original name) and its sidecar, or None for a file that is not
    a factored output (module docstring).

    Raises
    ------
    SourceError
        A file whose metadata says factored without its sidecar, or a sidecar that does not match the file.
    """
    meta_path = sidecar_path(file.path)
    flagged = _flagged(file.metadata)
    if not flagged and not meta_path.is_file():
        return None
    label = os.fspath(meta_path)
    if not meta_path.is_file():
        raise SourceError(
            f"{file.label}: a factored netspectra output (its metadata says so) without its sidecar {meta_path.name}, "
            "which says how NAME.A @ NAME.B rebuild each matrix"
        )
    try:
        resolve_inside(meta_path, model_roots(meta_path.parent), label, "factored-model sidecar")
        document = read_json_file(meta_path, label, "factored-model sidecar", SourceError, MAX_JSON_BYTES)
    except SourceError:
        if flagged:
            raise
        return None  # somebody else's JSON file beside an ordinary model
    if not isinstance(document, dict) or document.get("format") != SIDECAR_FORMAT:
        if flagged:
            raise SourceError(f"{label}: not a {SIDECAR_FORMAT} sidecar")
        return None
    return _pairs(file, document, label), meta_path


def _flagged(metadata: dict[str, str]) -> bool:
    """Whether the file's metadata says compress wrote it factored."""
    try:
        note = json.loads(metadata.get("netspectra", "{}"))
    except ValueError:
        return False
    return isinstance(note, dict) and note.get("factored") is True


def _is_count(value: object) -> bool:
    """A dimension or rank: an integer in [0, 2^63) (as a safetensors header holds them)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63


def _pairs(file: SafetensorsFile, document: dict, label: str) -> dict[str, FactorPair]:
    if document.get("version") != SIDECAR_VERSION:
        raise SourceError(f"{label}: unsupported sidecar version {str(document.get('version'))[:20]!r}")
    if document.get("weights") != file.path.name:
        raise SourceError(f"{label}: describes {str(document.get('weights'))[:200]!r}, not {file.path.name}")
    entries = document.get("factored")
    if not isinstance(entries, dict):
        raise SourceError(f"{label}: 'factored' is not a mapping of tensor names to factors")
    pairs: dict[str, FactorPair] = {}
    used: set[str] = set()
    for name, spec in entries.items():
        pair = _pair(file, name, spec, label)
        for part in (pair.left.name, pair.right.name):
            if part in used or part in entries:
                raise SourceError(f"{label}: tensor {part!r} serves as a factor twice")
            used.add(part)
        pairs[name] = pair
    _check_memory(pairs, label)
    return pairs


def _pair(file: SafetensorsFile, name: str, spec: object, label: str) -> FactorPair:
    """One entry of the sidecar, checked against the file's header."""
    if not isinstance(spec, dict) or not isinstance(spec.get("A"), str) or not isinstance(spec.get("B"), str):
        raise SourceError(f"{label}: entry {name[:200]!r} does not name its factors A and B")
    shape, rank, dtype = spec.get("shape"), spec.get("rank"), spec.get("dtype")
    if not (isinstance(shape, list) and len(shape) == 2 and all(map(_is_count, shape))) or not _is_count(rank):
        raise SourceError(f"{label}: entry {name[:200]!r} has no valid shape [R, C] and rank r")
    if name in file.entries:
        raise SourceError(f"{label}: {name[:200]!r} is both stored whole and listed as factored")
    missing = [part for part in (spec["A"], spec["B"]) if part not in file.entries]
    if missing:
        names = ", ".join(m[:200] for m in missing)
        raise SourceError(f"{label}: factors of {name[:200]!r} missing from {file.path.name}: {names}")
    left, right = file.entries[spec["A"]], file.entries[spec["B"]]
    rows, cols = shape
    if rank > min(rows, cols) or left.shape != (rows, rank) or right.shape != (rank, cols):
        raise SourceError(
            f"{label}: {name[:200]!r} claims shape {rows} x {cols} of rank {rank}, but its factors are "
            f"{' x '.join(map(str, left.shape))} and {' x '.join(map(str, right.shape))}"
        )
    if not (left.dtype == right.dtype == dtype and dtype in FACTOR_DTYPES):
        raise SourceError(
            f"{label}: {name[:200]!r} claims dtype {str(dtype)[:20]}, its factors are {left.dtype} and {right.dtype} "
            f"(factors are {', '.join(FACTOR_DTYPES)})"
        )
    return FactorPair(name, left, right)


def _check_memory(pairs: dict[str, FactorPair], label: str) -> None:
    """Refuse a factored matrix larger than the memory available now (a rank-1 pair of 80 MB can claim 400 TB)."""
    if not pairs:
        return
    largest = max(pairs.values(), key=lambda p: math.prod(p.shape) * np.dtype(dtypes.result_dtype(p.left.dtype)).itemsize)
    needed = math.prod(largest.shape) * np.dtype(dtypes.result_dtype(largest.left.dtype)).itemsize
    available = available_memory()
    if available is not None and needed > available:
        rows, cols = largest.shape
        raise SourceError(
            f"{label}: {largest.name[:200]!r} rebuilds to {rows} x {cols} ({_size(needed)}), more than the "
            f"{_size(available)} available"
        )


def _size(count: int) -> str:
    """``count`` bytes in the largest of GiB, MiB and KiB it reaches, to one decimal."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
