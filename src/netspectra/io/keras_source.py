"""Keras models read with h5py, without TensorFlow or Keras: ``.keras`` archives and ``.weights.h5`` files
of Keras 3, and legacy ``.h5`` files (Keras 2 / tf.keras ``model.save`` and ``save_weights``, Keras 3's
legacy writer).

* **Keras 3** (``keras.src.saving.saving_lib``): groups mirror the model, ``layers/<key>/vars/<i>`` the
  i-th variable of a layer and its sublayers below it (``layers/sequential/layers/dense/vars/0``,
  ``layers/multi_head_attention/query_dense/vars/0``, ``layers/lstm/cell/vars/0``); the attribute
  ``name`` of each ``vars`` group is the layer's name.  The optimizer's state (``optimizer/``) and metrics
  are not weights and are not read.  A ``.keras`` file is a zip archive of ``config.json`` (the model's
  layers and their classes), ``metadata.json`` and ``model.weights.h5``, which Keras stores
  uncompressed: it is read in place, through a window on the archive.
* **Legacy HDF5**: the root (or its ``model_weights`` group) lists ``layer_names`` in model order; each
  layer group lists ``weight_names`` (``dense_1/kernel:0``) and holds each at that path; ``model_config``
  (full-model saves) gives the classes.

Each variable becomes a record named as Keras names it, layer names joined by ``/`` and the variable's
name (``sub/inner_d/kernel``; ``:0`` dropped), laid out as PyTorch stores the same weight
(:mod:`netspectra.io.keras_layout`: a Dense kernel is the (out, in) matrix, a Conv kernel the stack of
(out, in) matrices per position).  Records come in model order (the config's, else the names' natural
order).

A file is someone else's: before a dataset is read, its links must be hard links inside the file (no
external or soft links), its layout not virtual and its data in no external file, its filters HDF5's
own (deflate, shuffle, Fletcher-32, szip, n-bit, scale-offset, LZF), its dtype a number, and its
declared size held by its storage (at most 1032 times it, deflate's limit, when compressed) and that
storage by the file.  Each dataset is read alone, when its matrix is analyzed.  Any failure is one
:class:`~netspectra.errors.SourceError` naming the file.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import MatrixError, SourceError, one_line
from . import dtypes
from ._util import ZIP_READ_ERRORS, check_member
from .base import MAX_JSON_BYTES, ModelSource, TensorRecord, natural_key
from .keras_layout import SUBLAYER_ORDER, Orientation, layer_class, orientation, snake_case, variable_names
from .structured import parse_json

#: The archive members of a ``.keras`` file that are read.
WEIGHTS_MEMBER, CONFIG_MEMBER = "model.weights.h5", "config.json"
#: Most groups and datasets walked, and deepest nesting (a 7B-parameter Keras model has a few thousand).
MAX_OBJECTS, MAX_DEPTH = 200_000, 32
#: Largest attribute read (a layer's weight_names, a layer name); ``model_config`` may reach MAX_JSON_BYTES.
MAX_ATTRIBUTE_BYTES = 1 << 20
#: Most a compressed dataset may expand (deflate's own limit, as for zip members).
MAX_COMPRESSION_RATIO = 1032
#: Top-level groups of a Keras 3 file that hold no model weights.
_NOT_WEIGHTS = frozenset({"optimizer", "metrics", "compile_metrics", "loss", "compile_loss"})
#: What h5py raises on a corrupt or forged file.
_H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError, struct.error)


def _h5py(label: str) -> ModuleType:
    try:
        import h5py
    except ImportError:
        raise SourceError(f"{label}: reading Keras files needs h5py (pip install 'netspectra[keras]')") from None
    return h5py


class _Window(io.RawIOBase):
    """Read-only file object over bytes [start, start + size) of an open file descriptor (an archive member)."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        self.fd, self.start, self.size, self.position = fd, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self.size - self.position))
        done = os.preadv(self.fd, [view[:count]], self.start + self.position) if count else 0
        self.position += done
        return done

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


@dataclass(frozen=True)
class _Place:
    """Where the HDF5 data is: the file, and for an archive member its offset and size in it."""

    path: Path
    label: str
    member: tuple[int, int] | None

    @property
    def size(self) -> int:
        return self.member[1] if self.member else os.path.getsize(self.path)


@contextlib.contextmanager
def _opened(place: _Place) -> Iterator[Any]:
    """The h5py File of ``place``; SourceError naming the file when HDF5 cannot open it."""
    h5py = _h5py(place.label)
    fd = os.open(place.path, os.O_RDONLY)
    try:
        target: Any = os.fspath(place.path) if place.member is None else _Window(fd, *place.member)
        try:
            handle = h5py.File(target, "r")
        except _H5_ERRORS as exc:
            raise SourceError(f"{place.label}: not a readable HDF5 file: {one_line(exc)}") from None
        with handle:
            yield handle
    finally:
        os.close(fd)


def _child(group: Any, key: str, label: str) -> Any:
    """``group[key]`` after checking that the link is a hard link (a soft or external link could lead
    anywhere, another file included)."""
    h5py = _h5py(label)
    link = group.get(key, getlink=True)
    if link is None:
        raise SourceError(f"{label}: no object {key!r} in group {group.name}")
    if not isinstance(link, h5py.HardLink):
        raise SourceError(f"{label}: {group.name}/{key} is a {type(link).__name__}; only hard links are followed")
    return group[key]


def _walk(root: Any, components: tuple[str, ...], label: str) -> Any:
    obj = root
    for key in components:
        if key in ("", ".", "..") or not hasattr(obj, "get"):
            raise SourceError(f"{label}: invalid path {'/'.join(components)!r}")
        obj = _child(obj, key, label)
    return obj


def _attribute(obj: Any, name: str, label: str, limit: int = MAX_ATTRIBUTE_BYTES) -> object:
    """An attribute of ``obj`` (None if absent), its declared size (elements times their size; variable-length
    strings live in the file's heap, which the file holds) checked before it is read."""
    h5py = _h5py(label)
    if name not in obj.attrs:
        return None
    attribute = h5py.h5a.open(obj.id, name.encode())
    size = math.prod(attribute.shape or ()) * attribute.dtype.itemsize
    if size > limit:
        raise SourceError(f"{label}: attribute {name!r} of {obj.name} holds {size:,} bytes (more than {limit:,})")
    return obj.attrs[name]


def _text(value: object, label: str, what: str) -> str:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{label}: {what} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise SourceError(f"{label}: {what} is not text")
    return value


def _texts(value: object, label: str, what: str) -> list[str]:
    if value is None:
        return []
    array = np.asarray(value)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "OSU"):
        raise SourceError(f"{label}: {what} is not a list of names")
    return [_text(v, label, what) for v in array]


def check_dataset(dataset: Any, label: str, file_size: int) -> None:
    """Refuse a dataset whose data is not plainly in the file, or whose size its storage cannot hold
    (module docstring); nothing is read."""
    h5py = _h5py(label)
    where = f"{label}: dataset {dataset.name}"
    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise SourceError(f"{where} is a virtual dataset (its data is in other files): refused")
    if plist.get_external_count() > 0:
        raise SourceError(f"{where} stores its data in an external file: refused")
    allowed = {
        h5py.h5z.FILTER_DEFLATE,
        h5py.h5z.FILTER_SHUFFLE,
        h5py.h5z.FILTER_FLETCHER32,
        h5py.h5z.FILTER_SZIP,
        h5py.h5z.FILTER_NBIT,
        h5py.h5z.FILTER_SCALEOFFSET,
        h5py.h5z.FILTER_LZF,
    }
    for index in range(plist.get_nfilters()):
        code = plist.get_filter(index)[0]
        if code not in allowed:
            raise SourceError(f"{where} needs HDF5 filter {code}, which is not one of HDF5's own: refused")
    shape = dataset.shape or ()
    declared = math.prod(shape) * dataset.dtype.itemsize
    storage = dataset.id.get_storage_size()
    if layout == h5py.h5d.CHUNKED:
        forged = declared > MAX_COMPRESSION_RATIO * storage + 1024
    else:
        forged = declared != storage and declared > 0
    if forged or storage > file_size:
        raise SourceError(
            f"{where} declares {declared:,} bytes in {storage:,} bytes of storage, in a file of {file_size:,} "
            "(forged or truncated)"
        )


class KerasLoader:
    """Picklable loader of one Keras variable: opens the file, checks and reads the dataset, lays it out."""

    def __init__(self, place: _Place, components: tuple[str, ...], shape: tuple[int, ...], layout: Orientation | str) -> None:
        self.place, self.components, self.shape, self.layout = place, components, shape, layout

    def __call__(self) -> np.ndarray:
        if isinstance(self.layout, str):
            raise MatrixError(self.layout)
        label = self.place.label
        try:
            with _opened(self.place) as handle:
                dataset = _walk(handle, self.components, label)
                check_dataset(dataset, label, self.place.size)
                if tuple(dataset.shape or ()) != self.shape:
                    raise SourceError(f"{label}: dataset {dataset.name} changed shape since the file was listed")
                if dataset.dtype.kind not in "fiub" or dataset.dtype.itemsize > 8:
                    raise MatrixError(f"unsupported dtype {dataset.dtype}")
                raw = dataset[()]
        except _H5_ERRORS as exc:
            raise SourceError(f"{label}: cannot read {'/'.join(self.components)}: {one_line(exc)}") from None
        values = dtypes.numpy_to_float(np.asarray(raw), dtypes.from_numpy(raw.dtype))
        return values.transpose(self.layout.axes).reshape(self.layout.shape)


def _config_classes(config: object) -> tuple[dict[str, tuple[str, dict]], dict[str, int]]:
    """From a Keras model config: each layer name's (snake-case class, config) and its position in the
    config (depth first: model order)."""
    classes: dict[str, tuple[str, dict]] = {}
    order: dict[str, int] = {}
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            inner = node.get("config")
            if isinstance(node.get("class_name"), str) and isinstance(inner, dict) and isinstance(inner.get("name"), str):
                name = inner["name"]
                classes.setdefault(name, (snake_case(node["class_name"]), inner))
                order.setdefault(name, len(order))
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return classes, order


class KerasSource(ModelSource):
    """A ``.keras`` archive, a Keras 3 ``.weights.h5`` or a legacy Keras ``.h5`` file (module docstring)."""

    format = "keras"

    def __init__(self, path: Path, config: dict | None = None) -> None:
        self.path = path
        self.label = label = os.fspath(path)
        self.files = [path]
        self.config = config or {}
        model_config: object = None
        member = None
        if path.name.lower().endswith(".keras"):
            member, model_config = _archive(path, label)
        self.place = _Place(path, label, member)
        self.records = self._listing(model_config)

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self.records

    def _listing(self, model_config: object) -> list[TensorRecord]:
        label = self.label
        try:
            with _opened(self.place) as handle:
                legacy_root = _child(handle, "model_weights", label) if "model_weights" in handle else handle
                if _attribute(legacy_root, "layer_names", label) is not None:
                    if model_config is None:
                        model_config = self._legacy_config(handle)
                    return self._legacy(legacy_root, model_config)
                if "layers" in handle or "vars" in handle:
                    return self._keras3(handle, model_config)
        except _H5_ERRORS as exc:
            raise SourceError(f"{label}: not a readable Keras HDF5 file: {one_line(exc)}") from None
        raise SourceError(f"{label}: not a Keras weights file (no layers/ group and no layer_names)")

    def _legacy_config(self, handle: Any) -> object:
        """The ``model_config`` JSON of a legacy full-model file, or None."""
        text = _attribute(handle, "model_config", self.label, MAX_JSON_BYTES)
        if text is None:
            return None
        return parse_json(_text(text, self.label, "model_config").encode(), self.label, "model_config", SourceError)

    def _record(self, name: str, dataset: Any, components: tuple[str, ...], layout: Orientation | str) -> TensorRecord:
        check_dataset(dataset, self.label, self.place.size)
        shape = tuple(dataset.shape or ())
        dtype = dtypes.from_numpy(dataset.dtype)
        stored = layout.shape if isinstance(layout, Orientation) else shape
        return TensorRecord(name, stored, dtype, self.label, KerasLoader(self.place, components, shape, layout))

    def _keras3(self, handle: Any, model_config: object) -> list[TensorRecord]:
        classes, order = _config_classes(model_config)
        label = self.label
        records: list[TensorRecord] = []
        seen: set[Any] = set()  # groups by HDF5 object: a group hard-linked into itself is walked once
        # (group, its path components, layer names so far, class of the enclosing layer, depth)
        stack: list[tuple[Any, tuple[str, ...], tuple[str, ...], str | None, int]] = [(handle, (), (), None, 0)]
        while stack:
            group, components, names, parent_class, depth = stack.pop()
            if group in seen:
                continue
            seen.add(group)
            if len(seen) > MAX_OBJECTS or depth > MAX_DEPTH:
                raise SourceError(f"{label}: more than {MAX_OBJECTS:,} groups or {MAX_DEPTH} levels: refused")
            key = components[-1] if components else ""
            cls = parent_class
            if "vars" in group:
                variables = _child(group, "vars", label)
                layer_name = _text(_attribute(variables, "name", label) or key, label, f"{variables.name} name")
                configured, settings = classes.get(layer_name, (None, {}))
                cls = layer_class(configured, key, layer_name, parent_class)
                equation = settings.get("equation") if isinstance(settings.get("equation"), str) else None
                indices = sorted((k for k in variables if k.isdigit()), key=int)
                owner = names if not components else (*names, layer_name)
                for index, variable in zip(indices, variable_names(cls, len(indices))):
                    dataset = _child(variables, index, label)
                    if not hasattr(dataset, "dtype"):
                        raise SourceError(f"{label}: {variables.name}/{index} is not a dataset")
                    shape = tuple(dataset.shape or ())
                    layout = orientation(shape, variable, cls, (key, layer_name), parent_class, equation=equation)
                    name = "/".join((*owner, variable)) if owner else f"{layer_name}/{variable}"
                    records.append(self._record(name, dataset, (*components, "vars", index), layout))
                names = owner
            children = []
            for child in group:
                if child == "vars" or (not components and child in _NOT_WEIGHTS):
                    continue
                obj = _child(group, child, label)
                if hasattr(obj, "keys"):
                    children.append((child, obj))
            ranked = sorted(
                children,
                key=lambda c: (order.get(self._layer_name(c[1]), len(order)), SUBLAYER_ORDER.get(c[0], 0), natural_key(c[0])),
            )
            stack.extend((obj, (*components, child), names, cls, depth + 1) for child, obj in reversed(ranked))
        return records

    def _layer_name(self, group: Any) -> str:
        """The name of the layer a group holds (its ``vars`` group's ``name``), or ''."""
        if "vars" not in group:
            return ""
        value = _attribute(_child(group, "vars", self.label), "name", self.label)
        return "" if value is None else _text(value, self.label, "layer name")

    def _legacy(self, root: Any, model_config: object) -> list[TensorRecord]:
        classes, _ = _config_classes(model_config)
        label = self.label
        records: list[TensorRecord] = []
        base = tuple(part for part in root.name.split("/") if part)
        layer_names = _texts(_attribute(root, "layer_names", label), label, "layer_names")
        if len(layer_names) > MAX_OBJECTS:
            raise SourceError(f"{label}: more than {MAX_OBJECTS:,} layers: refused")
        for layer in layer_names:
            group = _walk(root, (layer,), label)
            for weight in _texts(_attribute(group, "weight_names", label), label, f"{layer} weight_names"):
                components = tuple(weight.split("/"))
                dataset = _walk(group, components, label)
                if not hasattr(dataset, "dtype"):
                    raise SourceError(f"{label}: {layer}/{weight} is not a dataset")
                variable = components[-1].removesuffix(":0")
                path = components[:-1] or (layer,)
                if layer in path:  # Keras 3 writes a Sequential's weights as model/layer/variable
                    path = path[path.index(layer) :]
                parent_class = None
                if len(path) > 1:
                    parent_class = layer_class(classes.get(path[-2], (None,))[0], path[-2], path[-2], None)
                configured, settings = classes.get(path[-1], (None, {}))
                cls = layer_class(configured, path[-1], path[-1], parent_class)
                equation = settings.get("equation") if isinstance(settings.get("equation"), str) else None
                shape = tuple(dataset.shape or ())
                layout = orientation(shape, variable, cls, (path[-1], path[-1]), parent_class, equation=equation, legacy=True)
                records.append(self._record("/".join((*path, variable)), dataset, (*base, layer, *components), layout))
        return records


def _archive(path: Path, label: str) -> tuple[tuple[int, int], object]:
    """The offset and size of a ``.keras`` archive's stored ``model.weights.h5``, and its parsed config.json."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename: info for info in archive.infolist()}
            info = names.get(WEIGHTS_MEMBER)
            if info is None:
                raise SourceError(f"{label}: not a Keras archive: no {WEIGHTS_MEMBER}")
            check_member(info, label)
            if info.compress_type != zipfile.ZIP_STORED:
                raise SourceError(f"{label}: {WEIGHTS_MEMBER} is compressed (Keras stores it as is): unzip it and give the .h5")
            config = None
            config_info = names.get(CONFIG_MEMBER)
            if config_info is not None:
                check_member(config_info, label)
                if config_info.file_size > MAX_JSON_BYTES:
                    raise SourceError(f"{label}: {CONFIG_MEMBER} is larger than {MAX_JSON_BYTES:,} bytes")
                config = parse_json(archive.read(config_info), label, CONFIG_MEMBER, SourceError)
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise SourceError(f"{label}: {WEIGHTS_MEMBER}: bad local header (corrupt archive)")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_length + extra_length
        if start + info.file_size > os.path.getsize(path):
            raise SourceError(f"{label}: {WEIGHTS_MEMBER} runs past the end of the archive (truncated)")
    except ZIP_READ_ERRORS as exc:
        raise SourceError(f"{label}: not a readable Keras archive: {one_line(exc)}") from None
    return (start, info.file_size), config
