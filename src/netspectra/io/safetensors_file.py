"""Our own safetensors reader: validated header, per-tensor reads.

File layout (https://github.com/huggingface/safetensors): 8 bytes, little-endian u64 ``n``; ``n`` bytes
of UTF-8 JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``
(possibly padded with spaces); then the data section, offsets relative to its start.

Everything is checked when the file is opened, so a corrupt file fails before any tensor is read:
header length (<= 100 MB and inside the file), JSON, entry types, known dtypes, offsets inside the
data section, ``end - begin == prod(shape) * itemsize``, and no two tensors overlapping.  A tensor of
an unknown dtype is kept; reading it raises :class:`~netspectra.errors.MatrixError`.

A read copies only the bytes of one tensor into memory (``pread``: one kernel copy; F32 and F64 need no
other) and decodes them to float32/float64, so peak memory is one tensor (plus its decoded copy for
F16/BF16/F8) whatever the file size.  Reading instead of mapping also means that a file truncated while
it is analyzed gives an error naming it, not a SIGBUS.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MatrixError, SourceError, one_line
from . import dtypes

#: Largest header accepted (the reference implementation uses the same limit).
MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class SafetensorsEntry:
    """One tensor of a safetensors header; offsets are absolute file offsets."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class SafetensorsLoader:
    """Picklable loader of one tensor: reads its bytes and returns a float32/float64 array."""

    path: Path
    label: str
    entry: SafetensorsEntry

    def __call__(self) -> np.ndarray:
        return self._read(self.entry.start, self.entry.shape)

    def part(self, index: int) -> np.ndarray:
        """``tensor[index]`` (along the first dimension), reading only its bytes: one expert of a 3-D expert tensor."""
        e = self.entry
        shape = e.shape[1:]
        if not 0 <= index < e.shape[0]:
            raise IndexError(f"{e.name}: index {index} outside the first dimension {e.shape[0]}")
        return self._read(e.start + index * math.prod(shape) * dtypes.ITEMSIZE.get(e.dtype, 0), shape)

    def _read(self, start: int, shape: tuple[int, ...]) -> np.ndarray:
        e = self.entry
        if not dtypes.is_known(e.dtype):
            raise MatrixError(f"{e.name}: unsupported dtype {e.dtype}")
        count = math.prod(shape)
        if count == 0:
            return np.zeros(shape, dtype=dtypes.result_dtype(e.dtype))
        raw = np.empty(count, dtype=dtypes.raw_numpy_dtype(e.dtype))
        try:
            _read_exactly(self.path, start, memoryview(raw).cast("B"))
        except OSError as exc:  # including a file that shrank after its header was read
            raise SourceError(f"{self.label}: cannot read tensor {e.name}: {one_line(exc)}") from None
        if raw.dtype == dtypes.result_dtype(e.dtype) and raw.dtype.isnative:
            return raw.reshape(shape)  # F32, F64: the bytes read are the values
        return dtypes.decode(raw, e.dtype).reshape(shape)


def _read_exactly(path: Path, offset: int, target: memoryview) -> None:
    """Fill ``target`` with the bytes of ``path`` from ``offset`` (``pread``: one kernel copy, no mapping
    that a file truncated meanwhile would turn into SIGBUS); OSError when the file ends first."""
    fd = os.open(path, os.O_RDONLY)
    try:
        done = 0
        while done < len(target):
            got = os.preadv(fd, [target[done:]], offset + done)
            if got == 0:
                raise OSError(f"file ends {len(target) - done} bytes before the tensor does")
            done += got
    finally:
        os.close(fd)


def _fail(label: str, what: str) -> SourceError:
    return SourceError(f"{label}: {what}")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_header(path: Path, label: str | None = None) -> tuple[dict[str, SafetensorsEntry], dict[str, str]]:
    """Parse and validate the header of a safetensors file.

    Returns ``(entries, metadata)``: entries by name in file order, offsets made absolute.  Raises
    :class:`SourceError` with one line naming the file and the problem.
    """
    label = label or str(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise _fail(label, f"truncated: {size} bytes, too short for a safetensors header")
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_HEADER_BYTES:
                # the 8 bytes are not echoed: they may be the start of somebody's private file
                raise _fail(
                    label,
                    f"not a safetensors file: its header length exceeds the {MAX_HEADER_BYTES}-byte limit (corrupt or forged)",
                )
            if 8 + n > size:
                raise _fail(label, f"header length exceeds the file size {size} (truncated or forged)")
            header = f.read(n)
    except OSError as exc:
        raise _fail(label, f"cannot read: {exc.strerror or exc}") from None
    if len(header) != n:
        raise _fail(label, f"truncated header: expected {n} bytes, read {len(header)}")
    if not header.lstrip(b" ").startswith(b"{"):
        raise _fail(label, "not a safetensors file: header is not a JSON object")
    try:
        obj = json.loads(header.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except RecursionError:  # [[[[...]]]] 100k deep: a valid header nests 3 levels
        raise _fail(label, "header is nested too deeply to parse (corrupt or forged)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(label, f"header is not valid JSON: {one_line(exc)}") from None
    if not isinstance(obj, dict):
        raise _fail(label, "header is not a JSON object")

    data_start = 8 + n
    data_size = size - data_start
    metadata = obj.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _fail(label, "__metadata__ must map strings to strings")

    entries: dict[str, SafetensorsEntry] = {}
    spans: list[tuple[int, int, str]] = []
    max_end = 0
    for name, info in obj.items():
        if not isinstance(info, dict):
            raise _fail(label, f"tensor {name!r}: header entry is not an object")
        dtype = info.get("dtype")
        shape = info.get("shape")
        offsets = info.get("data_offsets")
        if not isinstance(dtype, str):
            raise _fail(label, f"tensor {name!r}: missing or invalid dtype")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise _fail(label, f"tensor {name!r}: invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise _fail(label, f"tensor {name!r}: invalid data_offsets {offsets!r}")
        begin, end = offsets
        if dtypes.is_known(dtype):
            expected = math.prod(shape) * dtypes.ITEMSIZE[dtype]
            if end - begin != expected:
                raise _fail(
                    label,
                    f"tensor {name!r}: data_offsets span {end - begin} bytes but shape {tuple(shape)} of {dtype} "
                    f"needs {expected}",
                )
        max_end = max(max_end, end)
        spans.append((begin, end, name))
        entries[name] = SafetensorsEntry(name, dtype, tuple(shape), data_start + begin, data_start + end)

    if max_end > data_size:
        raise _fail(label, f"truncated: header says {max_end} bytes of data, file has {data_size}")
    spans.sort()
    for (_, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise _fail(label, f"tensors {n0!r} and {n1!r} overlap in the data section")
    return entries, metadata


class SafetensorsFile:
    """A validated safetensors file: ``entries`` (name -> :class:`SafetensorsEntry`), ``metadata``."""

    def __init__(self, path: str | os.PathLike, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label or os.fspath(path)
        self.entries, self.metadata = read_header(self.path, self.label)

    def loader(self, name: str) -> SafetensorsLoader:
        return SafetensorsLoader(self.path, self.label, self.entries[name])

    def read(self, name: str) -> np.ndarray:
        """The tensor as float32/float64 (float64 for F64 and wide integers), in its stored shape."""
        return self.loader(name)()
