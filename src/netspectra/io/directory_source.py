"""A model directory (Hugging Face layout or not): which of its weight files is the model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .base import TORCH_SUFFIXES, ModelSource, TensorRecord
from .gguf_source import GGUFSource
from .gguf_split import first_shard
from .keras_source import KerasSource
from .numpy_source import NpzSource
from .onnx_source import OnnxSource
from .paths import model_roots, resolve_inside
from .safetensors_source import SafetensorsSource, sharded_from_files, sharded_from_index
from .torch_source import TorchSource

#: Most file names an error message lists.
_LISTED = 10


class AmbiguousWeights(SourceError):
    """A folder holding several weight files none of which is the model's by name (the q4 and q8 GGUF files
    of one repository, torch files none named ``pytorch_model.bin``): ``choices``, their names, sorted."""

    def __init__(self, directory: Path, choices: list[str]) -> None:
        self.directory = directory
        self.choices = sorted(choices)
        super().__init__(
            f"{directory}: {len(choices)} weight files and nothing says which is the model: {self.listing()}; "
            "open one of them by its path"
        )

    def listing(self, prefix: str = "") -> str:
        """The choices, each after ``prefix``, comma-separated; at most ten, then how many more."""
        shown = ", ".join(prefix + name for name in self.choices[:_LISTED])
        more = len(self.choices) - _LISTED
        return shown + (f" and {more} more" if more > 0 else "")


def hf_weights(directory: Path, config: dict, fmt: str | None) -> ModelSource:
    """Pick the weights of a model directory, preferring safetensors; see :func:`open_source`.

    Only regular files that resolve inside the directory are considered (:func:`~.paths.resolve_inside`): a link
    out of a downloaded model folder is refused before anything is opened.
    """
    roots = model_roots(directory)
    label = os.fspath(directory)

    def pick(fmt_default: str) -> str:
        return fmt or fmt_default

    def found(pattern: str) -> list[Path]:
        return sorted(resolve_inside(p, roots, label, "weight file") for p in directory.glob(pattern) if p.is_file())

    def named(name: str) -> Path | None:
        path = directory / name
        return resolve_inside(path, roots, label, "weight file") if path.is_file() else None

    if idx := named("model.safetensors.index.json"):
        return sharded_from_index(idx, config, pick("safetensors-sharded"))
    if single := named("model.safetensors"):
        src = SafetensorsSource(single, config)
        src.format = pick("safetensors")
        return src
    indexes = found("*.safetensors.index.json")
    if len(indexes) == 1:
        return sharded_from_index(indexes[0], config, pick("safetensors-sharded"))
    st = found("*.safetensors")
    if len(st) == 1:
        src = SafetensorsSource(st[0], config)
        src.format = pick("safetensors")
        return src
    if len(st) > 1:
        return sharded_from_files(directory, st, config, pick("safetensors-sharded"))
    if tidx := named("pytorch_model.bin.index.json"):
        return sharded_from_index(tidx, config, pick("torch"))
    for name in ("pytorch_model.bin", "model.pt", "model.pth"):
        if path := named(name):
            src = TorchSource(path, config)
            src.format = pick("torch")
            return src
    torch_files = sorted(p for s in TORCH_SUFFIXES for p in found(f"*{s}"))
    if len(torch_files) == 1:
        src = TorchSource(torch_files[0], config)
        src.format = pick("torch")
        return src
    for pattern, opener in (
        ("*.onnx", OnnxSource),
        ("*.npz", NpzSource),
        ("*.gguf", GGUFSource),
        ("*.keras", KerasSource),
        ("*.h5", KerasSource),
    ):
        candidates = found(pattern)
        if pattern == "*.gguf" and len(candidates) > 1 and (first := first_shard(candidates)):
            candidates = [first]  # the shards of one split model, read from the first
        if len(candidates) == 1:
            src = opener(candidates[0])
            src.config = config
            if fmt:
                src.format = fmt
            return src
    choices = [
        p.name
        for p in (*torch_files, *(f for pattern in ("*.onnx", "*.npz", "*.gguf", "*.keras", "*.h5") for f in found(pattern)))
    ]
    if choices:  # two or more of one kind (each kind with one file was taken above)
        raise AmbiguousWeights(directory, choices)
    raise SourceError(
        f"{directory}: no recognizable weights in directory "
        "(expected model.safetensors, a *.safetensors.index.json, pytorch_model.bin, *.onnx, *.npz, *.gguf, *.keras or *.h5)"
    )


class DirectorySource(ModelSource):
    """A model directory: delegates to the weights found in it, keeps the directory as ``path``."""

    def __init__(self, directory: Path, inner: ModelSource) -> None:
        self.path = directory
        self.inner = inner
        self.format = inner.format
        self.config = inner.config
        self.files = inner.files

    def tensors(self) -> Iterator[TensorRecord]:
        return self.inner.tensors()

    def close(self) -> None:
        self.inner.close()
