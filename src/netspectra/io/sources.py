"""Model sources: one object per model (file, sharded set, Hugging Face directory, live module) that
lists its tensors lazily.

:func:`open_source` recognizes the source and validates what can be validated without reading
tensor data (headers, indexes, pickles); every problem is a :class:`~netspectra.errors.SourceError`
(or :class:`~netspectra.errors.UnsafeFileError`) with one line naming the file.

Order of tensors ("model order"): insertion order for torch checkpoints, ONNX graphs (order of first
use by a node), NumPy archives and live modules; for safetensors, whose files are sorted by dtype and
name rather than by layer, a natural sort of the names (``layers.2`` before ``layers.10``).
"""

from __future__ import annotations

import json
import math
import os
import re
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Iterator

import numpy as np

from ..errors import MatrixError, SourceError, UnsafeFileError
from ._util import ZIP_READ_ERRORS, one_line
from . import dtypes
from .safetensors_file import SafetensorsFile

#: Every value of :attr:`ModelSource.format`.
FORMATS = ("safetensors", "safetensors-sharded", "hf-dir", "torch", "npz", "npy", "onnx", "module")

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


@dataclass(frozen=True)
class TensorRecord:
    """One stored tensor, not read yet.

    ``load()`` returns it in its stored shape as float32 (float64 for F64 and 32/64-bit integers).
    ``kind`` is a layer kind known from the model structure (live module type, ONNX operator), or
    None when only the name and shape tell.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    source: str
    load: Callable[[], np.ndarray] = field(repr=False, compare=False)
    kind: str | None = None

    @property
    def loader(self) -> Callable[[], np.ndarray]:
        """Alias of :attr:`load`."""
        return self.load

    def load_required(self) -> np.ndarray:
        """:meth:`load` for a caller that needs every tensor (compress, merge) rather than a row per
        matrix (analyze).

        Raises
        ------
        SourceError
            Where ``load`` raises :class:`MatrixError` (an object array, an unsupported dtype): the
            file cannot be read as a whole, and the message names it and the tensor.
        """
        try:
            return self.load()
        except MatrixError as exc:
            reason = str(exc).removeprefix(f"{self.name}: ")
            raise SourceError(f"{self.source}: cannot read tensor {self.name}: {reason}") from None


class ModelSource:
    """A model to analyze.  Attributes: ``path`` (Path, None for a live module), ``format`` (one of
    :data:`FORMATS`), ``config`` (config.json as a dict, or {}), ``files`` (the weight files read, in
    order; used by :func:`~netspectra.io.content_hash`)."""

    path: Path | None
    format: str
    config: dict
    files: list[Path]

    def tensors(self) -> Iterator[TensorRecord]:
        raise NotImplementedError

    def close(self) -> None:
        """Release open handles (files are otherwise opened only while a tensor is read)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} format={self.format!r} path={os.fspath(self.path) if self.path else None!r}>"


_NUM = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key putting ``layers.2`` before ``layers.10``."""
    return tuple(int(p) if i % 2 else p for i, p in enumerate(_NUM.split(name)))


def safe_member(base: Path, name: object, label: str, what: str) -> Path:
    """``base / name`` for a file name found inside a model file; refuse absolute paths and ``..``.

    The check is on the name as written (symlinks are not resolved: the Hugging Face cache links
    snapshot files to blobs outside the snapshot directory).
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise SourceError(f"{label}: invalid {what} name {name!r}")
    posix, win = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or win.is_absolute() or win.drive or name.startswith(("/", "\\")):
        raise UnsafeFileError(f"{label}: {what} {name!r} is an absolute path outside the model directory")
    if ".." in posix.parts or ".." in win.parts:
        raise UnsafeFileError(f"{label}: {what} {name!r} escapes the model directory")
    return base / name


def read_config(directory: Path) -> dict:
    """config.json of a model directory as a dict, {} if there is none."""
    path = directory / "config.json"
    if not path.is_file():
        return {}
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{path}: invalid config.json: {one_line(exc)}") from None
    if not isinstance(obj, dict):
        raise SourceError(f"{path}: invalid config.json: not a JSON object")
    return obj


# --------------------------------------------------------------------------------------------- safetensors


class SafetensorsSource(ModelSource):
    """A single ``.safetensors`` file."""

    format = "safetensors"

    def __init__(self, path: Path, config: dict | None = None):
        self.path = path
        self.file = SafetensorsFile(path, os.fspath(path))
        self.config = read_config(path.parent) if config is None else config
        self.metadata = self.file.metadata
        self.files = [path]

    def tensors(self) -> Iterator[TensorRecord]:
        for name in sorted(self.file.entries, key=natural_key):
            e = self.file.entries[name]
            yield TensorRecord(name, e.shape, e.dtype, self.file.label, self.file.loader(name))


class ShardedSource(ModelSource):
    """Tensors spread over several files (safetensors or torch), listed by an index
    ``{"weight_map": {tensor: shard}}`` or, without index, all ``*.safetensors`` of a directory.

    Each shard is opened (header or pickle parsed) when iteration first needs one of its tensors.
    """

    def __init__(self, directory: Path, weight_map: dict[str, str], label: str, *, path: Path, fmt: str, config: dict):
        self.path = path
        self.format = fmt
        self.directory = directory
        self.label = label
        self.config = config
        self.weight_map: dict[str, Path] = {}
        shard_paths: dict[str, Path] = {}
        for tensor, shard in weight_map.items():
            if shard not in shard_paths:
                shard_paths[shard] = safe_member(directory, shard, label, "shard")
                if not shard.lower().endswith((".safetensors",) + TORCH_SUFFIXES):
                    raise SourceError(f"{label}: shard {shard!r} is neither a .safetensors nor a torch file")
            self.weight_map[tensor] = shard_paths[shard]
        for shard, p in shard_paths.items():
            if not p.is_file():
                raise SourceError(f"{label}: index references missing shard {shard}")
        self.files = ([path] if path.is_file() else []) + sorted(set(shard_paths.values()))
        self._opened: dict[Path, dict[str, TensorRecord]] = {}

    def _shard(self, p: Path) -> dict[str, TensorRecord]:
        if p not in self._opened:
            src = _open_file(p, config=self.config)
            self._opened[p] = {r.name: r for r in src.tensors()}
        return self._opened[p]

    def tensors(self) -> Iterator[TensorRecord]:
        for name in sorted(self.weight_map, key=natural_key):
            shard = self.weight_map[name]
            records = self._shard(shard)
            if name not in records:
                raise SourceError(f"{self.label}: tensor {name} is listed in the index but missing from {shard.name}")
            yield records[name]

    def close(self):
        self._opened.clear()


def _read_index(index: Path) -> dict[str, str]:
    label = os.fspath(index)
    try:
        obj = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{label}: invalid index JSON: {one_line(exc)}") from None
    wm = obj.get("weight_map") if isinstance(obj, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in wm.items()):
        raise SourceError(f"{label}: invalid index: no weight_map of tensor names to shard files")
    if not wm:
        raise SourceError(f"{label}: invalid index: empty weight_map")
    return wm


def _sharded_from_index(index: Path, config: dict | None = None, fmt: str | None = None) -> ShardedSource:
    wm = _read_index(index)
    if fmt is None:
        fmt = "safetensors-sharded" if index.name.endswith(".safetensors.index.json") else "torch"
    cfg = read_config(index.parent) if config is None else config
    return ShardedSource(index.parent, wm, os.fspath(index), path=index, fmt=fmt, config=cfg)


def _sharded_from_files(directory: Path, files: list[Path], config: dict, fmt: str) -> ShardedSource:
    wm: dict[str, str] = {}
    for f in files:
        sf = SafetensorsFile(f, os.fspath(f))
        for name in sf.entries:
            if name in wm:
                raise SourceError(f"{directory}: tensor {name} appears in both {wm[name]} and {f.name}")
            wm[name] = f.name
    return ShardedSource(directory, wm, os.fspath(directory), path=directory, fmt=fmt, config=config)


# --------------------------------------------------------------------------------------------- torch


class TorchSource(ModelSource):
    """A ``torch.save`` checkpoint (.pt/.pth/.bin/.ckpt), read without running code from it."""

    format = "torch"

    def __init__(self, path: Path, config: dict | None = None):
        from . import torch_pickle

        self.path = path
        self.files = [path]
        self.config = read_config(path.parent) if config is None else config
        label = os.fspath(path)
        try:
            with open(path, "rb") as f:
                magic = f.read(16)
        except OSError as exc:
            raise SourceError(f"{label}: cannot read: {exc.strerror or exc}") from None
        self._records: list[TensorRecord] = []
        if magic.startswith(b"PK"):
            tensors, self._handle, big = torch_pickle.read_torch_zip(path, label)
            seen: dict[tuple, str] = {}
            for name, t in tensors.items():
                ident = (t.storage.entry, t.offset, t.shape, t.stride, t.dtype)
                if ident in seen:  # tied weights saved twice: analyze once
                    continue
                seen[ident] = name
                loader = torch_pickle.TorchTensorLoader(self._handle, name, t, big)
                self._records.append(TensorRecord(name, t.shape, t.dtype, label, loader))
        elif torch_pickle.is_legacy_torch(magic):
            self._handle = None
            tensors = torch_pickle.read_torch_legacy(path, label)
            seen_ptr: set = set()
            for name, t in tensors.items():
                key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()))
                if key in seen_ptr and t.numel() > 0:
                    continue
                seen_ptr.add(key)
                self._records.append(
                    TensorRecord(name, tuple(t.shape), dtypes.from_torch(t.dtype), label, _TorchTensorLoader(name, t))
                )
        elif magic[:1] == b"\x80":
            raise UnsafeFileError(f"{label}: refused to load: a plain pickle, not a torch.save checkpoint (pickles can run code)")
        else:
            raise SourceError(f"{label}: not a torch checkpoint (neither a torch.save zip archive nor a pickle)")

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self._records

    def close(self):
        if self._handle is not None:
            self._handle.close()


class _TorchTensorLoader:
    """Loader of an in-memory torch tensor (legacy checkpoints, live modules)."""

    def __init__(self, name: str, tensor):
        self.name = name
        self.tensor = tensor

    def __call__(self) -> np.ndarray:
        import torch

        t = self.tensor.detach()
        if t.device.type == "meta":
            raise MatrixError(f"{self.name}: tensor on the meta device has no data")
        if t.is_complex():
            raise MatrixError(f"{self.name}: unsupported dtype {dtypes.from_torch(t.dtype)}")
        if t.numel() > t.untyped_storage().nbytes() // max(t.element_size(), 1):  # expand(): stride 0
            raise MatrixError(f"{self.name}: a broadcast view of shape {tuple(t.shape)} over a smaller storage, "
                              "not stored weights")  # fmt: skip
        wide = t.dtype in (torch.float64, torch.int64, torch.int32)
        try:
            t = t.cpu().double() if wide else t.cpu().float()
            return t.numpy().copy() if t.data_ptr() == self.tensor.data_ptr() else t.numpy()
        except (RuntimeError, TypeError) as exc:  # quantized or exotic tensor types
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MatrixError(f"{self.name}: cannot convert {dtypes.from_torch(self.tensor.dtype)} to float: {msg}") from None


# --------------------------------------------------------------------------------------------- numpy


class _NpzLoader:
    def __init__(self, path: Path, key: str, dtype: str, label: str):
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
    def __init__(self, path: Path, dtype: str, label: str):
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
_NPY_HEADER_ERRORS = (ValueError, OSError, EOFError, SyntaxError, TypeError, RecursionError, MemoryError,
                      tokenize.TokenError)  # fmt: skip


#: Most a deflate stream expands (about 1032:1); an archive member claiming more is forged.
_DEFLATE_MAX_RATIO = 1032


def _npy_header(fp, label: str, size: int) -> tuple[tuple[int, ...], np.dtype]:
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
            raise SourceError(f"{label}: truncated or forged: shape {shape} of {dtype} needs {need} bytes, "
                              f"{have} stored")  # fmt: skip
    return shape, dtype


class NpzSource(ModelSource):
    """A NumPy ``.npz`` archive (each array is a tensor, in archive order); read with allow_pickle=False."""

    format = "npz"

    def __init__(self, path: Path):
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
                    stored = info.compress_type == zipfile.ZIP_STORED
                    if (stored and info.compress_size != info.file_size) or (
                        info.compress_type == zipfile.ZIP_DEFLATED
                        and info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024
                    ):
                        raise SourceError(f"{label}[{key}]: corrupt or forged archive: {info.compress_size} bytes "
                                          f"stored claim {info.file_size}")  # fmt: skip
                    with zf.open(info) as fp:
                        shape, dt = _npy_header(fp, f"{label}[{key}]", info.file_size)
                    name = dtypes.from_numpy(dt)
                    self._records.append(TensorRecord(key, shape, name, label, _NpzLoader(path, key, name, label)))
        except ZIP_READ_ERRORS as exc:
            raise SourceError(f"{label}: not a readable .npz archive: {one_line(exc)}") from None

    def tensors(self):
        yield from self._records


class NpySource(ModelSource):
    """A single ``.npy`` array; the tensor is named after the file stem."""

    format = "npy"

    def __init__(self, path: Path):
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

    def tensors(self):
        yield self._record


# --------------------------------------------------------------------------------------------- directories


def _hf_weights(directory: Path, config: dict, fmt: str | None) -> ModelSource:
    """Pick the weights of a model directory, preferring safetensors; see :func:`open_source`."""

    def pick(fmt_default: str) -> str:
        return fmt or fmt_default

    idx = directory / "model.safetensors.index.json"
    if idx.is_file():
        return _sharded_from_index(idx, config, pick("safetensors-sharded"))
    single = directory / "model.safetensors"
    if single.is_file():
        src = SafetensorsSource(single, config)
        src.format = pick("safetensors")
        return src
    indexes = sorted(directory.glob("*.safetensors.index.json"))
    if len(indexes) == 1:
        return _sharded_from_index(indexes[0], config, pick("safetensors-sharded"))
    st = sorted(p for p in directory.glob("*.safetensors") if p.is_file())
    if len(st) == 1:
        src = SafetensorsSource(st[0], config)
        src.format = pick("safetensors")
        return src
    if len(st) > 1:
        return _sharded_from_files(directory, st, config, pick("safetensors-sharded"))
    tidx = directory / "pytorch_model.bin.index.json"
    if tidx.is_file():
        return _sharded_from_index(tidx, config, pick("torch"))
    for name in ("pytorch_model.bin", "model.pt", "model.pth"):
        if (directory / name).is_file():
            src = TorchSource(directory / name, config)
            src.format = pick("torch")
            return src
    torch_files = sorted(p for s in TORCH_SUFFIXES for p in directory.glob(f"*{s}") if p.is_file())
    if len(torch_files) == 1:
        src = TorchSource(torch_files[0], config)
        src.format = pick("torch")
        return src
    for pattern, opener in (("*.onnx", _open_onnx), ("*.npz", NpzSource)):
        found = sorted(p for p in directory.glob(pattern) if p.is_file())
        if len(found) == 1:
            src = opener(found[0])
            src.config = config
            if fmt:
                src.format = fmt
            return src
    many = f" ({len(torch_files)} torch files, none named pytorch_model.bin)" if torch_files else ""
    raise SourceError(
        f"{directory}: no recognizable weights in directory{many} "
        "(expected model.safetensors, a *.safetensors.index.json, pytorch_model.bin, *.onnx or *.npz)"
    )


class _DirectorySource(ModelSource):
    """A model directory: delegates to the weights found in it, keeps the directory as ``path``."""

    def __init__(self, directory: Path, inner: ModelSource):
        self.path = directory
        self.inner = inner
        self.format = inner.format
        self.config = inner.config
        self.files = inner.files

    def tensors(self):
        return self.inner.tensors()

    def close(self):
        self.inner.close()


def _open_onnx(path: Path) -> ModelSource:
    from .onnx_source import OnnxSource

    return OnnxSource(path)


def _open_file(path: Path, config: dict | None = None) -> ModelSource:
    name = path.name.lower()
    if name.endswith(".safetensors"):
        return SafetensorsSource(path, config)
    if name.endswith(".index.json"):
        return _sharded_from_index(path, config)
    if name.endswith(TORCH_SUFFIXES):
        return TorchSource(path, config)
    if name.endswith(".npz"):
        return NpzSource(path)
    if name.endswith(".npy"):
        return NpySource(path)
    if name.endswith(".onnx"):
        return _open_onnx(path)
    raise SourceError(
        f"{path}: unknown file type {path.suffix or '(no extension)'!s} "
        "(expected .safetensors, *.index.json, .pt/.pth/.bin/.ckpt, .npz, .npy, .onnx or a model directory)"
    )


def open_source(source) -> ModelSource:
    """Open a model: a path (file or directory), a live ``torch.nn.Module``, or a :class:`ModelSource`.

    Files: ``.safetensors`` (format ``safetensors``); ``*.safetensors.index.json`` (``safetensors-sharded``);
    ``pytorch_model.bin.index.json`` (``torch``, sharded); ``.pt/.pth/.bin/.ckpt`` (``torch``); ``.npz``;
    ``.npy``; ``.onnx``.  A directory with ``config.json`` is ``hf-dir``; its weights are, in order of
    preference, ``model.safetensors.index.json``, ``model.safetensors``, another single
    ``*.safetensors.index.json``, a single ``*.safetensors`` (several without index are read together),
    ``pytorch_model.bin.index.json``, ``pytorch_model.bin``, a single torch file, ``*.onnx``, ``*.npz``.
    A directory without ``config.json`` gets the format of its weights.  ``config`` is config.json of
    the directory (of the file's directory for a file), or {}.

    Raises :class:`SourceError` (one line, naming the file) for a missing path, an unknown file type,
    a directory without weights, or a corrupt/truncated/forged file; :class:`UnsafeFileError` for a
    pickle that asks for a non-allow-listed global or a file reference escaping the model directory.
    """
    if isinstance(source, ModelSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if not path.exists():
                raise SourceError(f"{os.fspath(source)}: no such file or directory")
            if path.is_dir():
                config = read_config(path)
                inner = _hf_weights(path, config, "hf-dir" if (path / "config.json").is_file() else None)
                return _DirectorySource(path, inner)
            if not path.is_file():
                raise SourceError(f"{path}: not a regular file")
            return _open_file(path)
        except OSError as exc:  # permissions, I/O errors, paths too long, ...
            raise SourceError(f"{os.fspath(source)}: cannot read: {one_line(exc)}") from None
    if _is_torch_module(source):
        from .module_source import ModuleSource

        return ModuleSource(source)
    raise SourceError(f"cannot open a model from {type(source).__name__!s}: expected a path or a torch.nn.Module")


def _is_torch_module(obj) -> bool:
    for cls in type(obj).__mro__:
        if cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module":
            return True
    return False
