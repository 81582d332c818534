"""Cases of security round two that still failed when round three began (issue 25): a safetensors header
nested 100k deep (RecursionError, also through compare), 200k 2 x 2 matrices in 20 MB (over 60 s), an
ONNX initializer with negative dimensions (exit 0 with an empty table)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from round3 import Case

#: Nesting of the deep header: far past Python's recursion limit.
DEPTH = 100_000
#: Matrices of the many-matrices file: twice the most a model may have (netspectra.io.layers.MAX_MATRICES).
MANY = 200_000


def _safetensors(path: Path, header: dict, data: bytes = b"") -> Path:
    raw = json.dumps(header, separators=(",", ":")).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _model(path: Path) -> Path:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 32)).astype("<f4").tobytes()
    return _safetensors(path, {"w.weight": {"dtype": "F32", "shape": [64, 32], "data_offsets": [0, len(data)]}}, data)


def _deep(path: Path) -> Path:
    raw = b'{"a":' + b"[" * DEPTH + b"]" * DEPTH + b"}"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


def _analyze_deep(folder: Path) -> list[str]:
    _deep(folder / "deep.safetensors")
    return ["analyze", "deep.safetensors"]


def _compare_deep(folder: Path) -> list[str]:
    _model(folder / "a.safetensors")
    _deep(folder / "deep.safetensors")
    return ["compare", "a.safetensors", "deep.safetensors"]


def _many_matrices(folder: Path) -> list[str]:
    """200k F32 2 x 2 matrices: 3.2 MB of data behind a 17 MB header, 20 MB in all."""
    header = {f"layers.{i}.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16 * i, 16 * i + 16]} for i in range(MANY)}
    data = np.random.default_rng(0).standard_normal(4 * MANY).astype("<f4").tobytes()
    _safetensors(folder / "many.safetensors", header, data)
    return ["analyze", "many.safetensors"]


def _onnx_negative_dims(folder: Path) -> list[str]:
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-4, 8], raw_data=b"")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        initializer=[weight],
    )
    (folder / "neg.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    return ["analyze", "neg.onnx"]


CASES = [
    Case("safetensors header nested 100k deep", _analyze_deep, match=r"deep\.safetensors: header is nested too deeply"),
    Case("compare: a header nested 100k deep", _compare_deep, match=r"deep\.safetensors: header is nested too deeply"),
    Case(
        "200k 2x2 matrices in 20 MB",
        _many_matrices,
        match=r"many\.safetensors: more than 100,000 weight matrices.*include/exclude",
    ),
    Case("ONNX initializer with negative dims", _onnx_negative_dims, match=r"neg\.onnx: .*tensor w has a negative dimension"),
]
