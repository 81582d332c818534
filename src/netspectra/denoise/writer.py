"""A streaming, atomic safetensors writer: one tensor in memory at a time.

File layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length n, n bytes
of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`` padded
with spaces to a multiple of 8, then the data section, which the offsets cover without holes.

``safetensors.numpy.save_file`` needs every tensor in memory at once, and the header (which comes first)
needs every tensor's shape, which for factored output is known only after each layer's SVD.  So tensors
are appended to a spool file next to the output as they are produced; :meth:`SafetensorsWriter.commit`
then writes the header and copies the spooled bytes, grouped by element size (8, 4, 2, 1 bytes, as the
reference writer orders them, so every tensor starts at a multiple of its element size), into a second
temporary file in the same directory and renames it onto the output with ``os.replace``.

Peak memory: the tensor being added (the caller's array plus its encoded copy) and a 1 MiB copy buffer.
Peak disk: twice the output size, during :meth:`commit`.  Nothing is left behind on error.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from netspectra.atomic import make_parent, publish, temporary_beside
from netspectra.denoise.encoding import encode
from netspectra.io import TensorRecord, dtypes
from netspectra.io.safetensors_file import SafetensorsEntry, SafetensorsLoader

_CHUNK = 1 << 20


class SafetensorsWriter:
    """Write ``path`` tensor by tensor; nothing appears at ``path`` before :meth:`commit`.

    Use as a context manager: leaving the block without :meth:`commit` (an exception, Ctrl-C) removes the
    temporary files and leaves ``path`` untouched.

    >>> with SafetensorsWriter("out.safetensors") as w:          # doctest: +SKIP
    ...     w.add_array("fc.weight", weights, "BF16")
    ...     w.commit()
    """

    def __init__(self, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self._entries: list[SafetensorsEntry] = []  # their offsets: in the spool file
        self._names: set[str] = set()
        make_parent(self.path)
        self._spool_path = temporary_beside(self.path, ".spool")
        self._spool = open(self._spool_path, "w+b")  # noqa: SIM115 - closed by close()

    def __enter__(self) -> SafetensorsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_array(self, name: str, values: np.ndarray, dtype: str) -> None:
        """Encode ``values`` (any float/int array) in the stored dtype ``dtype`` and append it."""
        raw = np.ascontiguousarray(encode(values, dtype))
        self._append(name, dtype, tuple(int(d) for d in np.shape(values)), raw.reshape(-1).view(np.uint8))

    def add_unchanged(self, record: TensorRecord) -> None:
        """Append ``record`` as it is stored: its bytes streamed when it comes from a safetensors file."""
        loader = record.load
        if isinstance(loader, SafetensorsLoader):  # bit-exact copy of the stored bytes
            e = loader.entry
            self.add_file_range(record.name, e.dtype, e.shape, loader.path, e.start, e.end)
        else:
            self.add_array(record.name, record.load_required(), record.dtype)

    def add_file_range(self, name: str, dtype: str, shape: tuple[int, ...], source: Path, start: int, end: int) -> None:
        """Append bytes [start, end) of ``source`` unchanged (a tensor copied bit for bit), in chunks.

        A dtype netspectra cannot decode is accepted here (its size is not checked): it is copied as it is.
        """
        self._check(name, dtype, shape, end - start)
        offset = self._spool.tell()
        with open(source, "rb") as f:
            f.seek(start)
            _copy_bytes(f, self._spool, end - start, source)
        self._record(name, dtype, shape, offset, end - start)

    def commit(self) -> None:
        """Write the header and the data, then atomically replace ``path``."""
        order = sorted(range(len(self._entries)), key=lambda i: -dtypes.ITEMSIZE.get(self._entries[i].dtype, 1))
        header: dict[str, object] = {}
        if self.metadata:
            header["__metadata__"] = self.metadata
        position = 0
        for i in order:
            e = self._entries[i]
            size = e.end - e.start
            header[e.name] = {"dtype": e.dtype, "shape": list(e.shape), "data_offsets": [position, position + size]}
            position += size
        blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
        blob += b" " * (-len(blob) % 8)
        tmp = temporary_beside(self.path)
        try:
            with open(tmp, "wb") as out:
                out.write(struct.pack("<Q", len(blob)))
                out.write(blob)
                self._spool.flush()
                for i in order:
                    e = self._entries[i]
                    self._spool.seek(e.start)
                    _copy_bytes(self._spool, out, e.end - e.start, self._spool_path)
                out.flush()
                os.fsync(out.fileno())
            publish(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            self.close()

    def close(self) -> None:
        """Remove the spool file (called by :meth:`commit` and on leaving the ``with`` block)."""
        if not self._spool.closed:
            self._spool.close()
        self._spool_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------------------------------ helpers

    def _append(self, name: str, dtype: str, shape: tuple[int, ...], data: np.ndarray) -> None:
        self._check(name, dtype, shape, data.nbytes)
        offset = self._spool.tell()
        self._spool.write(data)
        self._record(name, dtype, shape, offset, data.nbytes)

    def _check(self, name: str, dtype: str, shape: tuple[int, ...], size: int) -> None:
        if name in self._names or name == "__metadata__":
            raise ValueError(f"duplicate or reserved tensor name {name!r}")
        if dtype in dtypes.ITEMSIZE and size != math.prod(shape) * dtypes.ITEMSIZE[dtype]:
            raise ValueError(f"{name}: {size} bytes do not match shape {shape} of {dtype}")

    def _record(self, name: str, dtype: str, shape: tuple[int, ...], offset: int, size: int) -> None:
        self._names.add(name)
        self._entries.append(SafetensorsEntry(name, dtype, shape, offset, offset + size))


def _copy_bytes(source: BinaryIO, target: BinaryIO, count: int, label: object) -> None:
    """Copy the next ``count`` bytes of ``source`` (the file ``label``) to ``target``, a chunk at a time."""
    while count:
        chunk = source.read(min(_CHUNK, count))
        if not chunk:
            raise OSError(f"{label}: unexpected end of file")
        target.write(chunk)
        count -= len(chunk)
