"""A live ``torch.nn.Module`` as a model source.

Walks ``named_modules()`` in registration order and reports, per module type:

* ``nn.Linear`` (and subclasses) -> ``linear``; transformers' ``Conv1D`` (GPT-2, weight stored
  (in, out)) -> ``linear``;
* ``nn.Conv1d/2d/3d`` and ``nn.ConvTranspose*`` -> ``conv1d/2d/3d``;
* ``nn.Embedding`` / ``nn.EmbeddingBag`` -> ``embedding``;
* ``nn.MultiheadAttention``: ``in_proj_weight`` (split into q, k, v by the layer rules) or the
  separate ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``; its ``out_proj`` is a Linear;
* any other module: its own 2-D parameters (RNN/LSTM/GRU weights, custom matrices), classified by
  name like a file's tensors; and of a module named ``experts`` (transformers 5's mixture-of-experts
  modules) its 3-D parameters too (``gate_up_proj`` (E, ., .): one matrix per expert, by the layer rules).

A parameter shared by several modules (tied embeddings) is reported once.  Buffers are ignored.
Loading reads ``param.detach().cpu()`` as float32 (float64 parameters stay float64).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import dtypes
from .base import ModelSource, TensorRecord
from .torch_source import TorchTensorLoader


def _weights_of(mod: Any, experts: bool = False) -> list[tuple[str, object, str | None]]:
    import torch.nn as nn

    cls = type(mod)
    if isinstance(mod, nn.Linear):
        return [("weight", mod.weight, "linear")]
    if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        w = mod.weight
        return [("weight", w, f"conv{w.dim() - 2}d" if 3 <= w.dim() <= 5 else None)]
    if isinstance(mod, (nn.Embedding, nn.EmbeddingBag)):
        return [("weight", mod.weight, "embedding")]
    if isinstance(mod, nn.MultiheadAttention):
        if mod.in_proj_weight is not None:
            return [("in_proj_weight", mod.in_proj_weight, None)]
        return [
            ("q_proj_weight", mod.q_proj_weight, "attention_q"),
            ("k_proj_weight", mod.k_proj_weight, "attention_k"),
            ("v_proj_weight", mod.v_proj_weight, "attention_v"),
        ]
    if cls.__name__ == "Conv1D" and cls.__module__.startswith("transformers"):
        return [("weight", getattr(mod, "weight", None), "linear")]
    dims = (2, 3) if experts else (2,)
    return [(n, p, None) for n, p in mod.named_parameters(recurse=False) if p is not None and p.dim() in dims]


def _module_config(module: Any) -> dict:
    cfg = getattr(module, "config", None)
    to_dict = getattr(cfg, "to_dict", None)
    if callable(to_dict):
        try:
            out = to_dict()
            return dict(out) if isinstance(out, dict) else {}
        except Exception:  # a foreign config object: not worth failing the analysis for
            return {}
    return dict(cfg) if isinstance(cfg, dict) else {}


class ModuleSource(ModelSource):
    """Tensors of a live module (format ``module``, ``path`` None, ``config`` from ``module.config``)."""

    format = "module"

    def __init__(self, module: Any) -> None:
        self.module = module
        self.path = None
        self.files = []
        self.config = _module_config(module)

    def tensors(self) -> Iterator[TensorRecord]:
        from torch.nn.parameter import UninitializedParameter

        seen: set[int] = set()
        for mname, mod in self.module.named_modules():
            for pname, param, kind in _weights_of(mod, experts=mname.rsplit(".", 1)[-1] == "experts"):
                if param is None or isinstance(param, UninitializedParameter) or id(param) in seen:
                    continue
                seen.add(id(param))
                name = f"{mname}.{pname}" if mname else pname
                yield TensorRecord(
                    name, tuple(param.shape), dtypes.from_torch(param.dtype), "module", TorchTensorLoader(name, param), kind
                )
