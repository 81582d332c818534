"""Safetensors models: one file, or shards listed by an index or found in a directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .base import MAX_JSON_BYTES, TORCH_SUFFIXES, ModelSource, TensorRecord, model_order_key, read_config
from .factored import FactorProduct, read_factored
from .paths import safe_member
from .safetensors_file import SafetensorsFile
from .structured import read_json_file
from .torch_source import TorchSource


class SafetensorsSource(ModelSource):
    """A single ``.safetensors`` file; a factored output of ``compress`` (:mod:`.factored`) reads as the model
    it stands for: each matrix stored as factors ``NAME.A``, ``NAME.B`` is one record ``NAME`` loading A B."""

    format = "safetensors"

    def __init__(self, path: Path, config: dict | None = None) -> None:
        self.path = path
        self.file = SafetensorsFile(path, os.fspath(path))
        self.config = read_config(path.parent) if config is None else config
        self.metadata = self.file.metadata
        self.files = [path]
        factored = read_factored(self.file)
        self.factored = factored[0] if factored else {}
        if factored:
            self.files.append(factored[1])

    def tensors(self) -> Iterator[TensorRecord]:
        label = self.file.label
        records = {
            name: TensorRecord(name, e.shape, e.dtype, label, self.file.loader(name)) for name, e in self.file.entries.items()
        }
        for name, pair in self.factored.items():
            del records[pair.left.name], records[pair.right.name]
            product = FactorProduct(self.file.loader(pair.left.name), self.file.loader(pair.right.name))
            records[name] = TensorRecord(name, pair.shape, pair.left.dtype, label, product)
        for name in sorted(records, key=model_order_key):
            yield records[name]


class ShardedSource(ModelSource):
    """Tensors spread over several files (safetensors or torch), listed by an index
    ``{"weight_map": {tensor: shard}}`` or, without index, all ``*.safetensors`` of a directory.

    Each shard is opened (header or pickle parsed) when iteration first needs one of its tensors.
    """

    def __init__(self, directory: Path, weight_map: dict[str, str], label: str, *, path: Path, fmt: str, config: dict) -> None:
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
            src = SafetensorsSource(p, self.config) if p.name.lower().endswith(".safetensors") else TorchSource(p, self.config)
            self._opened[p] = {r.name: r for r in src.tensors()}
        return self._opened[p]

    def tensors(self) -> Iterator[TensorRecord]:
        for name in sorted(self.weight_map, key=model_order_key):
            shard = self.weight_map[name]
            records = self._shard(shard)
            if name not in records:
                raise SourceError(f"{self.label}: tensor {name} is listed in the index but missing from {shard.name}")
            yield records[name]

    def close(self) -> None:
        self._opened.clear()


def read_index(index: Path) -> dict[str, str]:
    label = os.fspath(index)
    obj = read_json_file(index, label, "index JSON", SourceError, MAX_JSON_BYTES)
    wm = obj.get("weight_map") if isinstance(obj, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in wm.items()):
        raise SourceError(f"{label}: invalid index: no weight_map of tensor names to shard files")
    if not wm:
        raise SourceError(f"{label}: invalid index: empty weight_map")
    return wm


def sharded_from_index(index: Path, config: dict | None = None, fmt: str | None = None) -> ShardedSource:
    wm = read_index(index)
    if fmt is None:
        fmt = "safetensors-sharded" if index.name.endswith(".safetensors.index.json") else "torch"
    cfg = read_config(index.parent) if config is None else config
    return ShardedSource(index.parent, wm, os.fspath(index), path=index, fmt=fmt, config=cfg)


def sharded_from_files(directory: Path, files: list[Path], config: dict, fmt: str) -> ShardedSource:
    wm: dict[str, str] = {}
    for f in files:
        sf = SafetensorsFile(f, os.fspath(f))
        for name in sf.entries:
            if name in wm:
                raise SourceError(f"{directory}: tensor {name} appears in both {wm[name]} and {f.name}")
            wm[name] = f.name
    return ShardedSource(directory, wm, os.fspath(directory), path=directory, fmt=fmt, config=config)


# --------------------------------------------------------------------------------------------- torch
