"""PEFT LoRA adapters: each adapted matrix's update dW, or, on a base model, the merged weight, as PEFT's
``merge_and_unload`` gives it.

A PEFT adapter folder holds ``adapter_config.json`` (:mod:`netspectra.io.lora_config`: ``r``,
``lora_alpha``, ``use_rslora``, ``rank_pattern``, ``alpha_pattern``, ``fan_in_fan_out``, ``use_dora``) and
``adapter_model.safetensors`` (or ``adapter_model.bin``, read by the safe torch reader) with, for a module
``M`` (PEFT saves ``base_model.model.M...``; older versions kept the adapter's name after the part):

    M.lora_A.weight, M.lora_B.weight          a Linear or GPT-2 Conv1D module: dW = s B A, or s (B A)^T
                                              with fan_in_fan_out
    M.lora_embedding_A, M.lora_embedding_B    an Embedding: dW = s (B A)^T
    M.lora_magnitude_vector                   DoRA's magnitudes
    M.lora_B.bias                             ``lora_bias``: the bias of M gains s * lora_B.bias
    other tensors                             ``modules_to_save`` and trained biases, saved whole

(:mod:`netspectra.io.lora_update` forms them).  Each A has the rank PEFT gives the module (``rank_pattern``
or ``r``), else the adapter is refused as PEFT would refuse to load it; a rank of 0 (no update) and an
alpha that is not a finite number are refused.  Without a base the source lists each update under its
module's name (``model.layers.0.self_attn.q_proj.weight``), in the layout of the module's weight (in x out
where the config says ``fan_in_fan_out``, vocab x dim for an Embedding), and the saved tensors (DoRA
adapters: the updates s B A, their magnitudes need the base).  With a base it lists the base model with
each adapted matrix merged (DoRA rescaled), trained biases and ``modules_to_save`` in place, and those the
base lacks (a new classification head) after it.  The adapter's names are found in the base
as they are or, as transformers loads a checkpoint with or without its model's ``base_model_prefix``,
with one leading component more or less (``bert.encoder...`` in a ``BertModel`` file: ``encoder...``); a
GPT-2 Conv1D module is recognized by its base weight being in x out (a square one by ``fan_in_fan_out``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .base import MAX_JSON_BYTES, ModelSource, TensorRecord
from .lora_config import LoraSettings
from .lora_update import LoraBiasUpdate, LoraUpdate
from .paths import model_roots, resolve_inside
from .safetensors_source import SafetensorsSource
from .structured import read_json_file
from .torch_source import TorchSource

_PEFT_PREFIX = "base_model.model."
#: ``MODULE.PART[.ADAPTER][.weight|.bias]``: a LoRA part of a module, by PEFT's names.
_LORA_KEY = re.compile(
    r"(?P<module>.+?)\.(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)"
    r"(?:\.(?!(?:weight|bias)$)[^.]+)?(?P<param>\.weight|\.bias)?"
)
#: The parts PEFT saves, by PART[.weight|.bias].
_PARTS = {
    "lora_A.weight": "A",
    "lora_B.weight": "B",
    "lora_B.bias": "bias",
    "lora_embedding_A": "embedding_A",
    "lora_embedding_B": "embedding_B",
    "lora_magnitude_vector": "magnitude",
    "lora_magnitude_vector.weight": "magnitude",
}
#: Inside a saved whole tensor's name: PEFT's wrappers (``modules_to_save``, the ``base_layer`` of a LoRA module).
_WRAPPER = re.compile(r"\.modules_to_save\.[^.]+(?=\.)|\.base_layer(?=\.)")


def is_adapter_dir(path: Path) -> bool:
    """Whether ``path`` is a folder holding a PEFT adapter (``adapter_config.json``)."""
    return path.is_dir() and (path / "adapter_config.json").is_file()


@dataclasses.dataclass(frozen=True)
class _Module:
    """The LoRA of one module: its update (in the layout ``fan_in_fan_out`` gives it alone), its
    ``lora_B.bias`` if any, and whether it is an Embedding's."""

    update: LoraUpdate
    lora_bias: TensorRecord | None
    embedding: bool


class AdapterSource(ModelSource):
    """A PEFT LoRA adapter folder, alone (the updates dW) or on a ``base`` model (the merged weights)."""

    def __init__(self, directory: Path, base: ModelSource | None = None) -> None:
        self.path = directory
        label = os.fspath(directory)
        roots = model_roots(directory)
        config_path = resolve_inside(directory / "adapter_config.json", roots, label, "adapter config")
        config = read_json_file(config_path, os.fspath(config_path), "adapter_config.json", SourceError, MAX_JSON_BYTES)
        if not isinstance(config, dict):
            raise SourceError(f"{config_path}: invalid adapter_config.json: not a JSON object")
        self.settings = LoraSettings(config, os.fspath(config_path), label)
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
        self._modules, self._whole = self._read(label)

    def _read(self, label: str) -> tuple[dict[str, _Module], list[TensorRecord]]:
        """The LoRA modules by name, and the tensors saved whole (under the model's names)."""
        parts: dict[str, dict[str, TensorRecord]] = {}
        whole: list[TensorRecord] = []
        for record in self.weights.tensors():
            name = record.name.removeprefix(_PEFT_PREFIX)
            match = _LORA_KEY.fullmatch(name)
            if match is None and ".lora_" not in name:
                whole.append(dataclasses.replace(record, name=_WRAPPER.sub("", name)))
                continue
            part = None if match is None else _PARTS.get(match["part"] + (match["param"] or ""))
            if match is None or part is None:
                raise SourceError(f"{label}: {record.name}: not a tensor of a LoRA adapter netspectra reads")
            found = parts.setdefault(match["module"], {})
            if part in found:
                raise SourceError(f"{label}: {record.name}: {found[part].name} is the same tensor")
            found[part] = record
        return {module: self._module(label, module, found) for module, found in parts.items()}, whole

    def _module(self, label: str, module: str, parts: dict[str, TensorRecord]) -> _Module:
        embedding = "embedding_A" in parts or "embedding_B" in parts
        if embedding and ("A" in parts or "B" in parts or "bias" in parts):
            raise SourceError(f"{label}: {module} has both lora_A/lora_B and lora_embedding_A/lora_embedding_B")
        prefix = "lora_embedding_" if embedding else "lora_"
        a, b = parts.get("embedding_A" if embedding else "A"), parts.get("embedding_B" if embedding else "B")
        if a is None or b is None:
            raise SourceError(f"{label}: {module} has no {prefix}{'A' if a is None else 'B'}")
        if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[0] != b.shape[1]:
            raise SourceError(f"{label}: {module}: {prefix}A {a.shape} and {prefix}B {b.shape} do not multiply")
        rank = a.shape[0]
        if rank == 0:
            raise SourceError(f"{label}: {module}: {prefix}A {a.shape} is of rank 0 (a LoRA update has rank r >= 1)")
        expected = self.settings.rank(module)
        if rank != expected:
            raise SourceError(
                f"{label}: {module}: {prefix}A {a.shape} is of rank {rank}, adapter_config.json gives it r = {expected} "
                "(rank_pattern or r): PEFT would not load it"
            )
        magnitude, lora_bias = parts.get("magnitude"), parts.get("bias")
        if (magnitude is not None) != self.settings.use_dora:
            raise SourceError(
                f"{label}: {module}: "
                + ("lora_magnitude_vector saved but use_dora is false" if magnitude else "use_dora without lora_magnitude_vector")
            )
        for vector, what in ((magnitude, "lora_magnitude_vector"), (lora_bias, "lora_B.bias")):
            if vector is not None and tuple(vector.shape) != (b.shape[0],):
                raise SourceError(f"{label}: {module}: {what} {vector.shape} does not fit lora_B {b.shape}")
        transposed = embedding or self.settings.fan_in_fan_out
        update = LoraUpdate(a, b, self.settings.scale(module, rank), transposed, magnitude=magnitude)
        return _Module(update, lora_bias, embedding)

    def tensors(self) -> Iterator[TensorRecord]:
        label = os.fspath(self.path)
        if self.base is None:
            for module, lora in self._modules.items():
                yield TensorRecord(f"{module}.weight", lora.update.shape, "F32", label, lora.update)
            yield from self._whole
            return
        yield from self._merged(label, self.base)

    def _merged(self, label: str, base: ModelSource) -> Iterator[TensorRecord]:
        """The base's tensors with the adapter's merged in, then the saved tensors the base lacks."""
        records = list(base.tensors())
        by_name = {record.name: record for record in records}
        find = _Names(set(by_name), [f"{module}.weight" for module in self._modules])
        located = {module: find(f"{module}.weight") for module in self._modules}
        missing = [f"{module}.weight" for module, name in located.items() if name is None]
        if missing:
            raise SourceError(
                f"{label}: the base model has no {missing[0]}{find.tried(missing[0])} ({len(missing)} adapted matrices "
                "not found): not this adapter's base"
            )
        merged: dict[str, LoraUpdate] = {}
        biases: dict[str, LoraBiasUpdate] = {}
        for module, lora in self._modules.items():
            name = located[module] or ""
            merged[name] = self._oriented(label, lora, by_name[name])
            if lora.lora_bias is not None:
                bias = find(f"{module}.bias")
                if bias is None or tuple(by_name[bias].shape) != tuple(lora.lora_bias.shape):
                    found = f"no {module}.bias" if bias is None else f"{bias} {tuple(by_name[bias].shape)}"
                    raise SourceError(
                        f"{label}: {module} has lora_B.bias {tuple(lora.lora_bias.shape)}, the base model {found}: "
                        "not this adapter's base"
                    )
                biases[bias] = LoraBiasUpdate(by_name[bias], lora.lora_bias, lora.update.scale)
        replaced: dict[str, TensorRecord] = {}
        extra: list[TensorRecord] = []
        for record in self._whole:
            name = find(record.name)
            if name is None:
                extra.append(record)
                continue
            shape = tuple(by_name[name].shape)
            if tuple(record.shape) != shape:
                raise SourceError(
                    f"{label}: the adapter's {record.name} is {tuple(record.shape)}, the base's {name} {shape}: "
                    "not this adapter's base"
                )
            replaced[name] = record
        for record in records:
            saved = replaced.get(record.name, record)
            if record.name in biases:
                bias = dataclasses.replace(biases[record.name], bias=saved)
                yield TensorRecord(record.name, record.shape, record.dtype, label, bias, record.kind)
            elif record.name in merged:
                update = dataclasses.replace(merged[record.name], base=saved)
                yield TensorRecord(record.name, record.shape, record.dtype, label, update, record.kind)
            else:
                yield dataclasses.replace(saved, name=record.name, kind=record.kind)
        yield from extra

    def _oriented(self, label: str, lora: _Module, base: TensorRecord) -> LoraUpdate:
        """The update of ``lora`` in the layout of ``base``: an out x in Linear weight, or an in x out GPT-2
        Conv1D one (PEFT sets fan_in_fan_out by the module's type; here the weight's shape tells it, and a
        square one keeps the config's ``fan_in_fan_out``)."""
        update, shape = lora.update, tuple(base.shape)
        if shape != update.shape and not lora.embedding:
            flipped = dataclasses.replace(update, transposed=not update.transposed)
            if shape == flipped.shape:
                return flipped
        if shape != update.shape:
            rows, cols = update.shape
            raise SourceError(f"{label}: the update of {base.name} is {rows} x {cols}, the base's matrix {shape}")
        return update

    def close(self) -> None:
        self.weights.close()
        if self.base is not None:
            self.base.close()


class _Names:
    """The base's name of an adapter's tensor: the same, or with the one leading component (transformers'
    ``base_model_prefix``: ``bert``, ``transformer``, ``model``) by which the adapted modules' names and the
    base's differ, removed or added."""

    def __init__(self, names: set[str], wanted: list[str]) -> None:
        self.names = names
        tails = {name.partition(".")[2]: name.partition(".")[0] for name in names if "." in name}
        self.prefix: str | None = None
        for name in wanted:
            head, dot, tail = name.partition(".")
            if name not in names and (dot and tail in names or name in tails):
                self.prefix = head if dot and tail in names else tails[name]
                break

    def __call__(self, name: str) -> str | None:
        if name in self.names:
            return name
        if self.prefix is None:
            return None
        for candidate in (name.removeprefix(f"{self.prefix}."), f"{self.prefix}.{name}"):
            if candidate != name and candidate in self.names:
                return candidate
        return None

    def tried(self, name: str) -> str:
        """What was looked for besides ``name``, for a refusal."""
        return "" if self.prefix is None else f" (nor {name} with {self.prefix}. removed or added)"
