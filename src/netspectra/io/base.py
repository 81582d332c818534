"""What every model source shares: the :class:`ModelSource` interface, the :class:`TensorRecord` of one
stored tensor, the natural sort of tensor names, and a model folder's config.json (resolved inside the
folder by :mod:`.paths`).

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
from pathlib import Path
from typing import Self

import numpy as np

from ..errors import MatrixError, SourceError
from .paths import model_roots, resolve_inside
from .structured import read_json_file

FORMATS = ("safetensors", "safetensors-sharded", "hf-dir", "torch", "npz", "npy", "onnx", "gguf", "keras", "module")

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
#: Suffixes of the files a model's weights may be stored in.
WEIGHT_SUFFIXES = (".safetensors", *TORCH_SUFFIXES, ".onnx", ".npz", ".npy", ".gguf")


def weight_files(directory: Path) -> list[str]:
    """Names of the files directly in ``directory`` whose suffix says they may hold weights, sorted (by name
    only: nothing is opened or followed)."""
    try:
        return sorted(p.name for p in directory.iterdir() if p.name.lower().endswith(WEIGHT_SUFFIXES))
    except OSError:
        return []


@dataclass(frozen=True)
class TensorRecord:
    """One stored tensor, not read yet.

    ``load()`` returns it in its stored shape as float32 (float64 for F64 and 32/64-bit integers).
    ``kind`` is a layer kind known from the model structure (live module type, ONNX operator), or
    None when only the name and shape tell.  ``noise()``, for a quantized tensor, is its ``sigma2_quant``:
    the mean per-entry variance of its quantization error known from its format
    (:mod:`netspectra.io.quant_noise`); None where the reader does not know it.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    source: str
    load: Callable[[], np.ndarray] = field(repr=False, compare=False)
    kind: str | None = None
    noise: Callable[[], float] | None = field(default=None, repr=False, compare=False)

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


def config_file(directory: Path) -> Path | None:
    """config.json of a model directory, None if there is none or it is not a regular file (a FIFO, a
    device: never opened); one that resolves outside the directory is refused (:func:`resolve_inside`)."""
    path = directory / "config.json"
    if not path.is_file():
        return None
    return resolve_inside(path, model_roots(directory), os.fspath(path), "config")


def read_config(directory: Path) -> dict:
    """config.json of a model directory as a dict, {} if there is none (see :func:`config_file`: a link
    out of the directory is refused, not followed)."""
    path = config_file(directory)
    if path is None:
        return {}
    obj = read_json_file(path, os.fspath(path), "config.json", SourceError, MAX_JSON_BYTES)
    if not isinstance(obj, dict):
        raise SourceError(f"{path}: invalid config.json: not a JSON object")
    return obj
