"""PEFT LoRA adapters: each adapted matrix's update dW = s B A, or, on a base model, the merged W + dW.

A PEFT adapter folder holds ``adapter_config.json`` (``peft_type: LORA``, ``r``, ``lora_alpha``,
``use_rslora``, ``rank_pattern``, ``alpha_pattern``) and ``adapter_model.safetensors`` (or
``adapter_model.bin``, read by the safe torch reader).  For a module ``M`` with ``M.lora_A.weight``
(r x in) and ``M.lora_B.weight`` (out x r) the update is

    dW = s B A,   s = alpha / r   (LoRA, Hu et al. 2021),   s = alpha / sqrt(r)   (rsLoRA, Kalajdzievski 2023),

with r the rank stored in A and alpha from ``alpha_pattern`` where a key names the module, else
``lora_alpha``.  dW is formed only when that matrix is analyzed, one at a time, in float32 row blocks
(each block's product in float64), after planning its memory against what is available: a 240 KB
rank-1 adapter can name a 30000 x 30000 module (3.4 GiB).  A rank of 0 (no update) and an alpha that
is not a finite number are refused.  Without a base the
source lists the updates under the base's names (``model.layers.0.self_attn.q_proj.weight``) and any
full tensors the adapter saved (``modules_to_save``); with a base it lists the base model with each
adapted matrix replaced by W + dW.  DoRA adapters (a magnitude vector per module) are analyzed as
updates only: their merged weight is not W + dW.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..constraints import Interval, check_value
from ..errors import MatrixError, SourceError
from ..scale.workers import refuse_unless_fits
from .base import MAX_JSON_BYTES, ModelSource, TensorRecord
from .paths import model_roots, resolve_inside
from .safetensors_source import SafetensorsSource
from .structured import read_json_file
from .torch_source import TorchSource

#: ``[base_model.model.]MODULE.lora_A[.ADAPTER].weight`` (PEFT strips the adapter name when saving; older
#: versions kept it).
_LORA_KEY = re.compile(r"(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.[^.]+)?\.weight")
_PEFT_PREFIX = "base_model.model."
#: Bytes per entry of dW while it is formed: the float32 result, and with a base its loaded matrix
#: (float64 at most).
_UPDATE_BYTES, _BASE_BYTES = 4, 8
#: Entries of dW computed in float64 at a time.
_BLOCK_ENTRIES = 1 << 22


def is_adapter_dir(path: Path) -> bool:
    """Whether ``path`` is a folder holding a PEFT adapter (``adapter_config.json``)."""
    return path.is_dir() and (path / "adapter_config.json").is_file()


def _pattern_value(patterns: object, module: str) -> object:
    """The value of the first key of a PEFT ``rank_pattern``/``alpha_pattern`` that names ``module``
    (the key is the module's name or a suffix of it on a dot boundary), or None."""
    if not isinstance(patterns, dict):
        return None
    for key, value in patterns.items():
        if isinstance(key, str) and (module == key or module.endswith("." + key)):
            return value
    return None


class LoraUpdate:
    """Loader of dW = scale * B A (float32, out x in), optionally added to the base matrix."""

    def __init__(self, a: TensorRecord, b: TensorRecord, scale: float, base: TensorRecord | None = None) -> None:
        self.a, self.b, self.scale, self.base = a, b, scale, base

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in): rows of B by columns of A."""
        return self.b.shape[0], self.a.shape[1]

    def __call__(self) -> np.ndarray:
        rows, cols = self.shape
        per_entry = _UPDATE_BYTES + (_BASE_BYTES if self.base is not None else 0)
        refuse_unless_fits(rows * cols * per_entry, f"forming the {rows} x {cols} update B A", MatrixError)
        a = np.asarray(self.a.load(), dtype=np.float64)
        b = np.asarray(self.b.load(), dtype=np.float64)
        base = None if self.base is None else self.base.load()
        out = np.empty((rows, cols), dtype=np.float32)
        step = max(1, _BLOCK_ENTRIES // max(cols, 1))
        for start in range(0, rows, step):
            block = self.scale * (b[start : start + step] @ a)
            out[start : start + step] = block if base is None else base[start : start + step] + block
        return out


class AdapterSource(ModelSource):
    """A PEFT LoRA adapter folder, alone (the updates dW) or on a ``base`` model (the merged W + dW)."""

    def __init__(self, directory: Path, base: ModelSource | None = None) -> None:
        self.path = directory
        label = os.fspath(directory)
        roots = model_roots(directory)
        config_path = resolve_inside(directory / "adapter_config.json", roots, label, "adapter config")
        config = read_json_file(config_path, os.fspath(config_path), "adapter_config.json", SourceError, MAX_JSON_BYTES)
        if not isinstance(config, dict):
            raise SourceError(f"{config_path}: invalid adapter_config.json: not a JSON object")
        if str(config.get("peft_type", "LORA")).upper() != "LORA":
            raise SourceError(
                f"{config_path}: peft_type {config.get('peft_type')!r:.40} is not a LoRA adapter (netspectra reads LoRA adapters)"
            )
        self.config = config
        weights = next(
            (directory / n for n in ("adapter_model.safetensors", "adapter_model.bin") if (directory / n).is_file()), None
        )
        if weights is None:
            raise SourceError(f"{label}: adapter folder without adapter_model.safetensors or adapter_model.bin")
        weights = resolve_inside(weights, roots, label, "adapter weights")
        self.weights = SafetensorsSource(weights, {}) if weights.suffix == ".safetensors" else TorchSource(weights, {})
        self.base = base
        self.files = [*self.weights.files, *(base.files if base is not None else [])]
        self.format = "peft-lora" if base is None else f"peft-lora+{base.format}"
        if config.get("use_dora") and base is not None:
            raise SourceError(
                f"{config_path}: a DoRA adapter's merged weight is not W + dW (it rescales each "
                "row): analyze the adapter alone for its updates"
            )
        self._updates, self._full = self._pair(label)

    def _scale(self, module: str, rank: int) -> float:
        alpha = _pattern_value(self.config.get("alpha_pattern"), module)
        where = "lora_alpha" if alpha is None else "alpha_pattern"
        alpha = self.config.get("lora_alpha", 8) if alpha is None else alpha
        check_value(f"{self.path}: {where} of {module}", alpha, [Interval(float, None, None)], SourceError)
        return float(alpha) / (np.sqrt(rank) if self.config.get("use_rslora") else rank)

    def _pair(self, label: str) -> tuple[dict[str, LoraUpdate], list[TensorRecord]]:
        parts: dict[str, dict[str, TensorRecord]] = {}
        full: list[TensorRecord] = []
        for record in self.weights.tensors():
            match = _LORA_KEY.fullmatch(record.name)
            if match:
                parts.setdefault(match["module"], {})[match["part"]] = record
            elif ".lora_" not in record.name:  # magnitude vectors, embedding LoRA: not a matrix update here
                full.append(
                    TensorRecord(
                        record.name.removeprefix(_PEFT_PREFIX).replace(".modules_to_save.default", ""),
                        record.shape,
                        record.dtype,
                        record.source,
                        record.load,
                    )
                )
        updates = {}
        for module, ab in parts.items():
            a, b = ab.get("A"), ab.get("B")
            if a is None or b is None:
                raise SourceError(f"{label}: {module} has lora_{'B' if a is None else 'A'} without its partner")
            if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[0] != b.shape[1]:
                raise SourceError(f"{label}: {module}: lora_A {a.shape} and lora_B {b.shape} do not multiply")
            if a.shape[0] == 0:
                raise SourceError(f"{label}: {module}: lora_A {a.shape} is of rank 0 (a LoRA update has rank r >= 1)")
            updates[f"{module}.weight"] = LoraUpdate(a, b, self._scale(module, a.shape[0]))
        return updates, full

    def tensors(self) -> Iterator[TensorRecord]:
        label = os.fspath(self.path)
        if self.base is None:
            for name, update in self._updates.items():
                yield TensorRecord(name, update.shape, "F32", label, update)
            yield from self._full
            return
        replaced = {record.name: record for record in self._full}
        unused = set(self._updates)
        for record in self.base.tensors():
            update = self._updates.get(record.name)
            if update is not None:
                unused.discard(record.name)
                if tuple(record.shape) != update.shape:
                    raise SourceError(
                        f"{label}: the update of {record.name} is {update.shape[0]} x {update.shape[1]}, "
                        f"the base's matrix {tuple(record.shape)}"
                    )
                merged = LoraUpdate(update.a, update.b, update.scale, record)
                yield TensorRecord(record.name, record.shape, record.dtype, label, merged)
            else:
                yield replaced.pop(record.name, record)
        if unused:
            raise SourceError(
                f"{label}: the base model has no {sorted(unused)[0]} "
                f"({len(unused)} adapted matrices not found): not this adapter's base"
            )

    def close(self) -> None:
        self.weights.close()
        if self.base is not None:
            self.base.close()
