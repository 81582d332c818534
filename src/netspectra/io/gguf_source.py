"""GGUF models (llama.cpp) through the ``gguf`` package: tensors memory-mapped, dequantized one at a time.

The header is read by :func:`~netspectra.io.gguf_header.read_gguf_header` (keys and tensor infos; the
vocabulary skipped); a tensor's bytes are read only when it is loaded, a block of rows at a time, and
``gguf.quants.dequantize`` turns them into float32 for every type the package implements (F32, F16, BF16,
Q8_0, Q4_0/1, Q5_0/1, the K-quants Q2_K..Q6_K, the IQ types it supports; :mod:`~netspectra.io.gguf_blocks`).
ggml lists dimensions fastest first (``ne = [in, out]`` for a Linear layer); the tensor is returned in
PyTorch's order (``out x in``).  The stored type (``Q4_K``) is the row's ``dtype``, the quantization noise
of its blocks its ``sigma2_quant`` (:func:`~netspectra.io.gguf_blocks.tensor_noise`).

Names and layouts are those transformers' GGUF loader gives (:mod:`~netspectra.io.gguf_names`,
:mod:`~netspectra.io.gguf_layout`: ``blk.0.ffn_up.weight`` -> ``model.layers.0.mlp.up_proj.weight``,
a llama file's Q and K rows back from llama.cpp's rotary order), so that a GGUF file and the
checkpoint it was converted from line up in ``compare``.

A model split in shards (``NAME-00001-of-00003.gguf``, :mod:`~netspectra.io.gguf_split`) is read
whole from its first shard: every shard checked as a file of its own, then against the split keys
(its ``split.no``, the same ``split.count``, ``split.tensors.count`` tensors in all, no name twice).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MatrixError, SourceError, one_line
from .base import ModelSource, TensorRecord
from .gguf_blocks import dequantize_tensor, tensor_noise
from .gguf_header import MAX_GGUF_TENSORS, MAX_GGUF_VALUES, read_gguf_header
from .gguf_layout import Relayout, relayout_rule
from .gguf_names import hf_names
from .gguf_split import first_shard_name, shard_paths

if TYPE_CHECKING:
    from .gguf_header import GGUFHeader as GGUFReader

#: What the gguf package raises on a corrupt or forged file while parsing it.
_PARSE_ERRORS = (ValueError, OSError, IndexError, KeyError, TypeError, OverflowError, MemoryError, struct.error)

_SPLIT_NO, _SPLIT_COUNT, _SPLIT_TENSORS = "split.no", "split.count", "split.tensors.count"


def _gguf() -> ModuleType | None:
    """The gguf package, imported on first use; None when it is not installed."""
    try:
        import gguf
    except ImportError:
        return None
    return gguf


def _parse(path: Path, label: str) -> tuple[GGUFReader, int]:
    """The checked header of ``path`` (:func:`~netspectra.io.gguf_header.read_gguf_header`: its keys and tensor
    infos) and the metadata values it holds; SourceError naming the file when it cannot be read."""
    gguf = _gguf()
    if gguf is None:
        raise SourceError(f"{label}: reading GGUF needs the gguf package (pip install 'netspectra[gguf]')")
    try:
        header = read_gguf_header(path, label)
    except _PARSE_ERRORS as exc:
        raise SourceError(f"{label}: not a readable GGUF file: {one_line(exc)}") from None
    return header, header.values


def open_reader(path: Path, label: str) -> GGUFReader:
    """The checked header of ``path`` (:func:`_parse`)."""
    return _parse(path, label)[0]


@lru_cache(maxsize=4)
def _worker_reader(path: Path, label: str, mtime_ns: int) -> GGUFReader:
    """The header a worker process reads once per file for the loaders it is sent."""
    return open_reader(path, label)


def field_value(reader: GGUFReader, key: str) -> object:
    """A metadata value of the file (``general.architecture``), or None."""
    field = reader.fields.get(key)
    if field is None:
        return None
    try:
        return field.contents()
    except _PARSE_ERRORS:
        return None


def _count(reader: GGUFReader, key: str) -> int | None:
    value = field_value(reader, key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _shard_readers(path: Path, reader: GGUFReader, values: int) -> list[tuple[Path, GGUFReader]]:
    """``path`` and its reader, then those of the other shards when it is the first of a split model.

    Raises
    ------
    SourceError
        For a shard other than the first, missing shards (named), a shard whose split keys disagree with
        its place in the set, more tensors or metadata values in all than one file may hold, or a tensor
        count other than ``split.tensors.count``.
    """
    label = os.fspath(path)
    count = _count(reader, _SPLIT_COUNT)
    if count is None or count <= 1:
        return [(path, reader)]
    number = _count(reader, _SPLIT_NO)
    if number != 0:
        first = first_shard_name(path.name) or "NAME-00001-of-...gguf"
        place = "a shard" if number is None else f"shard {number + 1}"
        raise SourceError(f"{label}: {place} of a model split in {count}: open its first shard ({first}) or the folder")
    shards = [(path, reader)]
    for index, shard in enumerate(shard_paths(path, count)[1:], start=1):
        shard_label = os.fspath(shard)
        shard_reader, shard_values = _parse(shard, shard_label)
        values += shard_values
        if values > MAX_GGUF_VALUES:
            raise SourceError(f"{shard_label}: the shards hold more than {MAX_GGUF_VALUES:,} metadata values in all: forged")
        says = (_count(shard_reader, _SPLIT_NO), _count(shard_reader, _SPLIT_COUNT))
        if says != (index, count):
            raise SourceError(
                f"{shard_label}: its split keys say shard {says[0]} of {says[1]}, "
                f"its place says shard {index} of {count} (0-based split.no): not of this model"
            )
        shards.append((shard, shard_reader))
    total = sum(len(r.tensors) for _, r in shards)
    declared = _count(reader, _SPLIT_TENSORS)
    if total > MAX_GGUF_TENSORS:
        raise SourceError(f"{label}: {total:,} tensors in {count} shards; a GGUF model holds at most {MAX_GGUF_TENSORS:,}")
    if declared is not None and declared != total:
        raise SourceError(f"{label}: split.tensors.count = {declared:,}, the {count} shards hold {total:,} tensors")
    return shards


class GGUFLoader:
    """Loader of one GGUF tensor: dequantized float32 in PyTorch's dimension order, in the Hugging Face
    layout (``relayout``, :mod:`~netspectra.io.gguf_layout`).

    It shares the source's header; pickled to a worker process it leaves the header behind and the worker
    reads it once per file (:func:`_worker_reader`).  ``noise()`` is the tensor's ``sigma2_quant``.
    """

    def __init__(
        self,
        reader: GGUFReader | None,
        path: Path,
        index: int,
        name: str,
        shape: tuple[int, ...],
        label: str,
        relayout: Relayout | None = None,
    ) -> None:
        self.reader, self.path, self.index, self.name, self.shape, self.label = reader, path, index, name, shape, label
        self.relayout = relayout

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "reader": None}

    def noise(self) -> float:
        """sigma2_quant of the tensor (:func:`~netspectra.io.gguf_blocks.tensor_noise`)."""
        reader = self._reader()
        return tensor_noise(self.path, reader.tensors[self.index], self.label, reader.byte_order)

    def _reader(self) -> GGUFReader:
        if self.reader is None:
            try:
                mtime = os.stat(self.path).st_mtime_ns
            except OSError as exc:
                raise SourceError(f"{self.label}: cannot read: {exc.strerror or one_line(exc)}") from None
            self.reader = _worker_reader(self.path, self.label, mtime)
        return self.reader

    def __call__(self) -> np.ndarray:
        return self._dequantize(None, self.shape)

    def part(self, index: int) -> np.ndarray:
        """``tensor[index]`` (first dimension in PyTorch's order), dequantizing only its blocks: one expert of
        ``ffn_gate_exps`` and the like (ggml rows are quantized independently, so a slice is whole rows: those
        of ``index``, :func:`~netspectra.io.gguf_blocks.dequantize_tensor`); a tensor that transformers lays out
        anew, or a vector, is loaded whole first."""
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"{self.name}: index {index} outside the first dimension {self.shape[0]}")
        if self.relayout is not None or len(self.shape) < 2:
            return self()[index]
        return self._dequantize(index, self.shape[1:])

    def _dequantize(self, index: int | None, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor (``index`` None) or the ggml rows of ``tensor[index]`` (``shape``: PyTorch's order, its
        last dimension a ggml row), dequantized."""
        reader = self._reader()
        per_index = int(np.prod(shape[:-1]))
        rows = None if index is None else (index * per_index, (index + 1) * per_index)
        try:
            values = dequantize_tensor(self.path, reader.tensors[self.index], self.label, reader.byte_order, rows=rows)
        except MatrixError as exc:
            raise MatrixError(f"{self.name}: {exc}") from None
        except _PARSE_ERRORS as exc:  # data cut short by a truncated file
            raise SourceError(f"{self.label}: cannot read {self.name}: {one_line(exc)}") from None
        if values.size != int(np.prod(shape)):
            raise SourceError(
                f"{self.label}: {self.name} holds {values.size} values, shape {shape} needs "
                f"{int(np.prod(shape))} (truncated or forged)"
            )
        values = np.asarray(values.reshape(shape), dtype=np.float32 if values.dtype != np.float64 else np.float64)
        return self.relayout(values) if self.relayout is not None and index is None else values


class JoinedLoader:
    """Loader of the GGUF tensors that transformers joins into one parameter (the experts' gate and up
    projections, :data:`~netspectra.io.gguf_names.JOINED_LEAVES`): concatenated along ``axis``, each part
    copied into the result as it is loaded (a part and the result in memory at once, not every part).
    ``noise()`` is the parts' mean ``sigma2_quant`` (parts of one shape: the mean over every entry)."""

    def __init__(self, parts: list[GGUFLoader], axis: int) -> None:
        self.parts, self.axis = parts, axis

    def noise(self) -> float:
        """sigma2_quant of the joined tensor: the mean of its parts' (NaN when one is unknown)."""
        return float(np.mean([part.noise() for part in self.parts]))

    def __call__(self) -> np.ndarray:
        joined: np.ndarray | None = None
        start = 0
        for part in self.parts:
            values = part()
            if joined is None:
                shape = list(values.shape)
                shape[self.axis] *= len(self.parts)
                joined = np.empty(shape, dtype=values.dtype)
            stop = start + values.shape[self.axis]
            joined[(slice(None),) * self.axis + (slice(start, stop),)] = values
            start = stop
        return joined


class GGUFSource(ModelSource):
    """A ``.gguf`` file, or the first shard of a split model: tensors in file order (shard by shard), named
    and laid out as transformers' GGUF loader gives them."""

    format = "gguf"

    def __init__(self, path: Path) -> None:
        self.path, self.config = path, {}
        label = os.fspath(path)
        reader, values = _parse(path, label)
        shards = _shard_readers(path, reader, values)
        self.files = [shard for shard, _ in shards]
        architecture = field_value(reader, "general.architecture")
        architecture = architecture if isinstance(architecture, str) else None
        rule = relayout_rule(architecture, lambda key: field_value(reader, key))
        try:
            tensors = [(shard, r, index, t) for shard, r in shards for index, t in enumerate(r.tensors)]
            gguf_names = [str(t.name) for *_, t in tensors]
            seen: set[str] = set()
            for gguf_name in gguf_names:
                if gguf_name in seen:
                    raise SourceError(f"{label}: tensor {gguf_name[:80]!r} is stored in two of the {len(shards)} shards")
                seen.add(gguf_name)
            block_count = field_value(reader, f"{architecture}.block_count") if architecture else None
            names, groups = hf_names(architecture, block_count, gguf_names, label)
            records: list[TensorRecord | None] = []
            for (shard, shard_reader, index, tensor), gguf_name, name in zip(tensors, gguf_names, names, strict=True):
                stored = tuple(int(d) for d in reversed(tensor.shape))  # ggml lists the fastest dimension first
                relayout = rule(gguf_name, stored)
                shape = relayout.shape(stored) if relayout is not None else stored
                shard_label = os.fspath(shard)
                loader = GGUFLoader(shard_reader, shard, index, name, stored, shard_label, relayout)
                records.append(TensorRecord(name, shape, tensor.tensor_type.name, shard_label, loader, noise=loader.noise))
        except _PARSE_ERRORS as exc:
            raise SourceError(f"{label}: corrupt GGUF tensor table: {one_line(exc)}") from None
        for group in groups:
            records = _join(records, group, gguf_names)
        self._records: list[TensorRecord] = [record for record in records if record is not None]

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self._records


#: The axis of transformers' joined expert parameters (experts x 2 intermediate x hidden).
_JOIN_AXIS = 1


def _join(records: list[TensorRecord | None], group: list[int], gguf_names: list[str]) -> list[TensorRecord | None]:
    """``records`` with the tensors of ``group`` joined into one record at the first one's place (the others
    None), or, when their shapes differ or have no axis to join on, each under its file's own name."""
    parts = [records[i] for i in group]
    shapes = {p.shape for p in parts if p is not None}
    if len(shapes) != 1 or len(next(iter(shapes))) <= _JOIN_AXIS:
        for i in group:
            record = records[i]
            if record is not None:
                records[i] = dataclasses.replace(record, name=gguf_names[i])
        return records
    first = parts[0]
    shape = list(first.shape)
    shape[_JOIN_AXIS] *= len(parts)
    dtypes = list(dict.fromkeys(p.dtype for p in parts))
    loader = JoinedLoader([p.load for p in parts], _JOIN_AXIS)
    records[group[0]] = TensorRecord(first.name, tuple(shape), "+".join(dtypes), first.source, loader, noise=loader.noise)
    for i in group[1:]:
        records[i] = None
    return records
