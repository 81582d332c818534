"""Quantized checkpoints whose configuration or parts lie (issue 25): GPTQ, AWQ, FP8, bitsandbytes.

``bits: 4.0``, a 1-D ``qweight``, a ``weight_block_size`` of [0, 0] or ["a", "b"], a bitsandbytes shape
of ["a", "b"] or 5 or a null block size ended in tracebacks; an FP8 block of [200000, 1] in a 60 KB file
and a bitsandbytes block size of 10^8 allocated 7.45 and 23.8 GiB (``np.repeat`` of the scales); a float32
``qweight`` was cast and unpacked, and a shape of [-64, -64] made the matrix vanish.  Each model is
written here with its parts as their formats store them (the safetensors header by hand, so that any
dtype and shape can be declared), then one field is forged.
"""

from __future__ import annotations

import csv
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from round3 import Case, Outcome

IN, OUT, GROUP = 64, 48, 16
_DTYPES = {"float32": "F32", "float16": "F16", "int32": "I32", "uint8": "U8", "int8": "I8"}


def save_safetensors(path: Path, tensors: dict[str, np.ndarray | tuple[str, tuple[int, ...], bytes]]) -> None:
    """A safetensors file; a value is an array or (dtype name, shape, raw bytes) for any declared dtype."""
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        dtype, shape, raw = (_DTYPES[value.dtype.name], value.shape, value.tobytes()) if isinstance(value, np.ndarray) else value
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def _model(folder: Path, tensors: dict, quantization: dict) -> list[str]:
    model = folder / "m"
    model.mkdir()
    save_safetensors(model / "model.safetensors", tensors)
    (model / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": quantization}))
    return ["analyze", "m", "-o", "out.csv", "--quiet"]


def _rows(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "out.csv", newline="") as f:
        return {row["name"]: row for row in csv.DictReader(f)}


def _gptq_parts(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """GPTQ v1 parts of a 4-bit (OUT x IN) layer and the matrix they encode."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 16, (IN, OUT)).astype(np.uint32)
    zeros = rng.integers(1, 15, (IN // GROUP, OUT)).astype(np.uint32)
    scales = rng.uniform(0.01, 0.05, (IN // GROUP, OUT)).astype(np.float16)
    shifts = (4 * np.arange(8, dtype=np.uint32))[None, :, None]
    qweight = (q.reshape(IN // 8, 8, OUT) << shifts).sum(axis=1, dtype=np.uint32).view(np.int32)
    stored = (zeros - 1).reshape(IN // GROUP, OUT // 8, 8) << shifts.reshape(1, 1, 8)
    qzeros = stored.sum(axis=2, dtype=np.uint32).view(np.int32)
    rows = np.arange(IN) // GROUP
    matrix = ((q.astype(np.float32) - zeros[rows]) * scales.astype(np.float32)[rows]).T
    return {"layer.qweight": qweight, "layer.qzeros": qzeros, "layer.scales": scales}, matrix


_GPTQ = {"quant_method": "gptq", "bits": 4, "group_size": GROUP, "desc_act": False}


def _gptq(config: dict | None = None, **parts: np.ndarray) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        tensors, _ = _gptq_parts()
        return _model(folder, {**tensors, **{f"layer.{k}": v for k, v in parts.items()}}, {**_GPTQ, **(config or {})})

    return build


def _gptq_is_exact(folder: Path, outcome: Outcome) -> None:
    from netspectra.io import open_source

    (record,) = open_source(folder / "m").tensors()
    np.testing.assert_array_equal(record.load(), _gptq_parts()[1])
    assert _rows(folder)["layer.weight"]["status"] != "error"


def _fp8(block: object, rows: int = OUT, cols: int = IN, scale_shape: tuple[int, int] = (3, 4)) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        codes = _fp8_codes(rows, cols)
        scale = np.random.default_rng(1).uniform(0.5, 2.0, scale_shape).astype(np.float32)
        tensors = {"proj.weight": ("F8_E4M3", (rows, cols), codes.tobytes()), "proj.weight_scale_inv": scale}
        return _model(folder, tensors, {"quant_method": "fp8", "weight_block_size": block})

    return build


def _fp8_codes(rows: int, cols: int) -> np.ndarray:
    """Finite E4M3 codes (no 0x7F/0xFF NaN), both signs."""
    rng = np.random.default_rng(0)
    return (rng.integers(0x08, 0x70, (rows, cols)) | (rng.integers(0, 2, (rows, cols)) << 7)).astype(np.uint8)


def _fp8_column_blocks_are_exact(folder: Path, outcome: Outcome) -> None:
    """Block [200000, 1] on a 6 x 10000 matrix: one scale a column, applied as such."""
    from netspectra.io import open_source
    from netspectra.io.dtypes import FP8_E4M3_TABLE

    (record,) = open_source(folder / "m").tensors()
    scale = np.random.default_rng(1).uniform(0.5, 2.0, (1, 10_000)).astype(np.float32)
    np.testing.assert_array_equal(record.load(), FP8_E4M3_TABLE[_fp8_codes(6, 10_000)] * scale)
    row = _rows(folder)["proj.weight"]
    assert (row["N"], row["M"], row["status"] != "error") == ("10000", "6", True), row


NF4 = np.array(
    [
        -1.0,
        -0.6962,
        -0.5251,
        -0.3949,
        -0.2844,
        -0.1848,
        -0.0911,
        0.0,
        0.0796,
        0.1609,
        0.2461,
        0.3379,
        0.4407,
        0.5626,
        0.7230,
        1.0,
    ],
    dtype=np.float32,
)


def _bnb_parts(**state: object) -> tuple[dict, np.ndarray]:
    """bitsandbytes NF4 parts of an (OUT x IN) layer, blocks of 64 (as transformers saves them), and the
    matrix they encode: value k = NF4[code k] x absmax[k // 64], two codes a byte, high nibble first."""
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 16, OUT * IN).astype(np.uint8)
    absmax = rng.uniform(0.5, 2.0, OUT * IN // 64).astype(np.float32)
    packed = ((codes[0::2] << 4) | codes[1::2]).reshape(-1, 1)
    full = {"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [OUT, IN], **state}
    quant_state = np.frombuffer(json.dumps(full).encode(), dtype=np.uint8).copy()
    tensors = {
        "layer.weight": packed,
        "layer.weight.absmax": absmax,
        "layer.weight.quant_map": NF4,
        "layer.weight.quant_state.bitsandbytes__nf4": quant_state,
    }
    return tensors, (NF4[codes] * np.repeat(absmax, 64)).reshape(OUT, IN)


def _bnb(**state: object) -> Callable[[Path], list[str]]:
    return lambda folder: _model(folder, _bnb_parts(**state)[0], {"quant_method": "bitsandbytes", "load_in_4bit": True})


def _bnb_is_exact(folder: Path, outcome: Outcome) -> None:
    from netspectra.io import open_source

    (record,) = open_source(folder / "m").tensors()
    np.testing.assert_array_equal(record.load(), _bnb_parts()[1])
    assert _rows(folder)["layer.weight"]["status"] != "error"


def _float32_qweight(folder: Path) -> list[str]:
    tensors, _ = _gptq_parts()
    tensors["layer.qweight"] = tensors["layer.qweight"].astype(np.float32)
    return _model(folder, tensors, _GPTQ)


def _one_dimensional_qweight(folder: Path) -> list[str]:
    tensors, _ = _gptq_parts()
    tensors["layer.qweight"] = tensors["layer.qweight"].reshape(-1)
    return _model(folder, tensors, _GPTQ)


CASES = [
    Case("GPTQ as written", _gptq(), expect="ok", check=_gptq_is_exact),
    Case("GPTQ bits 4.0", _gptq({"bits": 4.0}), match=r"m: quantization_config\.bits = 4\.0: must be an integer"),
    Case("AWQ bits 4.0", _gptq({"quant_method": "awq", "bits": 4.0}), match=r"m: quantization_config\.bits = 4\.0"),
    Case("GPTQ group_size 16.0", _gptq({"group_size": 16.0}), match=r"m: quantization_config\.group_size = 16\.0"),
    Case("GPTQ 1-D qweight", _one_dimensional_qweight, match=r"model\.safetensors: layer\.qweight has shape \(384,\)"),
    Case("GPTQ float32 qweight", _float32_qweight, match=r"model\.safetensors: layer\.qweight is F32; GPTQ stores it as I32"),
    Case("FP8 weight_block_size [0, 0]", _fp8([0, 0]), match=r"m: quantization_config\.weight_block_size = \[0, 0\]"),
    Case("FP8 weight_block_size ['a', 'b']", _fp8(["a", "b"]), match=r"m: quantization_config\.weight_block_size"),
    Case(
        "FP8 block [200000, 1] in a 60 KB file",
        _fp8([200_000, 1], rows=6, cols=10_000, scale_shape=(1, 10_000)),
        expect="ok",
        check=_fp8_column_blocks_are_exact,
    ),
    Case("bitsandbytes NF4 as written", _bnb(), expect="ok", check=_bnb_is_exact),
    Case("bitsandbytes shape ['a', 'b']", _bnb(shape=["a", "b"]), match=r"model\.safetensors: layer\.weight quant state shape"),
    Case("bitsandbytes shape 5", _bnb(shape=5), match=r"model\.safetensors: layer\.weight quant state shape = 5"),
    Case("bitsandbytes shape [-64, -64]", _bnb(shape=[-64, -64]), match=r"quant state shape = \[-64, -64\]"),
    Case("bitsandbytes blocksize null", _bnb(blocksize=None), match=r"quant state blocksize = None"),
    Case(
        "bitsandbytes blocksize 1e8",
        _bnb(blocksize=10**8),
        match=r"absmax holds 48 scales; 3,072 values in blocks of 100,000,000 need 1",
    ),
    Case("bitsandbytes blocksize 1e7", _bnb(blocksize=10**7), match=r"absmax holds 48 scales"),
    Case(
        "bitsandbytes shape [64, 64] over 48 x 64 codes", _bnb(shape=[64, 64]), match=r"stores 1,536 U8 values; a shape of 4,096"
    ),
]
