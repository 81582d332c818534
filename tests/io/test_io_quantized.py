"""Quantized Hugging Face checkpoints (issue 16): GPTQ, AWQ and block-FP8, dequantized exactly.

The packed files are built from planted integers by packers written here bit by bit (Python ints, one
shift at a time, following each format's documentation), so the expected matrix is known in closed
form; AWQ is also checked against AutoAWQ's own ``dequantize_gemm`` and FP8 against transformers' own
``_dequantize_fp8_weight`` where those packages are installed.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main
from netspectra.errors import SourceError
from netspectra.io import open_source
from netspectra.io.quantized import AWQ_ORDER

IN, OUT, GROUP = 64, 48, 16


def _to_int32(word: int) -> int:
    return word - (1 << 32) if word >= 1 << 31 else word


def pack_rows(values: np.ndarray, bits: int) -> np.ndarray:
    """GPTQ qweight: word [r, c] holds values[r*p + k, c] at bits k*bits (k = 0 lowest)."""
    p = 32 // bits
    out = np.zeros((values.shape[0] // p, values.shape[1]), dtype=np.int32)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = _to_int32(sum(int(values[r * p + k, c]) << (k * bits) for k in range(p)))
    return out


def pack_columns(values: np.ndarray, bits: int, order: tuple[int, ...] | None = None) -> np.ndarray:
    """Word [r, c] holds values[r, c*p + order[k]] at bits k*bits (GPTQ qzeros: order = identity)."""
    p = 32 // bits
    order = order or tuple(range(p))
    out = np.zeros((values.shape[0], values.shape[1] // p), dtype=np.int32)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = _to_int32(sum(int(values[r, c * p + order[k]]) << (k * bits) for k in range(p)))
    return out


def _model_dir(root: Path, tensors: dict[str, np.ndarray], quantization: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(root / "model.safetensors"))
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": quantization}))
    return root


def _planted(seed: int, bits: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 1 << bits, (IN, OUT))
    zeros = rng.integers(1, (1 << bits) - 1, (IN // GROUP, OUT))
    scales = rng.uniform(0.01, 0.05, (IN // GROUP, OUT)).astype(np.float16)
    return q, zeros, scales


@pytest.mark.parametrize("desc_act", [False, True])
@pytest.mark.parametrize("fmt", ["gptq", "gptq_v2"])
def test_gptq_weights_equal_the_planted_matrix(tmp_path, desc_act, fmt):
    q, zeros, scales = _planted(1)
    rng = np.random.default_rng(2)
    g_idx = rng.permutation(np.arange(IN) // GROUP) if desc_act else np.arange(IN) // GROUP
    stored_zeros = zeros - 1 if fmt == "gptq" else zeros  # v1 stores zero - 1
    tensors = {
        "layer.qweight": pack_rows(q, 4),
        "layer.qzeros": pack_columns(stored_zeros, 4),
        "layer.scales": scales,
        "layer.g_idx": g_idx.astype(np.int32),
        "layer.bias": np.zeros(OUT, np.float16),
    }
    config = {"quant_method": "gptq", "bits": 4, "group_size": GROUP, "desc_act": desc_act, "checkpoint_format": fmt}
    source = open_source(_model_dir(tmp_path / "m", tensors, config))
    records = {r.name: r for r in source.tensors()}
    assert set(records) == {"layer.weight", "layer.bias"}
    weight = records["layer.weight"]
    assert weight.shape == (OUT, IN) and weight.dtype == "GPTQ-int4"
    expected = ((q - zeros[g_idx]) * scales.astype(np.float32)[g_idx]).T
    np.testing.assert_array_equal(weight.load(), expected.astype(np.float32))


def _autoawq_dequantize():
    """AutoAWQ's own awq/utils/packing_utils.py, loaded by path (its package __init__ needs datasets)."""
    spec = importlib.util.find_spec("awq")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "utils" / "packing_utils.py"
    module_spec = importlib.util.spec_from_file_location("awq_packing_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.dequantize_gemm


def test_awq_weights_equal_the_planted_matrix_and_autoawq(tmp_path):
    q, zeros, scales = _planted(3)
    tensors = {
        "layer.qweight": pack_columns(q, 4, AWQ_ORDER),
        "layer.qzeros": pack_columns(zeros, 4, AWQ_ORDER),
        "layer.scales": scales,
    }
    config = {"quant_method": "awq", "bits": 4, "group_size": GROUP, "version": "gemm", "zero_point": True}
    (weight,) = open_source(_model_dir(tmp_path / "m", tensors, config)).tensors()
    assert weight.name == "layer.weight" and weight.shape == (OUT, IN) and weight.dtype == "AWQ-int4"
    rows = np.arange(IN) // GROUP
    expected = ((q - zeros[rows]) * scales.astype(np.float32)[rows]).T
    np.testing.assert_array_equal(weight.load(), expected.astype(np.float32))
    dequantize_gemm = _autoawq_dequantize()
    if dequantize_gemm is not None:
        import torch

        theirs = dequantize_gemm(
            torch.from_numpy(tensors["layer.qweight"]),
            torch.from_numpy(tensors["layer.qzeros"]),
            torch.from_numpy(scales),
            4,
            GROUP,
        )
        np.testing.assert_allclose(weight.load(), theirs.float().numpy().T, rtol=1e-3, atol=1e-4)  # theirs in fp16


def test_block_fp8_weights_equal_the_manual_block_product_and_transformers(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch_file

    rng = np.random.default_rng(4)
    rows, cols, block = 200, 300, (128, 128)
    weight = torch.from_numpy(rng.standard_normal((rows, cols)).astype(np.float32)).to(torch.float8_e4m3fn)
    scale = torch.from_numpy(rng.uniform(0.5, 2.0, (math.ceil(rows / 128), math.ceil(cols / 128))).astype(np.float32))
    root = tmp_path / "m"
    root.mkdir()
    save_torch_file({"proj.weight": weight, "proj.weight_scale_inv": scale}, str(root / "model.safetensors"))
    (root / "config.json").write_text(
        json.dumps({"quantization_config": {"quant_method": "fp8", "weight_block_size": list(block)}})
    )
    (record,) = open_source(root).tensors()
    ours = record.load()
    manual = weight.float().numpy().copy()
    for i in range(manual.shape[0]):
        for j in range(0, manual.shape[1], 128):
            manual[i, j : j + 128] *= scale[i // 128, j // 128].item()
    np.testing.assert_array_equal(ours, manual)
    try:
        from transformers.integrations.finegrained_fp8 import _dequantize_fp8_weight
    except ImportError:
        return
    theirs = _dequantize_fp8_weight(weight, scale, list(block), torch.float32).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_quantized_model_analyzes_and_compress_refuses(tmp_path, capsys):
    q, zeros, scales = _planted(5)
    tensors = {"layer.qweight": pack_rows(q, 4), "layer.qzeros": pack_columns(zeros - 1, 4), "layer.scales": scales}
    model = _model_dir(tmp_path / "m", tensors, {"quant_method": "gptq", "bits": 4, "group_size": GROUP, "desc_act": False})
    assert main(["analyze", str(model), "-o", str(tmp_path / "o.csv"), "--quiet"]) == 0
    assert "GPTQ-int4" in (tmp_path / "o.csv").read_text()
    assert main(["compress", str(model), "-o", str(tmp_path / "c.safetensors")]) == 2
    assert "cannot carry quantized tensors" in capsys.readouterr().err


def test_unknown_quantizations_are_refused(tmp_path):
    tensors = {"layer.weight": np.zeros((8, 1), np.uint8)}
    for method in ("hqq", "eetq"):
        with pytest.raises(SourceError, match=f"{method} quantization is not supported yet"):
            open_source(_model_dir(tmp_path / method, tensors, {"quant_method": method}))


@pytest.mark.parametrize(("quant_type", "nested"), [("nf4", True), ("nf4", False), ("fp4", True)])
def test_bitsandbytes_4bit_equals_its_own_dequantization(tmp_path, quant_type, nested):
    """The serialized state of bitsandbytes' own quantize_4bit (as transformers saves it), read back and
    compared with bitsandbytes' dequantize_4bit."""
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("bitsandbytes.functional")
    torch.manual_seed(0)
    w = torch.randn(OUT, IN)
    packed, state = functional.quantize_4bit(w, blocksize=64, quant_type=quant_type, compress_statistics=nested)
    tensors = {"layer.weight": packed.numpy()}
    tensors.update({f"layer.weight.{k}": v.numpy() for k, v in state.as_dict(packed=True).items()})
    config = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": quant_type}
    (record,) = open_source(_model_dir(tmp_path / "m", tensors, config)).tensors()
    assert (record.name, record.shape, record.dtype) == ("layer.weight", (OUT, IN), f"BNB-{quant_type.upper()}")
    np.testing.assert_array_equal(record.load(), functional.dequantize_4bit(packed, state).numpy())


def test_bitsandbytes_int8_equals_its_own_dequantization(tmp_path):
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("bitsandbytes.functional")
    w = torch.randn(OUT, IN)
    q, scb, _ = functional.int8_vectorwise_quant(w)
    tensors = {"layer.weight": q.numpy(), "layer.SCB": scb.numpy()}
    (record,) = open_source(_model_dir(tmp_path / "m", tensors, {"quant_method": "bitsandbytes", "load_in_8bit": True})).tensors()
    assert record.dtype == "BNB-INT8"
    np.testing.assert_allclose(record.load(), functional.int8_vectorwise_dequant(q, scb).numpy(), rtol=1e-6, atol=1e-7)


def test_parts_that_do_not_fit_are_an_error_row_not_a_crash(tmp_path):
    q, zeros, scales = _planted(6)
    tensors = {
        "layer.qweight": pack_rows(q, 4),
        "layer.qzeros": pack_columns(zeros - 1, 4),
        "layer.scales": scales[:, :8],
    }  # (scales for 8 outputs of 48)
    model = _model_dir(tmp_path / "m", tensors, {"quant_method": "gptq", "bits": 4, "group_size": GROUP, "desc_act": False})
    from netspectra.pipeline import analyze

    (row,) = analyze(model).layers
    assert row.status == "error" and "gptq parts do not fit together" in row.warning


def test_dequantization_is_planned_against_available_memory(tmp_path, monkeypatch):
    """A matrix whose dequantization would not fit is an error row saying how much it needs (issue 25)."""
    from netspectra.pipeline import analyze
    from netspectra.scale import workers

    q, zeros, scales = _planted(7)
    tensors = {"layer.qweight": pack_rows(q, 4), "layer.qzeros": pack_columns(zeros - 1, 4), "layer.scales": scales}
    model = _model_dir(tmp_path / "m", tensors, {"quant_method": "gptq", "bits": 4, "group_size": GROUP, "desc_act": False})
    monkeypatch.setattr(workers, "available_memory", lambda: 10_000)
    (row,) = analyze(model).layers
    assert row.status == "error" and "dequantizing a 48 x 64 gptq matrix needs about" in row.warning


# ------------------------------------------------------------------ sigma2_quant (issue 26, item 9)


def test_sigma2_quant_of_gptq_and_awq_is_the_mean_of_their_group_scales_squared_over_12(tmp_path):
    """A code one apart is one scale apart: the noise of input row i, output o is scales[g_i, o]^2 / 12."""
    q, zeros, scales = _planted(8)
    g_idx = np.random.default_rng(9).permutation(np.arange(IN) // GROUP)
    gptq = {
        "layer.qweight": pack_rows(q, 4),
        "layer.qzeros": pack_columns(zeros - 1, 4),
        "layer.scales": scales,
        "layer.g_idx": g_idx.astype(np.int32),
    }
    config = {"quant_method": "gptq", "bits": 4, "group_size": GROUP, "desc_act": True}
    (record,) = open_source(_model_dir(tmp_path / "gptq", gptq, config)).tensors()
    expected = np.mean(scales.astype(np.float64)[g_idx] ** 2) / 12
    assert record.noise() == pytest.approx(expected, rel=1e-12)
    awq = {
        "layer.qweight": pack_columns(q, 4, AWQ_ORDER),
        "layer.qzeros": pack_columns(zeros, 4, AWQ_ORDER),
        "layer.scales": scales,
    }
    config = {"quant_method": "awq", "bits": 4, "group_size": GROUP, "version": "gemm"}
    (record,) = open_source(_model_dir(tmp_path / "awq", awq, config)).tensors()
    expected = np.mean(scales.astype(np.float64)[np.arange(IN) // GROUP] ** 2) / 12
    assert record.noise() == pytest.approx(expected, rel=1e-12)


def _measured(record, w: np.ndarray) -> float:
    return float(np.mean((record.load().astype(np.float64) - w) ** 2))


@pytest.mark.parametrize(("quant_type", "nested"), [("nf4", True), ("nf4", False), ("fp4", False)])
def test_sigma2_quant_of_bitsandbytes_4bit_is_the_measured_rounding_error(tmp_path, quant_type, nested):
    """NF4's and FP4's levels are unequally spaced: each code's effective step (its cell's rounding variance for
    values spread evenly over it) times its block's absmax.  Within 20%: the widest cells are at the ends,
    where Gaussian values thin out and each block's absmax itself is exact (measured 13-16% high)."""
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("bitsandbytes.functional")
    torch.manual_seed(1)
    w = torch.randn(256, 512)
    packed, state = functional.quantize_4bit(w, blocksize=64, quant_type=quant_type, compress_statistics=nested)
    tensors = {"layer.weight": packed.numpy()}
    tensors.update({f"layer.weight.{k}": v.numpy() for k, v in state.as_dict(packed=True).items()})
    config = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": quant_type}
    (record,) = open_source(_model_dir(tmp_path / "m", tensors, config)).tensors()
    assert record.noise() == pytest.approx(_measured(record, w.numpy()), rel=0.2)


def test_sigma2_quant_of_llm_int8_and_block_fp8_is_the_measured_rounding_error(tmp_path):
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("bitsandbytes.functional")
    from safetensors.torch import save_file as save_torch_file

    w = torch.randn(256, 512)
    q, scb, _ = functional.int8_vectorwise_quant(w)
    tensors = {"layer.weight": q.numpy(), "layer.SCB": scb.numpy()}
    (record,) = open_source(
        _model_dir(tmp_path / "int8", tensors, {"quant_method": "bitsandbytes", "load_in_8bit": True})
    ).tensors()
    assert record.noise() == pytest.approx(_measured(record, w.numpy()), rel=0.1)
    scale = w.abs().reshape(2, 128, 4, 128).amax(dim=(1, 3)) / 448.0
    fp8 = (w / scale.repeat_interleave(128, 0).repeat_interleave(128, 1)).to(torch.float8_e4m3fn)
    root = tmp_path / "fp8"
    root.mkdir()
    save_torch_file({"proj.weight": fp8, "proj.weight_scale_inv": scale}, str(root / "model.safetensors"))
    (root / "config.json").write_text(
        json.dumps({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}})
    )
    (record,) = open_source(root).tensors()
    assert record.noise() == pytest.approx(_measured(record, w.numpy()), rel=0.1)
