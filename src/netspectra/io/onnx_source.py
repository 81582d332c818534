"""ONNX models as a source (needs the ``onnx`` package: ``pip install netspectra[onnx]``).

Tensors are the graph initializers and the values of ``Constant`` nodes, in order of first use by a
node (unused ones last).  The consuming operator gives the kind: ``MatMul``/``Gemm`` (and their
integer/quantized forms) -> ``linear``, ``Conv``/``ConvTranspose`` -> ``conv1d/2d/3d``, ``Gather``
data -> ``embedding``.  Integer tensors not consumed by such an operator (shapes, indices) are not
reported.  External data is resolved relative to the model's directory and may not leave it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MatrixError, SourceError, one_line
from . import dtypes
from .base import ModelSource, TensorRecord, read_config
from .paths import safe_member

# TensorProto.DataType -> stored dtype name.
_ONNX_DTYPES = {
    1: "F32",
    2: "U8",
    3: "I8",
    4: "U16",
    5: "I16",
    6: "I32",
    7: "I64",
    9: "BOOL",
    10: "F16",
    11: "F64",
    12: "U32",
    13: "U64",
    16: "BF16",
    17: "F8_E4M3",
    19: "F8_E5M2",
}

# kind -> {op_type: the inputs that hold a weight} ("conv" is completed with the rank).
_WEIGHT_INPUTS = {
    "linear": {"MatMul": (0, 1), "Gemm": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)},
    "conv": {"Conv": (1,), "ConvTranspose": (1,), "ConvInteger": (1,), "QLinearConv": (3,)},
    "embedding": {"Gather": (0,)},
}
# (op_type, input index) -> kind.
_OP_KINDS = {(op, i): kind for kind, ops in _WEIGHT_INPUTS.items() for op, inputs in ops.items() for i in inputs}


def _dtype_name(data_type: int) -> str:
    if data_type in _ONNX_DTYPES:
        return _ONNX_DTYPES[data_type]
    try:
        import onnx

        return "ONNX_" + onnx.TensorProto.DataType.Name(data_type)
    except Exception:
        return f"ONNX_{data_type}"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class OnnxLoader:
    """Picklable loader of one ONNX tensor (embedded or external)."""

    tensor: Any
    name: str
    dtype: str
    label: str
    external: tuple[Path, int, int] | None

    def __call__(self) -> np.ndarray:
        shape = tuple(int(d) for d in self.tensor.dims)
        count = math.prod(shape)
        if self.external is not None:
            if not dtypes.is_known(self.dtype):
                raise MatrixError(f"{self.name}: unsupported dtype {self.dtype}")
            path, offset, length = self.external
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    buf = f.read(length)
            except OSError as exc:
                raise SourceError(f"{path}: cannot read external data of {self.name}: {exc.strerror or exc}") from None
            if len(buf) != length:
                raise SourceError(f"{path}: truncated: external data of {self.name} needs {length} bytes, got {len(buf)}")
            return dtypes.decode_bytes(buf, self.dtype, count).reshape(shape)
        if self.tensor.raw_data and dtypes.is_known(self.dtype):
            raw = self.tensor.raw_data
            need = count * dtypes.ITEMSIZE[self.dtype]
            if len(raw) != need:
                raise SourceError(f"{self.label}: tensor {self.name} has {len(raw)} bytes, shape needs {need}")
            return dtypes.decode_bytes(raw, self.dtype, count).reshape(shape)
        if self.dtype.startswith("ONNX_"):
            raise MatrixError(f"{self.name}: unsupported dtype {self.dtype.removeprefix('ONNX_')}")
        from onnx import numpy_helper

        try:
            arr = numpy_helper.to_array(self.tensor)
        except Exception as exc:  # onnx raises assorted types for malformed tensors
            raise SourceError(f"{self.label}: cannot decode tensor {self.name}: {one_line(exc)}") from None
        try:
            return dtypes.numpy_to_float(arr, self.dtype).reshape(shape)
        except TypeError:
            raise MatrixError(f"{self.name}: unsupported dtype {arr.dtype}") from None


class OnnxSource(ModelSource):
    """An ``.onnx`` file (format ``onnx``)."""

    format = "onnx"

    def __init__(self, path: Path) -> None:
        label = os.fspath(path)
        try:
            import onnx
        except ImportError:
            raise SourceError(f"{label}: reading ONNX models needs the onnx package: install netspectra[onnx]") from None
        self.path = path
        self.files = [path]
        self.config = read_config(path.parent)
        try:
            model = onnx.load(label, load_external_data=False)
        except Exception as exc:  # DecodeError, ValueError, ... for anything that is not a ModelProto
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(f"{label}: not a readable ONNX model: {msg}") from None
        # Protobuf parses any prefix that ends on a field boundary (the empty file too) as a ModelProto
        # with the later fields missing; ir_version and graph are required in every ONNX model.
        if model.ir_version <= 0 or not model.HasField("graph"):
            missing = "IR version" if model.ir_version <= 0 else "graph"
            raise SourceError(f"{label}: not an ONNX model: no {missing} (empty, truncated or not ONNX)")
        graph = model.graph
        tensors: dict[str, object] = {}
        for t in graph.initializer:
            tensors.setdefault(t.name, t)
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        tensors.setdefault(node.output[0], attr.t)
        order: dict[str, None] = {}  # insertion-ordered set: linear in the number of nodes
        kinds: dict[str, str] = {}
        for node in graph.node:
            for i, inp in enumerate(node.input):
                if inp not in tensors:
                    continue
                if inp not in kinds and (node.op_type, i) in _OP_KINDS:
                    kinds[inp] = _OP_KINDS[(node.op_type, i)]
                order.setdefault(inp)
        for n in tensors:
            order.setdefault(n)

        from onnx import TensorProto

        self._records: list[TensorRecord] = []
        for name in order:
            t = tensors[name]
            if not isinstance(name, str):  # protobuf hands back bytes for a name that is not valid UTF-8
                raise SourceError(f"{label}: corrupt ONNX model: tensor name {name[:40]!r} is not UTF-8")
            shape = tuple(int(d) for d in t.dims)
            if any(d < 0 for d in shape):  # an initializer's dims are its stored shape: never symbolic
                raise SourceError(f"{label}: corrupt ONNX model: tensor {name} has a negative dimension, shape {shape}")
            dtype = _dtype_name(t.data_type)
            kind = kinds.get(name)
            if kind == "conv":
                kind = f"conv{len(shape) - 2}d" if 3 <= len(shape) <= 5 else None
            if kind is None and dtype in dtypes.INTEGER_DTYPES:
                continue  # shapes, indices, axes: not weights
            external = None
            if t.data_location == TensorProto.EXTERNAL:
                external = self._external(path, t, name, dtype, shape, label)
                if external[0] not in self.files:  # an output must never overwrite these either
                    self.files.append(external[0])
            self._records.append(TensorRecord(name, shape, dtype, label, OnnxLoader(t, name, dtype, label, external), kind))

    @staticmethod
    def _external(path: Path, t: Any, name: str, dtype: str, shape: tuple[int, ...], label: str) -> tuple[Path, int, int]:
        info = {e.key: e.value for e in t.external_data}
        target = safe_member(path.parent, info.get("location"), label, f"external data of {name}")
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise SourceError(f"{label}: invalid external data offset/length for {name}") from None
        if not target.is_file():
            raise SourceError(f"{label}: external data file {info.get('location')} of {name} is missing")
        size = target.stat().st_size
        if dtypes.is_known(dtype):
            need = math.prod(shape) * dtypes.ITEMSIZE[dtype]
            if length is not None and length != need:
                raise SourceError(f"{label}: external data of {name} has length {length}, shape needs {need}")
            length = need
        if length is None:
            length = size - offset
        if offset < 0 or offset + length > size:
            raise SourceError(f"{target}: truncated: external data of {name} ends at byte {offset + length}, file has {size}")
        return target, offset, length

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self._records
