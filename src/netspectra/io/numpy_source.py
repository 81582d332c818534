"""NumPy models: an ``.npz`` archive (each array a tensor) or a single ``.npy`` array, read with
``allow_pickle=False`` and their headers checked against the bytes stored."""

from __future__ import annotations

import math
import os
import tokenize
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import MatrixError, SourceError, one_line
from . import dtypes
from ._util import ZIP_READ_ERRORS, check_member
from .base import ModelSource, TensorRecord, read_config


class _NpzLoader:
    def __init__(self, path: Path, key: str, dtype: str, label: str) -> None:
        self.path, self.key, self.dtype, self.label = path, key, dtype, label

    def __call__(self) -> np.ndarray:
        try:
            with np.load(self.path, allow_pickle=False) as z:
                arr = z[self.key]
        except ValueError as exc:
            raise MatrixError(f"{self.key}: cannot read array: {one_line(exc)}") from None
        except (*ZIP_READ_ERRORS, KeyError) as exc:  # ValueError is taken above
            raise SourceError(f"{self.label}: cannot read {self.key}: {one_line(exc)}") from None
        try:
            return dtypes.numpy_to_float(arr, self.dtype)
        except TypeError:
            raise MatrixError(f"{self.key}: unsupported dtype {arr.dtype}") from None


class _NpyLoader:
    def __init__(self, path: Path, dtype: str, label: str) -> None:
        self.path, self.dtype, self.label = path, dtype, label

    def __call__(self) -> np.ndarray:
        try:
            arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise SourceError(f"{self.label}: cannot read: {one_line(exc)}") from None
        try:
            return dtypes.numpy_to_float(np.asarray(arr), self.dtype)
        except TypeError:
            raise MatrixError(f"{self.path.stem}: unsupported dtype {arr.dtype}") from None


#: What numpy's .npy header parser raises for a corrupt header: it reads the header with ast.literal_eval
#: (SyntaxError, ValueError, TypeError for an unhashable key, RecursionError, MemoryError) and re-tokenizes
#: a version 1.0/2.0 header that fails, as one written by Python 2 (tokenize.TokenError).
_NPY_HEADER_ERRORS = (ValueError, OSError, EOFError, SyntaxError, TypeError, RecursionError, MemoryError, tokenize.TokenError)


def _npy_header(fp: IO[bytes], label: str, size: int) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the ``.npy`` array read from ``fp`` (``size`` bytes in all, header included).

    The data the header promises must be there: numpy allocates the whole array from the header before
    it reads, so a forged shape would otherwise cost its size in memory (or a MemoryError).
    """
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    except _NPY_HEADER_ERRORS as exc:
        raise SourceError(f"{label}: invalid .npy header: {one_line(exc)}") from None
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise SourceError(f"{label}: invalid .npy header: negative dimension in shape {shape}")
    if not dtype.hasobject:  # object arrays are pickles of unknown size, refused when read
        need, have = math.prod(shape) * dtype.itemsize, size - fp.tell()
        if need > have:
            raise SourceError(f"{label}: truncated or forged: shape {shape} of {dtype} needs {need} bytes, {have} stored")
    return shape, dtype


class NpzSource(ModelSource):
    """A NumPy ``.npz`` archive (each array is a tensor, in archive order); read with allow_pickle=False."""

    format = "npz"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = [path]
        self.config = read_config(path.parent)
        label = os.fspath(path)
        self._records = []
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.filename.endswith(".npy"):
                        continue
                    key = info.filename[: -len(".npy")]
                    check_member(info, label)
                    with zf.open(info) as fp:
                        shape, dt = _npy_header(fp, f"{label}[{key}]", info.file_size)
                    name = dtypes.from_numpy(dt)
                    self._records.append(TensorRecord(key, shape, name, label, _NpzLoader(path, key, name, label)))
        except ZIP_READ_ERRORS as exc:
            raise SourceError(f"{label}: not a readable .npz archive: {one_line(exc)}") from None

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self._records


class NpySource(ModelSource):
    """A single ``.npy`` array; the tensor is named after the file stem."""

    format = "npy"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = [path]
        self.config = {}
        label = os.fspath(path)
        try:
            with open(path, "rb") as fp:
                shape, dt = _npy_header(fp, label, os.fstat(fp.fileno()).st_size)
        except OSError as exc:
            raise SourceError(f"{label}: cannot read: {exc.strerror or exc}") from None
        name = dtypes.from_numpy(dt)
        self._record = TensorRecord(path.stem, shape, name, label, _NpyLoader(path, name, label))

    def tensors(self) -> Iterator[TensorRecord]:
        yield self._record


# --------------------------------------------------------------------------------------------- directories
