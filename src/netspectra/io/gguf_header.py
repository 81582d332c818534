"""A bounded pre-scan of a GGUF header: what it declares checked against the file before it is parsed.

The layout (the GGUF specification of the ggml project, github.com/ggml-org/ggml): the magic ``GGUF``, a
uint32 version (2 or 3; a version whose low 16 bits are zero was written in the other byte order), a uint64
tensor count and a uint64 key/value count; each key/value is a string key (uint64 length, then its bytes), a
uint32 value type and the value, an array being a uint32 item type, a uint64 length and the items; each tensor
info is a string name, a uint32 dimension count, that many uint64 dimensions (fastest first), a uint32 ggml
type and a uint64 offset into the data section, which starts at the first multiple of ``general.alignment``
(32 by default) after the infos.

The gguf package's ``GGUFReader`` parses every key/value when it opens a file, one NumPy view per value (a
string is two: its length and its bytes), about 0.7 KB and 10 us each (measured: 500k empty strings 777 MB and
8 s, 500k booleans 345 MB and 6 s), and follows each declared length without comparing it with the file: a
53-byte file declaring an array of 2^62 values loops until memory runs out, and a string running past the end
is read short. :func:`check_gguf_header` walks the same structure with ``struct`` (a scalar array is skipped
by its length, a string array visits only the lengths) and refuses, naming the file:

* any length or count past the end of the file: a string, an array, the dimensions of a tensor, the
  key/value and tensor counts, a tensor's data (its byte size from the ggml type's block);
* more than :data:`MAX_GGUF_VALUES` values for the reader (Gemma 3's 262,144-token vocabulary with its
  scores and token types is 1.05M), or more than the memory available at :data:`GGUF_BYTES_PER_VALUE`;
* more than :data:`MAX_GGUF_TENSORS` tensors (a 405B Llama has 1,138; each becomes a row to analyze);
* what llama.cpp's own reader (``gguf.cpp``) refuses: arrays of arrays, unknown value or ggml types,
  more than 4 dimensions, a first dimension that is not a whole number of the type's blocks, and an
  alignment that is not a power of two.

The same walk is the header netspectra reads (:func:`read_gguf_header`, a :class:`GGUFHeader`): the scalar and
string values, arrays of at most :data:`MAX_KEPT_ITEMS` items (per-layer settings; a vocabulary, its scores and
merges are skipped: no tokenizer is read), and each tensor's name, dimensions, type and place in the file.  On
Gemma 3 270M (a 262,144-token vocabulary) ``GGUFReader`` took 690 MB of resident memory to open the file, as
much as the model's largest matrix in float32; the walk keeps a few hundred KB.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ..scale.workers import refuse_unless_fits

#: Most values (scalars, strings counted twice: length and bytes) the reader may build for a file.
MAX_GGUF_VALUES = 1 << 21
#: Memory planned per value the reader builds: a NumPy view of the mapped file and its list entry
#: (measured 0.7 to 0.8 KB, see the module docstring).
GGUF_BYTES_PER_VALUE = 1024
#: Most tensors of a GGUF file.
MAX_GGUF_TENSORS = 1 << 14
#: Most dimensions of a ggml tensor (GGML_MAX_DIMS).
MAX_GGUF_DIMS = 4
#: Arrays of at most this many items are kept in the parsed header; longer ones (a tokenizer's) are skipped.
MAX_KEPT_ITEMS = 4096

_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
_STRING, _ARRAY = 8, 9
#: struct code of each fixed-size value type (UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL,
#: UINT64, INT64, FLOAT64).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
#: Values the reader builds for a key (its length, bytes and type), a tensor info, an array header.
_KEY_VALUES, _TENSOR_VALUES, _ARRAY_VALUES = 3, 6, 2
_DEFAULT_ALIGNMENT = 32
#: Bytes of the shortest key/value (an empty key and a one-byte value) and of the shortest tensor info.
_MIN_KV_BYTES, _MIN_TENSOR_BYTES = 8 + 4 + 1, 8 + 4 + 4 + 8


class _Header:
    """The fields of the header in file order, each read only after checking it lies inside the file."""

    def __init__(self, view: mmap.mmap, label: str) -> None:
        self.view, self.label, self.size = view, label, len(view)
        self.pos, self.order = 0, "<"
        self.values = 0  # values the reader will build so far

    def refuse(self, reason: str) -> SourceError:
        return SourceError(f"{self.label}: {reason}")

    def need(self, count: int, what: str) -> None:
        """Refuse unless ``count`` more bytes lie in the file at the current position."""
        if count > self.size - self.pos:
            raise self.refuse(f"{what} runs past the end of the file ({self.size:,} bytes): forged or truncated")

    def scalar(self, code: str, what: str) -> int | float:
        width = struct.calcsize(code)
        self.need(width, what)
        (value,) = struct.unpack_from(self.order + code, self.view, self.pos)
        self.pos += width
        return value

    def string(self, what: str) -> bytes:
        length = int(self.scalar("Q", what))
        self.need(length, f"{what} of {length:,} bytes")
        text = self.view[self.pos : self.pos + length]
        self.pos += length
        return text

    def count_values(self, count: int, what: str) -> None:
        self.values += count
        if self.values > MAX_GGUF_VALUES:
            raise self.refuse(
                f"{what} would take the metadata past {MAX_GGUF_VALUES:,} values (a 262,144-token vocabulary "
                "with its scores and token types takes 1.05M): forged"
            )

    def value(self, value_type: int, what: str) -> int | float | bytes | list | None:
        """Skip one value of ``value_type``; return it when it is a scalar, a string or an array of at most
        :data:`MAX_KEPT_ITEMS` items (a list), None for a longer array."""
        if value_type in _SCALARS:
            self.count_values(1, what)
            return self.scalar(_SCALARS[value_type], what)
        if value_type == _STRING:
            self.count_values(2, what)
            return self.string(what)
        if value_type != _ARRAY:
            raise self.refuse(f"{what} has the unknown value type {value_type}")
        item_type = int(self.scalar("I", what))
        length = int(self.scalar("Q", what))
        described = f"{what}: array of {length:,} values"
        if item_type == _ARRAY:
            raise self.refuse(f"{what}: an array of arrays (GGUF readers do not nest arrays)")
        kept = length <= MAX_KEPT_ITEMS
        if item_type == _STRING:
            self.need(8 * length, described)  # each string holds at least its length
            self.count_values(_ARRAY_VALUES + 2 * length, described)
            strings = []
            for _ in range(length):
                size = int(self.scalar("Q", described))
                self.need(size, described)
                if kept:
                    strings.append(self.view[self.pos : self.pos + size])
                self.pos += size
            return strings if kept else None
        if item_type not in _SCALARS:
            raise self.refuse(f"{what}: an array of the unknown value type {item_type}")
        code = _SCALARS[item_type]
        self.need(length * struct.calcsize(code), described)
        self.count_values(_ARRAY_VALUES + length, described)
        items = list(struct.unpack_from(f"{self.order}{length}{code}", self.view, self.pos)) if kept else None
        self.pos += length * struct.calcsize(code)
        return items


def _key(raw: bytes) -> str:
    """A key or tensor name for a message: at most 80 characters (the command line escapes controls)."""
    text = raw[:80].decode("utf-8", "replace")
    return repr(text if len(raw) <= 80 else text + "...")


def _version(header: _Header) -> int:
    header.need(24, "the 24-byte GGUF header")
    if header.view[:4] != _MAGIC:
        raise header.refuse("not a GGUF file (no GGUF magic)")
    header.pos = 4
    version = int(header.scalar("I", "the version"))
    if version & 0xFFFF == 0:  # written on a machine of the other byte order, as GGUFReader reads it
        header.order, header.pos = ">", 4
        version = int(header.scalar("I", "the version"))
    if version not in _SUPPORTED_VERSIONS:
        raise header.refuse(f"GGUF version {version} is not supported (2 and 3 are)")
    return version


@dataclass(frozen=True)
class HeaderField:
    """The value of one key: a number, a string, a list (an array of at most :data:`MAX_KEPT_ITEMS` items), or
    None (a longer array, or a string that is not UTF-8)."""

    value: object

    def contents(self) -> object:
        """The value (the accessor ``GGUFReader``'s fields have)."""
        return self.value


@dataclass(frozen=True)
class HeaderTensor:
    """One tensor info of a GGUF file: ``shape`` is ggml's ``ne``, fastest dimension first; ``data_offset`` is
    where its ``n_bytes`` start in the file."""

    name: str
    shape: tuple[int, ...]
    tensor_type: object  # gguf.GGMLQuantizationType
    data_offset: int
    n_bytes: int

    @property
    def n_elements(self) -> int:
        count = 1
        for d in self.shape:
            count *= d
        return count


@dataclass(frozen=True)
class GGUFHeader:
    """What :func:`read_gguf_header` reads of a GGUF file: its keys (``fields``, as :class:`HeaderField`), its
    tensor infos (``tensors``), the byte order of its numbers (``"<"`` or ``">"``) and the values ``GGUFReader``
    would have built (``values``, see :func:`check_gguf_header`)."""

    path: Path
    fields: dict[str, HeaderField]
    tensors: list[HeaderTensor]
    byte_order: str
    values: int


def _text(raw: bytes) -> str | None:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _field(value: int | float | bytes | list | None) -> HeaderField:
    if isinstance(value, bytes):
        return HeaderField(_text(value))
    if isinstance(value, list):
        return HeaderField([_text(v) if isinstance(v, bytes) else v for v in value])
    return HeaderField(value)


def _tensor_infos(header: _Header, count: int) -> list[tuple[str, tuple[int, ...], object, int, int]]:
    """(name, dimensions, ggml type, offset, byte size) of each tensor info, checked for dimensions and type."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    infos = []
    for index in range(count):
        raw = header.string(f"the name of tensor {index}")
        name = _key(raw)
        dims_count = int(header.scalar("I", f"tensor {name}"))
        if dims_count > MAX_GGUF_DIMS:
            raise header.refuse(f"tensor {name} has {dims_count:,} dimensions (ggml tensors have at most {MAX_GGUF_DIMS})")
        header.need(8 * dims_count, f"tensor {name}")
        dims = struct.unpack_from(f"{header.order}{dims_count}Q", header.view, header.pos)
        header.pos += 8 * dims_count
        raw_type = int(header.scalar("I", f"tensor {name}"))
        offset = int(header.scalar("Q", f"tensor {name}"))
        try:
            ggml_type = GGMLQuantizationType(raw_type)
            block, type_size = GGML_QUANT_SIZES[ggml_type]
        except (ValueError, KeyError):
            raise header.refuse(f"tensor {name} has the unknown ggml type {raw_type}") from None
        if dims and dims[0] % block:
            raise header.refuse(f"tensor {name}: a row of {dims[0]:,} values is not a whole number of blocks of {block}")
        elements = 1
        for d in dims:
            elements *= d
        text = _text(raw)
        if text is None:
            raise header.refuse(f"tensor {name}: the name is not UTF-8")
        infos.append((text, tuple(int(d) for d in dims), ggml_type, offset, elements // block * type_size))
        header.count_values(_TENSOR_VALUES, f"tensor {name}")
    return infos


def read_gguf_header(path: Path, label: str) -> GGUFHeader:
    """The checked header of a GGUF file: its keys and tensor infos (module docstring), no tensor data read.

    Parameters
    ----------
    path : Path
        The file, read through a memory map (only its header is touched).
    label : str
        How the file is named in an error.

    Raises
    ------
    SourceError
        One line naming the file and what it declares (module docstring), or two tensors of one name.
    """
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < 24:
            raise SourceError(f"{label}: not a GGUF file (shorter than its 24-byte header)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            header = _Header(view, label)
            _version(header)
            tensor_count = int(header.scalar("Q", "the tensor count"))
            kv_count = int(header.scalar("Q", "the key/value count"))
            if tensor_count > MAX_GGUF_TENSORS:
                raise header.refuse(f"{tensor_count:,} tensors; a GGUF model holds at most {MAX_GGUF_TENSORS:,}: forged")
            header.need(kv_count * _MIN_KV_BYTES + tensor_count * _MIN_TENSOR_BYTES, f"{kv_count:,} key/values")
            header.count_values(kv_count * _KEY_VALUES, f"{kv_count:,} key/values")
            alignment = _DEFAULT_ALIGNMENT
            fields: dict[str, HeaderField] = {}
            for index in range(kv_count):
                key = header.string(f"key {index}")
                what = f"key {_key(key)}"
                value_type = int(header.scalar("I", what))
                value = header.value(value_type, what)
                if key == b"general.alignment" and value_type == 4:
                    alignment = int(value)
                    if alignment == 0 or alignment & (alignment - 1):
                        raise header.refuse(f"general.alignment {alignment} is not a power of two")
                text = _text(key)
                if text is not None:
                    fields.setdefault(text, _field(value))
            infos = _tensor_infos(header, tensor_count)
            data_start = -(-header.pos // alignment) * alignment
            tensors, names = [], set()
            for name, dims, ggml_type, offset, size in infos:
                if data_start + offset + size > header.size:
                    raise header.refuse(
                        f"tensor {_key(name.encode())}: {size:,} bytes at offset {offset:,} run past the end of the file "
                        f"({header.size:,} bytes)"
                    )
                if name in names:
                    raise header.refuse(f"tensor {_key(name.encode())} is stored twice")
                names.add(name)
                tensors.append(HeaderTensor(name, dims, ggml_type, data_start + offset, size))
    refuse_unless_fits(header.values * GGUF_BYTES_PER_VALUE, f"{label}: parsing the GGUF metadata", SourceError)
    return GGUFHeader(path, fields, tensors, header.order, header.values)


def check_gguf_header(path: Path, label: str) -> int:
    """Refuse a GGUF file whose header declares more than the file holds or than a model needs
    (:func:`read_gguf_header`); return the values ``GGUFReader`` would build for it."""
    return read_gguf_header(path, label).values
