"""GGUF models (llama.cpp) through the ``gguf`` package: tensors memory-mapped, dequantized one at a time.

``gguf.GGUFReader`` maps the file and parses its header; a tensor's bytes are read only when it is
loaded, and ``gguf.quants.dequantize`` turns them into float32 for every type the package implements
(F32, F16, BF16, Q8_0, Q4_0/1, Q5_0/1, the K-quants Q2_K..Q6_K, the IQ types it supports).  ggml lists
dimensions fastest first (``ne = [in, out]`` for a Linear layer); the tensor is returned in PyTorch's
order (``out x in``).  The stored type (``Q4_K``) is the row's ``dtype``.

Names are mapped to the Hugging Face scheme of the file's architecture (``blk.0.attn_q.weight`` ->
``model.layers.0.self_attn.q_proj.weight``) with the package's own table, so that a GGUF file and the
checkpoint it was converted from line up in ``compare``; a name the table does not know is kept.  The
converter permutes the rows of a ``llama`` file's Q and K projections for its rotary layout
(``convert_hf_to_gguf.py``: ``reshape(heads, 2, d/2, in).swapaxes(1, 2)``); they are permuted back, as
the Hugging Face GGUF loader does, so that ``compare`` measures ||W_gguf - W_hf|| and not a shuffle
(the singular values, hence every spectral column, do not depend on it).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MatrixError, SourceError, one_line
from .base import ModelSource, TensorRecord
from .gguf_header import check_gguf_header

if TYPE_CHECKING:
    from gguf import GGUFReader

#: The Hugging Face names of the Llama scheme outside the blocks.
_LLAMA_TOP_LEVEL = frozenset({"model.embed_tokens", "model.norm", "lm_head"})

#: Most blocks whose names are mapped: the package's table costs 0.35 ms and 271 names a block (a
#: ``block_count`` of 10^9 in a 24 KB file hung building it); the deepest models have about 130.
MAX_GGUF_BLOCKS = 1024
_BLOCK_INDEX = re.compile(r"blk\.(\d{1,9})\.")

#: What the gguf package raises on a corrupt or forged file while parsing it.
_PARSE_ERRORS = (ValueError, OSError, IndexError, KeyError, TypeError, OverflowError, MemoryError, struct.error)


def _gguf() -> ModuleType | None:
    """The gguf package, imported on first use; None when it is not installed."""
    try:
        import gguf
    except ImportError:
        return None
    return gguf


def open_reader(path: Path, label: str) -> GGUFReader:
    """The parsed (memory-mapped) reader of ``path``; SourceError naming the file when it cannot be.

    The header is checked first (:func:`~netspectra.io.gguf_header.check_gguf_header`): the reader
    follows every length it declares.
    """
    gguf = _gguf()
    if gguf is None:
        raise SourceError(f"{label}: reading GGUF needs the gguf package (pip install 'netspectra[gguf]')")
    try:
        check_gguf_header(path, label)
        return gguf.GGUFReader(os.fspath(path), "r")
    except _PARSE_ERRORS as exc:
        raise SourceError(f"{label}: not a readable GGUF file: {one_line(exc)}") from None


@lru_cache(maxsize=4)
def _worker_reader(path: Path, label: str, mtime_ns: int) -> GGUFReader:
    """The reader a worker process opens once per file for the loaders it is sent."""
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


def hf_name_table(architecture: str, num_blocks: int) -> dict[str, str]:
    """GGUF base name -> Hugging Face base name (``blk.0.attn_q`` -> ``model.layers.0.self_attn.q_proj``).

    The package's table lists every Hugging Face variant of a tensor (``transformer.wte``,
    ``model.embed_tokens``, ...); the Llama scheme that Qwen, Mistral and Gemma share is preferred
    (``model.layers.*``, ``model.embed_tokens``, ``model.norm``, ``lm_head``), then another
    ``model.``-prefixed name, then the first listed.
    """
    gguf = _gguf()
    arch = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == architecture), None)
    if arch is None:
        return {}
    candidates: dict[str, list[str]] = {}
    for hf, (_tensor, gguf_name) in gguf.get_tensor_name_map(arch, num_blocks).mapping.items():
        candidates.setdefault(gguf_name, []).append(hf)

    def rank(hf: str) -> int:
        if hf.startswith("model.layers.") or hf in _LLAMA_TOP_LEVEL:
            return 0
        return 1 if hf.startswith("model.") else 2

    return {g: min(names, key=rank) for g, names in candidates.items()}


def held_blocks(declared: int, names: Iterable[str], label: str) -> int:
    """The blocks to build the name table for: those ``declared`` (``block_count``), no more than the
    tensor names reach (``blk.N.``): the metadata cannot make the table larger than the file.

    Raises
    ------
    SourceError
        When the tensors name more than :data:`MAX_GGUF_BLOCKS` declared blocks.
    """
    named = max((int(m[1]) + 1 for name in names if (m := _BLOCK_INDEX.match(name))), default=0)
    blocks = min(declared, named)
    if blocks > MAX_GGUF_BLOCKS:
        raise SourceError(f"{label}: tensors of {blocks:,} blocks; netspectra maps the names of at most {MAX_GGUF_BLOCKS:,}")
    return blocks


def unpermute_rotary(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's row permutation of a Q or K projection (``heads`` query or key-value heads)."""
    half = weight.shape[0] // heads // 2
    return weight.reshape(heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def rotary_heads(architecture: str | None, reader: GGUFReader) -> dict[str, int]:
    """GGUF name suffix -> head count for the projections the converter permuted (``llama`` files)."""
    if architecture != "llama":
        return {}
    heads = field_value(reader, f"{architecture}.attention.head_count")
    kv_heads = field_value(reader, f"{architecture}.attention.head_count_kv")
    if not isinstance(heads, int) or heads < 1:
        return {}
    return {".attn_q.weight": heads, ".attn_k.weight": kv_heads if isinstance(kv_heads, int) and kv_heads > 0 else heads}


def hf_name(gguf_name: str, table: dict[str, str]) -> str:
    """The Hugging Face name of a GGUF tensor name (suffix ``.weight``/``.bias`` kept), or the name itself."""
    base, dot, suffix = gguf_name.rpartition(".")
    if dot and base in table:
        return f"{table[base]}.{suffix}"
    return table.get(gguf_name, gguf_name)


class GGUFLoader:
    """Loader of one GGUF tensor: dequantized float32 in PyTorch's dimension order.

    It shares the source's reader; pickled to a worker process it leaves the reader (a memory map)
    behind and the worker opens the file once (:func:`_worker_reader`).
    """

    def __init__(
        self, reader: GGUFReader | None, path: Path, index: int, name: str, shape: tuple[int, ...], label: str, heads: int = 0
    ) -> None:
        self.reader, self.path, self.index, self.name, self.shape, self.label = reader, path, index, name, shape, label
        self.heads = heads  # > 0: a permuted Q/K projection of that many heads (unpermute_rotary)

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "reader": None}

    def __call__(self) -> np.ndarray:
        values = self._dequantize(None, self.shape)
        return unpermute_rotary(values, self.heads) if self.heads else values

    def part(self, index: int) -> np.ndarray:
        """``tensor[index]`` (first dimension in PyTorch's order), dequantizing only its blocks: one expert of
        ``ffn_gate_exps`` and the like (ggml rows are quantized independently, so a slice is whole blocks)."""
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"{self.name}: index {index} outside the first dimension {self.shape[0]}")
        return self._dequantize(index, self.shape[1:])

    def _dequantize(self, index: int | None, shape: tuple[int, ...]) -> np.ndarray:
        gguf = _gguf()
        if self.reader is None:
            try:
                mtime = os.stat(self.path).st_mtime_ns
            except OSError as exc:
                raise SourceError(f"{self.label}: cannot read: {exc.strerror or one_line(exc)}") from None
            self.reader = _worker_reader(self.path, self.label, mtime)
        tensor = self.reader.tensors[self.index]
        try:
            data = tensor.data if index is None else tensor.data[index]
            values = gguf.quants.dequantize(data, tensor.tensor_type)
        except NotImplementedError:
            raise MatrixError(f"{self.name}: the gguf package cannot dequantize {tensor.tensor_type.name}") from None
        except _PARSE_ERRORS as exc:  # data cut short by a truncated file
            raise SourceError(f"{self.label}: cannot read {self.name}: {one_line(exc)}") from None
        if values.size != int(np.prod(shape)):
            raise SourceError(
                f"{self.label}: {self.name} holds {values.size} values, shape {shape} needs "
                f"{int(np.prod(shape))} (truncated or forged)"
            )
        return np.asarray(values.reshape(shape), dtype=np.float32 if values.dtype != np.float64 else np.float64)


class GGUFSource(ModelSource):
    """A ``.gguf`` file: tensors in file order, named in the Hugging Face scheme where the table knows them."""

    format = "gguf"

    def __init__(self, path: Path) -> None:
        self.path, self.files, self.config = path, [path], {}
        label = os.fspath(path)
        reader = open_reader(path, label)
        architecture = field_value(reader, "general.architecture")
        architecture = architecture if isinstance(architecture, str) else None
        blocks = field_value(reader, f"{architecture}.block_count") if architecture else None
        if architecture and isinstance(blocks, int):
            table = hf_name_table(architecture, held_blocks(blocks, (str(t.name) for t in reader.tensors), label))
        else:
            table = {}
        rotary = rotary_heads(architecture, reader)
        self._records = []
        seen: set[str] = set()
        try:
            for index, tensor in enumerate(reader.tensors):
                shape = tuple(int(d) for d in reversed(tensor.shape))  # ggml lists the fastest dimension first
                name = hf_name(str(tensor.name), table)
                if name in seen:  # two GGUF names mapped to one: keep the file's own name
                    name = str(tensor.name)
                seen.add(name)
                heads = next((h for suffix, h in rotary.items() if str(tensor.name).endswith(suffix)), 0)
                if len(shape) != 2 or shape[0] % (2 * max(heads, 1)):
                    heads = 0
                loader = GGUFLoader(reader, path, index, name, shape, label, heads)
                self._records.append(TensorRecord(name, shape, tensor.tensor_type.name, label, loader))
        except _PARSE_ERRORS as exc:
            raise SourceError(f"{label}: corrupt GGUF tensor table: {one_line(exc)}") from None

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self._records
