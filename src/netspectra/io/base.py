"""What every model source shares: the :class:`ModelSource` interface, the :class:`TensorRecord` of one
stored tensor, the natural sort of tensor names, and the checks of file names found inside model files.

Order of tensors ("model order"): insertion order for torch checkpoints, ONNX graphs (order of first
use by a node), NumPy archives and live modules; for safetensors, whose files are sorted by dtype and
name rather than by layer, :func:`model_order_key`: embeddings first, output heads (``lm_head``, a
classifier, a pooler) last, and a natural sort in between (``layers.2`` before ``layers.10``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Self

import numpy as np

from ..errors import MatrixError, SourceError, UnsafeFileError
from .structured import read_json_file

FORMATS = ("safetensors", "safetensors-sharded", "hf-dir", "torch", "npz", "npy", "onnx", "gguf", "module")

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} format={self.format!r} path={os.fspath(self.path) if self.path else None!r}>"


_NUM = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key putting ``layers.2`` before ``layers.10``: digit runs compare as numbers, by (length without
    leading zeros, digits), which needs no integer conversion however long the run."""
    parts = _NUM.split(name)
    return tuple((len(p.lstrip("0")), p.lstrip("0")) if i % 2 else p for i, p in enumerate(parts))


#: A name component that is an embedding table (first in a model).
_EMBEDDING = re.compile(r"(^|\.)(embed[a-z_]*|wte|wpe|tok_embeddings|word_embeddings|position_embeddings|shared)(\.|$)")
#: A top-level name that is an output head (last in a model).
_HEAD = re.compile(r"^(lm_head|classifier|pooler|score|cls|qa_outputs|head|output)(\.|$)")


def model_order_key(name: str) -> tuple:
    """Sort key approximating the order of computation for names stored sorted (safetensors): embeddings,
    then the rest in natural order, then the output heads (``lm_head`` would otherwise come first)."""
    rank = 0 if _EMBEDDING.search(name) else (2 if _HEAD.match(name) else 1)
    return (rank, natural_key(name))


#: Largest JSON file (config.json, a shard index) read: a 100k-tensor index is a few MB.
MAX_JSON_BYTES = 64 << 20


def model_roots(directory: Path) -> tuple[Path, ...]:
    """Where the files a model refers to may live: its directory, resolved, and for a Hugging Face cache
    snapshot (``models--ORG--NAME/snapshots/REVISION``) the repository folder too, whose ``blobs/`` the
    snapshot's files link to."""
    real = directory.resolve()
    roots = [real]
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith(("models--", "datasets--")):
        roots.append(real.parent.parent)
    return tuple(roots)


def inside_model(path: Path, roots: tuple[Path, ...], label: str, what: str) -> Path:
    """``path`` if it resolves (symlinks followed) inside one of ``roots``; refuse links out of the model.

    Raises :class:`UnsafeFileError` for a file or a directory on the way that links outside (a model from
    the internet must not make netspectra read, and copy into its outputs, a file of the user's), and
    :class:`SourceError` for an existing path that is not a regular file (a FIFO blocks a read forever, a
    device never ends).
    """
    real = path.resolve()
    if not any(real == root or root in real.parents for root in roots):
        raise UnsafeFileError(
            f"{label}: {what} {path.name!r} links to a file outside the model directory "
            "(refused: open that file by its own path if you trust the link)"
        )
    if real.exists() and not real.is_file():
        raise SourceError(f"{label}: {what} {path.name!r} is not a regular file")
    return path


def safe_member(base: Path, name: object, label: str, what: str) -> Path:
    """``base / name`` for a file name found inside a model file: refuse absolute paths, ``..``, and names
    that resolve outside the model directory through a symlink (:func:`inside_model`; the links of a
    Hugging Face cache snapshot into its repository's ``blobs/`` are inside)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise SourceError(f"{label}: invalid {what} name {name!r}")
    posix, win = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or win.is_absolute() or win.drive or name.startswith(("/", "\\")):
        raise UnsafeFileError(f"{label}: {what} {name!r} is an absolute path outside the model directory")
    if ".." in posix.parts or ".." in win.parts:
        raise UnsafeFileError(f"{label}: {what} {name!r} escapes the model directory")
    return inside_model(base / name, model_roots(base), label, what)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode when both exist (hard links, symlinks), the same
    resolved path otherwise."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def read_config(directory: Path) -> dict:
    """config.json of a model directory as a dict, {} if there is none (a link out of the directory or a
    file that is not regular is refused, not followed)."""
    path = directory / "config.json"
    if not path.is_file():
        return {}
    inside_model(path, model_roots(directory), os.fspath(path), "config")
    obj = read_json_file(path, os.fspath(path), "config.json", SourceError, MAX_JSON_BYTES)
    if not isinstance(obj, dict):
        raise SourceError(f"{path}: invalid config.json: not a JSON object")
    return obj
