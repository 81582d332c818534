"""A reader of ``torch.save`` checkpoints that never runs code from the file and does not need torch.

The zip format written by ``torch.save`` (PyTorch >= 1.6) holds ``<archive>/data.pkl``, a pickle of
the saved object in which each tensor's storage is a *persistent id*
``("storage", storage_type, key, location, numel)`` whose bytes are the zip entry
``<archive>/data/<key>``, plus ``<archive>/byteorder`` (``little`` or ``big``).

``data.pkl`` is read by :class:`RestrictedUnpickler`, whose ``find_class`` knows only the globals a
state dict needs and maps each one to an inert stand-in defined here (no torch function is ever
called): ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2/_v3``,
``torch._utils._rebuild_parameter(_with_state)``, ``torch._tensor._rebuild_from_type_v2`` (for
``Tensor``/``Parameter`` only), the ``torch.*Storage`` classes, ``torch.storage.UntypedStorage``,
torch dtypes, ``torch.Size``, ``torch.device`` and ``_codecs.encode``.  Any other global (``os.system``,
``builtins.exec``, a pickled ``nn.Module`` class, ...) raises
:class:`~netspectra.errors.UnsafeFileError` naming the file and the global, before it is called.

Tensors come back as :class:`LazyTensor` (dtype, shape, stride, storage offset); their bytes are read
from the zip only when the tensor is loaded.  The legacy (pre-1.6, non-zip) format is read with
``torch.load(weights_only=True)`` when torch is installed, and refused otherwise.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import pickletools
import re
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import MatrixError, SourceError, UnsafeFileError, one_line
from . import dtypes
from ._util import ZIP_READ_ERRORS, check_member

#: Largest data.pkl read (a state dict's pickle is about 150 bytes a tensor: a few MB even for very
#: large models).
MAX_PICKLE_BYTES = 64 * 1024 * 1024

#: Most objects the pickle may create (a tensor takes about ten).  One-byte opcodes (an empty list,
#: a 1-tuple, a memo entry, ...) would otherwise turn a 60 MB pickle into 4 GB of Python objects.
MAX_PICKLE_OBJECTS = 2_000_000

#: Opcodes that allocate an object or a stack/memo slot without reading data for it.
_ALLOCATING_OPCODES = frozenset(
    (
        "EMPTY_LIST",
        "EMPTY_DICT",
        "EMPTY_SET",
        "TUPLE1",
        "TUPLE2",
        "TUPLE3",
        "TUPLE",
        "LIST",
        "DICT",
        "FROZENSET",
        "REDUCE",
        "NEWOBJ",
        "NEWOBJ_EX",
        "OBJ",
        "DUP",
        "MEMOIZE",
        "MARK",
        "BINGET",
        "LONG_BINGET",
    )
)
_ALLOCATING_BYTES = [op.code.encode("latin-1") for op in pickletools.opcodes if op.name in _ALLOCATING_OPCODES]


def check_object_budget(data: bytes, label: str) -> None:
    """Refuse a pickle that would create more than ``MAX_PICKLE_OBJECTS`` objects.

    The bytes of the allocating opcodes are counted first (C speed; names and numbers in the pickle
    make this an over-count); only a pickle over budget by that count is walked opcode by opcode, up
    to the budget, to count exactly.

    Raises
    ------
    SourceError
        Naming ``label`` when the pickle is over budget.
    """
    if sum(data.count(code) for code in _ALLOCATING_BYTES) <= MAX_PICKLE_OBJECTS:
        return
    count = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(data):
            count += opcode.name in _ALLOCATING_OPCODES
            if count > MAX_PICKLE_OBJECTS:
                raise SourceError(
                    f"{label}: the pickle would create more than {MAX_PICKLE_OBJECTS} objects "
                    "(no state dict does: a memory bomb?)"
                )
    except (ValueError, UnicodeError):  # malformed: the unpickler that reads it next says where
        return


_STORAGE_DTYPES = {
    "DoubleStorage": "F64",
    "FloatStorage": "F32",
    "HalfStorage": "F16",
    "BFloat16Storage": "BF16",
    "LongStorage": "I64",
    "IntStorage": "I32",
    "ShortStorage": "I16",
    "CharStorage": "I8",
    "ByteStorage": "U8",
    "BoolStorage": "BOOL",
    "Float8_e4m3fnStorage": "F8_E4M3",
    "Float8_e5m2Storage": "F8_E5M2",
    "ComplexFloatStorage": "C64",
    "ComplexDoubleStorage": "C128",
}


_ITEMSIZE_EXTRA = {"C64": 8, "C128": 16}


def _itemsize(dtype: str) -> int:
    return dtypes.ITEMSIZE.get(dtype) or _ITEMSIZE_EXTRA[dtype]


class _Inert:
    """Base of the stand-ins: the pickle BUILD opcode may not set attributes on them.

    They still pickle (a :class:`TorchTensorLoader` is sent to the worker processes of a pool): by
    their constructor and its arguments, the slots in order, never by BUILD.  A checkpoint cannot make
    use of this, since the unpickler of checkpoint files resolves no class of this module.
    """

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise pickle.UnpicklingError("BUILD on a tensor/storage object")

    def __reduce__(self) -> tuple[type, tuple]:
        return type(self), tuple(getattr(self, name) for name in self.__slots__)


class _StorageType(_Inert):
    __slots__ = ("dtype",)

    def __init__(self, dtype: str | None) -> None:  # None: untyped (byte) storage
        object.__setattr__(self, "dtype", dtype)


class _TorchDtype(_Inert):
    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        object.__setattr__(self, "dtype", dtype)


class _Storage(_Inert):
    """A storage in the archive: zip entry, element dtype (None: bytes) and element count."""

    __slots__ = ("entry", "dtype", "numel")

    def __init__(self, entry: str, dtype: str | None, numel: int) -> None:
        object.__setattr__(self, "entry", entry)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "numel", numel)


class LazyTensor(_Inert):
    """A tensor of a torch checkpoint, not read yet."""

    __slots__ = ("storage", "offset", "shape", "stride", "dtype")

    def __init__(self, storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], dtype: str) -> None:
        for k, v in zip(self.__slots__, (storage, offset, shape, stride, dtype)):
            object.__setattr__(self, k, v)


def _int_tuple(x: object, what: str) -> tuple[int, ...]:
    if not isinstance(x, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in x):
        raise pickle.UnpicklingError(f"invalid tensor {what}: {x!r}")
    return tuple(x)


def _make_tensor(storage: object, storage_offset: object, size: object, stride: object, dtype: str | None) -> LazyTensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without an archive storage")
    if dtype is None:
        dtype = storage.dtype
    if dtype is None:
        raise pickle.UnpicklingError("tensor of an untyped storage without a dtype")
    shape = _int_tuple(size, "size")
    strides = _int_tuple(stride, "stride")
    if len(shape) != len(strides) or any(d < 0 for d in shape) or any(s < 0 for s in strides):
        raise pickle.UnpicklingError(f"invalid tensor geometry: size {shape}, stride {strides}")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise pickle.UnpicklingError(f"invalid storage offset {storage_offset!r}")
    if dtype not in dtypes.ITEMSIZE and dtype not in _ITEMSIZE_EXTRA:
        raise pickle.UnpicklingError(f"unknown tensor dtype {dtype!r}")
    nbytes = storage.numel * (_itemsize(storage.dtype) if storage.dtype is not None else 1)
    capacity = nbytes // _itemsize(dtype)
    if math.prod(shape) > 0:
        last = storage_offset + sum((d - 1) * s for d, s in zip(shape, strides))
        if last >= capacity:
            raise pickle.UnpicklingError(
                f"tensor of shape {shape} at offset {storage_offset} runs past its storage of {capacity} elements"
            )
    return LazyTensor(storage, storage_offset, shape, strides, dtype)


def _rebuild_tensor_v2(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> LazyTensor:
    return _make_tensor(storage, storage_offset, size, stride, None)


def _rebuild_tensor_v3(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object,
    backward_hooks: object,
    dtype: object,
    metadata: object = None,
) -> LazyTensor:
    if not isinstance(dtype, _TorchDtype):
        raise pickle.UnpicklingError("_rebuild_tensor_v3 without a torch dtype")
    return _make_tensor(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(
    data: object, requires_grad: object = False, backward_hooks: object = None, state: object = None
) -> LazyTensor:
    if not isinstance(data, LazyTensor):
        raise pickle.UnpicklingError("parameter without tensor data")
    return data


class _TensorClass(_Inert):
    """Stand-in for torch.Tensor / torch.nn.Parameter as the ``new_type`` of _rebuild_from_type_v2."""

    __slots__ = ()


_TENSOR_CLASS = _TensorClass()


def _rebuild_from_type_v2(func: object, new_type: object, args: object, state: object) -> LazyTensor:
    if new_type is not _TENSOR_CLASS or func not in (_REBUILD_TENSOR_V2, _REBUILD_TENSOR_V3, _REBUILD_PARAMETER):
        raise pickle.UnpicklingError("_rebuild_from_type_v2 of a non-tensor type")
    if not isinstance(args, tuple):
        raise pickle.UnpicklingError("_rebuild_from_type_v2 with invalid arguments")
    return func(*args)


def _torch_size(*args: object) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return _int_tuple(args, "size")


def _torch_device(*args: object) -> str:
    return ":".join(str(a) for a in args)


def _codecs_encode(obj: object, encoding: object = "utf-8", errors: str = "strict") -> bytes:
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError("_codecs.encode with unexpected arguments")
    return obj.encode(encoding, errors)


#: Largest ``bytearray(n)`` a checkpoint may ask for (the allocation happens before anything is read).
MAX_PICKLED_BYTEARRAY = 1 << 20


def _bytearray(source: object = b"", *args: object) -> bytearray:
    if isinstance(source, int) and not 0 <= source <= MAX_PICKLED_BYTEARRAY:
        raise pickle.UnpicklingError(f"bytearray of {source} bytes (more than {MAX_PICKLED_BYTEARRAY} is refused)")
    return bytearray(source, *args)  # type: ignore[call-overload]


class _Constructor(_Inert):
    """An allow-listed function: called as itself, but BUILD on it is refused like on every stand-in
    (a plain function would take the pickle's state into its ``__dict__``)."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[..., object]) -> None:
        object.__setattr__(self, "function", function)

    def __call__(self, *args: object) -> object:
        return self.function(*args)


_REBUILD_TENSOR_V2 = _Constructor(_rebuild_tensor_v2)
_REBUILD_TENSOR_V3 = _Constructor(_rebuild_tensor_v3)
_REBUILD_PARAMETER = _Constructor(_rebuild_parameter)
_REBUILD_FROM_TYPE_V2 = _Constructor(_rebuild_from_type_v2)

_ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _REBUILD_TENSOR_V2,  # (storage, offset, size, stride): a prefix of v2's
    ("torch._utils", "_rebuild_tensor_v2"): _REBUILD_TENSOR_V2,
    ("torch._utils", "_rebuild_tensor_v3"): _REBUILD_TENSOR_V3,
    ("torch._utils", "_rebuild_parameter"): _REBUILD_PARAMETER,
    ("torch._utils", "_rebuild_parameter_with_state"): _REBUILD_PARAMETER,
    ("torch._tensor", "_rebuild_from_type_v2"): _REBUILD_FROM_TYPE_V2,
    ("torch.tensor", "_rebuild_from_type_v2"): _REBUILD_FROM_TYPE_V2,
    ("torch", "Tensor"): _TENSOR_CLASS,
    ("torch._tensor", "Tensor"): _TENSOR_CLASS,
    ("torch.nn.parameter", "Parameter"): _TENSOR_CLASS,
    ("torch", "Size"): _Constructor(_torch_size),
    ("torch", "device"): _Constructor(_torch_device),
    ("torch.storage", "UntypedStorage"): _StorageType(None),
    ("torch", "UntypedStorage"): _StorageType(None),
    ("_codecs", "encode"): _Constructor(_codecs_encode),
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): _Constructor(_bytearray),
    ("builtins", "complex"): complex,
}
_ALLOWED.update({("torch", name): _StorageType(dt) for name, dt in _STORAGE_DTYPES.items()})
_ALLOWED.update({("torch", name): _TorchDtype(dt) for name, dt in dtypes.TORCH_DTYPES.items()})


class _Refused(Exception):
    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualname = f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only allow-listed globals, to inert stand-ins, and reads no data."""

    def __init__(self, file: IO[bytes], storage_entry: Callable[[str], tuple[str, int]], *, encoding: str = "utf-8") -> None:
        super().__init__(file, encoding=encoding)
        self._storage_entry = storage_entry  # key -> (zip entry name, its size in bytes)
        self._storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> object:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise _Refused(module, name)
        return target

    def persistent_load(self, pid: object) -> _Storage:
        if not isinstance(pid, tuple) or len(pid) != 5:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        typename, storage_type, key, _location, numel = pid
        if isinstance(typename, bytes):
            typename = typename.decode("ascii", "replace")
        if typename != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id of type {typename!r:.40}")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError("invalid storage reference")
        if key in self._storages:
            return self._storages[key]
        entry, nbytes = self._storage_entry(key)
        dtype = storage_type.dtype
        needed = numel * (_itemsize(dtype) if dtype is not None else 1)
        if nbytes < needed:
            raise pickle.UnpicklingError(f"storage {key} has {nbytes} bytes, {needed} expected")
        storage = _Storage(entry, dtype, numel)
        self._storages[key] = storage
        return storage


class ZipHandle:
    """Lazily opened, shared, picklable (by path) read handle on a zip archive.

    :meth:`span` maps a byte range of an uncompressed member (torch.save stores members
    uncompressed), so a tensor that views a larger storage reads only its own bytes; a compressed
    member is decompressed up to the end of the span, after its declared size passed
    :func:`check_member`.
    """

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self._zip: zipfile.ZipFile | None = None
        self._data_start: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path, "label": self.label}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["label"])

    def _fail(self, entry: str, exc: BaseException) -> SourceError:
        return SourceError(f"{self.label}: cannot read {entry}: {one_line(exc)}")

    def span(self, entry: str, start: int, length: int) -> np.ndarray:
        """Bytes [start, start + length) of a member, as a uint8 array (memory-mapped when stored)."""
        try:
            with self._lock:
                if self._zip is None:
                    self._zip = zipfile.ZipFile(self.path)
                info = self._zip.getinfo(entry)
                if start < 0 or start + length > info.file_size:
                    raise SourceError(f"{self.label}: {entry} is shorter than the tensor stored in it")
                if info.compress_type != zipfile.ZIP_STORED:
                    check_member(info, self.label)
                    with self._zip.open(info) as member:  # decompresses only up to the end of the span
                        member.seek(start)
                        data = member.read(length)
                    if len(data) != length:
                        raise SourceError(f"{self.label}: {entry} is shorter than the tensor stored in it")
                    return np.frombuffer(data, dtype=np.uint8)
                if entry not in self._data_start:
                    with open(self.path, "rb") as f:
                        f.seek(info.header_offset)
                        local = f.read(30)
                    if len(local) != 30 or local[:4] != b"PK\x03\x04":
                        raise zipfile.BadZipFile(f"bad local header for {entry}")
                    name_len = int.from_bytes(local[26:28], "little")
                    extra_len = int.from_bytes(local[28:30], "little")
                    self._data_start[entry] = info.header_offset + 30 + name_len + extra_len
                offset = self._data_start[entry] + start
            if length == 0:
                return np.zeros(0, dtype=np.uint8)
            return np.memmap(self.path, dtype=np.uint8, mode="r", offset=offset, shape=(length,)).view(np.ndarray)
        except SourceError:
            raise
        except (*ZIP_READ_ERRORS, KeyError, RuntimeError) as exc:
            raise self._fail(entry, exc) from None

    def close(self) -> None:
        with self._lock:
            if self._zip is not None:
                self._zip.close()
                self._zip = None


class TorchTensorLoader:
    """Picklable loader of one tensor of a torch zip checkpoint (reads only the tensor's span)."""

    def __init__(self, handle: ZipHandle, name: str, tensor: LazyTensor, big_endian: bool) -> None:
        self.handle = handle
        self.name = name
        self.tensor = tensor
        self.big_endian = big_endian

    def __call__(self) -> np.ndarray:
        t = self.tensor
        if not dtypes.is_known(t.dtype):
            raise MatrixError(f"{self.name}: unsupported dtype {t.dtype}")
        count = math.prod(t.shape)
        if count == 0:
            return np.zeros(t.shape, dtype=dtypes.result_dtype(t.dtype))
        raw_dtype = dtypes.raw_numpy_dtype(t.dtype)
        if self.big_endian:
            raw_dtype = raw_dtype.newbyteorder(">")
        itemsize = raw_dtype.itemsize
        extent = sum((d - 1) * s for d, s in zip(t.shape, t.stride)) + 1  # elements from the first to the last
        if count > extent:  # stride 0 (expand): a few stored bytes would become count elements in memory
            raise MatrixError(f"{self.name}: a broadcast view of {extent} stored elements as shape {t.shape}, not stored weights")
        buf = self.handle.span(t.storage.entry, t.offset * itemsize, extent * itemsize)
        flat = buf.view(raw_dtype)
        view = np.lib.stride_tricks.as_strided(
            flat, shape=t.shape, strides=tuple(s * itemsize for s in t.stride), writeable=False
        )
        native = np.ascontiguousarray(view).astype(raw_dtype.newbyteorder("="), copy=False)
        del view, flat, buf
        return dtypes.decode(native, t.dtype)


def flatten_state(obj: object, is_tensor: Callable[[object], bool]) -> dict[str, Any]:
    """The tensors of a nested state (dicts, lists, tuples) by dotted name, in insertion order.

    Keys containing ``optim`` or ``scheduler`` (optimizer and scheduler state of a training checkpoint)
    are skipped.  The walk is iterative (no recursion limit) and visits each container once, so a
    pickle whose memo shares containers (a DAG with exponentially many paths) costs its size, not its
    paths; a tensor reachable twice keeps its first name.
    """
    out: dict[str, Any] = {}
    seen: set[int] = set()
    stack: list[tuple[str, object]] = [("", obj)]
    while stack:
        prefix, node = stack.pop()
        if is_tensor(node):
            out.setdefault(prefix or "tensor", node)
            continue
        if isinstance(node, dict):
            items = [(str(k), v) for k, v in node.items()]
            items = [(k, v) for k, v in items if "optim" not in k.lower() and "scheduler" not in k.lower()]
        elif isinstance(node, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(node)]
        else:
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend((f"{prefix}.{key}" if prefix else key, value) for key, value in reversed(items))
    return out


def read_torch_zip(path: Path, label: str) -> tuple[dict[str, LazyTensor], ZipHandle, bool]:
    """Unpickle the structure of a torch zip checkpoint; return (tensors by dotted name, handle, big_endian)."""
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_READ_ERRORS as exc:
        raise SourceError(f"{label}: not a readable torch zip archive (truncated or corrupt): {one_line(exc)}") from None
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            if any(n.endswith("constants.pkl") for n in names) or any("/code/" in n for n in names):
                raise SourceError(f"{label}: TorchScript archives are not supported; save model.state_dict() with torch.save")
            raise SourceError(f"{label}: not a torch.save archive (no data.pkl)")
        pkl_name = pkl[0]
        prefix = pkl_name[: -len("data.pkl")]
        infos = {i.filename: i for i in zf.infolist()}
        for info in infos.values():
            check_member(info, label)
        big_endian = False
        if prefix + "byteorder" in infos:
            try:
                big_endian = zf.read(prefix + "byteorder").strip() == b"big"
            except ZIP_READ_ERRORS as exc:
                raise SourceError(f"{label}: corrupt archive: {one_line(exc)}") from None
        if infos[pkl_name].file_size > MAX_PICKLE_BYTES:
            raise SourceError(f"{label}: data.pkl is {infos[pkl_name].file_size} bytes, larger than any state dict")

        def storage_entry(key: str) -> tuple[str, int]:
            entry = f"{prefix}data/{key}"
            info = infos.get(entry)
            if info is None:
                raise SourceError(f"{label}: corrupt archive: storage {key!r} is missing")
            return entry, info.file_size

        try:
            data = zf.read(pkl_name)
            check_object_budget(data, label)
            obj = RestrictedUnpickler(io.BytesIO(data), storage_entry).load()
        except _Refused as exc:
            hint = ""
            if exc.qualname.startswith(("__main__.", "__torch__.")) or ".nn." in exc.qualname:
                hint = " (the file pickles an object, not a state dict: save model.state_dict())"
            raise UnsafeFileError(f"{label}: refused to load: the pickle asks for global {exc.qualname}{hint}") from None
        except SourceError:
            raise
        except (
            *ZIP_READ_ERRORS,
            pickle.UnpicklingError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            RecursionError,
            MemoryError,
            UnicodeError,
        ) as exc:
            raise SourceError(f"{label}: corrupt torch checkpoint: {type(exc).__name__}: {one_line(exc)}") from None
    tensors = flatten_state(obj, lambda node: isinstance(node, LazyTensor))
    return tensors, ZipHandle(path, label), big_endian


#: The pickled magic number that starts a legacy torch.save file (protocol 2, LONG1 of 10 bytes).
LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def is_legacy_torch(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a legacy (non-zip) torch.save file."""
    return head[:1] == b"\x80" and head[2:14] == LEGACY_MAGIC


def read_torch_legacy(path: Path, label: str) -> dict:
    """Read a legacy (non-zip) torch checkpoint with ``torch.load(weights_only=True)``: name -> torch tensor."""
    try:
        import torch
    except ImportError:
        raise SourceError(
            f"{label}: a legacy (before PyTorch 1.6) checkpoint: reading it safely needs torch "
            "(pip install 'netspectra[torch]'), or re-save it with a current torch.save"
        ) from None
    try:
        obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f"the pickle asks for global {found.group(1)}" if found else "rejected by torch.load(weights_only=True)"
        raise UnsafeFileError(f"{label}: refused to load: {what}") from None
    except Exception as exc:  # torch raises many types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SourceError(f"{label}: cannot read torch checkpoint: {type(exc).__name__}: {first}") from None
    return flatten_state(obj, lambda node: isinstance(node, torch.Tensor))
