"""MLX quantized checkpoints (issue 26, item 8): dequantized exactly, against ``mx.dequantize`` itself.

The reference is MLX's own CPU build (``mlx[cpu]``): ``mx.quantize`` writes the packed weights, scales and
biases that mlx-lm saves, and ``mx.dequantize`` rebuilds W.  MLX computes in the scales' dtype, rounding
s q and s q + beta to bfloat16; netspectra computes in float32, so it equals ``mx.dequantize`` of the same
scales cast to float32 bit for bit, and the bfloat16 result within its rounding.  Without MLX, a planted
matrix packed here bit by bit (one Python shift at a time, from MLX's documented layout) is the reference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from bit_packing import pack_bit_stream
from netspectra.cli import main
from netspectra.errors import SourceError
from netspectra.io import open_source

OUT, IN = 48, 256


def _mlx_dir(root: Path, tensors: dict[str, np.ndarray], quantization: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(root / "model.safetensors"))
    config = {"model_type": "llama", "quantization": quantization, "quantization_config": quantization}
    (root / "config.json").write_text(json.dumps(config))
    return root


@pytest.mark.parametrize("bits", [3, 4, 6])
def test_planted_affine_weights_are_rebuilt_exactly(tmp_path, bits):
    group = 64
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 1 << bits, (OUT, IN))
    scales = rng.uniform(0.01, 0.1, (OUT, IN // group)).astype(np.float16)
    biases = rng.uniform(-1, 1, (OUT, IN // group)).astype(np.float16)
    tensors = {
        "model.layers.0.mlp.down_proj.weight": pack_bit_stream(codes, bits),
        "model.layers.0.mlp.down_proj.scales": scales,
        "model.layers.0.mlp.down_proj.biases": biases,
        "model.norm.weight": np.ones(OUT, np.float16),
    }
    source = open_source(_mlx_dir(tmp_path / "m", tensors, {"group_size": group, "bits": bits}))
    records = {r.name: r for r in source.tensors()}
    assert set(records) == {"model.layers.0.mlp.down_proj.weight", "model.norm.weight"}
    weight = records["model.layers.0.mlp.down_proj.weight"]
    assert (weight.shape, weight.dtype) == ((OUT, IN), f"MLX-int{bits}")
    columns = np.arange(IN) // group
    expected = codes.astype(np.float32) * scales.astype(np.float32)[:, columns] + biases.astype(np.float32)[:, columns]
    np.testing.assert_array_equal(weight.load(), expected)


def _mx():
    return pytest.importorskip("mlx.core")


def _quantized(mx, rng, shape, mode, bits, group, dtype):
    w = mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dtype)
    return mx.quantize(w, group_size=group, bits=bits, mode=mode)


@pytest.mark.parametrize(
    ("mode", "bits", "group", "dtype"),
    [("affine", b, g, "bfloat16") for b, g in ((1, 32), (2, 64), (3, 32), (4, 64), (5, 128), (6, 64), (8, 32))]
    + [("affine", 4, 64, "float32"), ("affine", 4, 32, "float16"), ("mxfp4", 4, 32, "float32")]
    + [("nvfp4", 4, 16, "float32"), ("mxfp8", 8, 32, "float32")],
)
def test_weights_equal_mlx_dequantize(tmp_path, mode, bits, group, dtype):
    mx = _mx()
    rng = np.random.default_rng(bits * group)
    parts = _quantized(mx, rng, (OUT, IN), mode, bits, group, getattr(mx, dtype))
    roles = ("weight", "scales", "biases")
    tensors = {f"model.layers.0.self_attn.q_proj.{role}": part for role, part in zip(roles, parts)}
    root = tmp_path / "m"
    root.mkdir()
    mx.save_safetensors(str(root / "model.safetensors"), tensors)  # what mlx-lm writes
    quantization = {"group_size": group, "bits": bits, "mode": mode}
    (root / "config.json").write_text(json.dumps({"quantization": quantization, "quantization_config": quantization}))
    (record,) = open_source(root).tensors()
    expected_dtype = f"MLX-int{bits}" if mode == "affine" else f"MLX-{mode}"
    assert (record.name, record.shape, record.dtype) == ("model.layers.0.self_attn.q_proj.weight", (OUT, IN), expected_dtype)
    ours = record.load()
    assert ours.dtype == np.float32
    settings = {"group_size": group, "bits": bits, "mode": mode}
    scales32 = [p.astype(mx.float32) for p in parts[1:]] if mode == "affine" else list(parts[1:])
    exact = np.array(mx.dequantize(parts[0], *scales32, **settings, dtype=mx.float32))
    np.testing.assert_array_equal(ours, exact)
    native = np.array(mx.dequantize(parts[0], *parts[1:], **settings).astype(mx.float32))
    ulp = {"bfloat16": 2.0**-7, "float16": 2.0**-10, "float32": 0.0}[dtype]
    np.testing.assert_allclose(ours, native, rtol=2 * ulp, atol=2 * ulp * np.abs(native).max())


def test_stacked_experts_overrides_and_embeddings_equal_mlx(tmp_path):
    """A SwitchLinear (experts x out x in), an 8-bit override for one module, a quantized embedding."""
    mx = _mx()
    rng = np.random.default_rng(7)
    experts = _quantized(mx, rng, (4, OUT, IN), "affine", 4, 64, mx.float16)
    embed = _quantized(mx, rng, (100, IN), "affine", 4, 64, mx.float16)
    down = _quantized(mx, rng, (OUT, IN), "affine", 8, 32, mx.float16)
    tensors = {}
    for module, parts in (
        ("model.layers.0.mlp.switch_mlp.gate_proj", experts),
        ("model.embed_tokens", embed),
        ("model.layers.0.mlp.down_proj", down),
    ):
        tensors.update({f"{module}.{role}": part for role, part in zip(("weight", "scales", "biases"), parts)})
    root = tmp_path / "m"
    root.mkdir()
    mx.save_safetensors(str(root / "model.safetensors"), tensors)
    quantization = {"group_size": 64, "bits": 4, "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8}}
    (root / "config.json").write_text(json.dumps({"quantization": quantization}))
    records = {r.name: r for r in open_source(root).tensors()}
    assert {name: (r.shape, r.dtype) for name, r in records.items()} == {
        "model.embed_tokens.weight": ((100, IN), "MLX-int4"),
        "model.layers.0.mlp.switch_mlp.gate_proj.weight": ((4, OUT, IN), "MLX-int4"),
        "model.layers.0.mlp.down_proj.weight": ((OUT, IN), "MLX-int8"),
    }
    for name, parts, bits, group in (
        ("model.layers.0.mlp.switch_mlp.gate_proj.weight", experts, 4, 64),
        ("model.embed_tokens.weight", embed, 4, 64),
        ("model.layers.0.mlp.down_proj.weight", down, 8, 32),
    ):
        scales = [p.astype(mx.float32) for p in parts[1:]]
        exact = np.array(mx.dequantize(parts[0], *scales, group_size=group, bits=bits, dtype=mx.float32))
        np.testing.assert_array_equal(records[name].load(), exact)


def _planted_dir(tmp_path: Path, quantization: dict, **replace: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    tensors = {
        "layer.weight": pack_bit_stream(rng.integers(0, 16, (8, 64)), 4),
        "layer.scales": np.ones((8, 1), np.float16),
        "layer.biases": np.zeros((8, 1), np.float16),
    }
    tensors.update({f"layer.{k}": v for k, v in replace.items()})
    return _mlx_dir(tmp_path / "m", {k: v for k, v in tensors.items() if v is not None}, quantization)


@pytest.mark.parametrize(
    ("quantization", "replace", "match"),
    [
        ({"group_size": 64, "bits": 7}, {}, r"quantization.bits = 7: must be one of 1, 2, 3, 4, 5, 6, 8"),
        ({"group_size": 64, "bits": 4, "mode": "int4"}, {}, r"quantization.mode = 'int4'"),
        ({"group_size": 0, "bits": 4}, {}, r"group_size = 0: must be an integer >= 1"),
        ({"group_size": 64, "bits": "4"}, {}, r"bits = '4'"),
        ({"group_size": 32, "bits": 4}, {}, r"do not give one scale per group of 32"),
        ({"group_size": 64, "bits": 4}, {"scales": None, "biases": None}, r"packed U32 but the module has no scales"),
        ({"group_size": 64, "bits": 4}, {"biases": None}, r"affine mode stores biases"),
        ({"group_size": 64, "bits": 4}, {"scales": np.ones((8, 1), np.int32)}, r"scales are BF16 or F16 or F32, not I32"),
        ({"group_size": 64, "bits": 4, "layer": {"bits": 9}}, {}, r"quantization.layer.bits = 9"),
    ],
)
def test_settings_and_parts_that_do_not_fit_are_refused(tmp_path, quantization, replace, match):
    with pytest.raises(SourceError, match=match):
        list(open_source(_planted_dir(tmp_path, quantization, **replace)).tensors())


def test_analyze_reports_the_scheme_and_compress_refuses(tmp_path, capsys):
    rng = np.random.default_rng(1)
    tensors = {
        "layer.weight": pack_bit_stream(rng.integers(0, 16, (96, 128)), 4),
        "layer.scales": rng.uniform(0.01, 0.1, (96, 2)).astype(np.float16),
        "layer.biases": rng.uniform(-1, 1, (96, 2)).astype(np.float16),
    }
    model = _mlx_dir(tmp_path / "m", tensors, {"group_size": 64, "bits": 4})
    assert main(["analyze", str(model), "-o", str(tmp_path / "o.csv"), "--quiet"]) == 0
    text = (tmp_path / "o.csv").read_text()
    assert "layer.weight" in text and "MLX-int4" in text
    assert main(["compress", str(model), "-o", str(tmp_path / "c.safetensors")]) == 2
    assert "cannot carry quantized tensors" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mode", "bits", "group", "tolerance"),
    [("affine", 4, 64, 0.1), ("affine", 3, 32, 0.1), ("mxfp4", 4, 32, 0.2), ("nvfp4", 4, 16, 0.4), ("mxfp8", 8, 32, 0.2)],
)
def test_sigma2_quant_is_the_measured_rounding_error_of_mx_quantize(tmp_path, mode, bits, group, tolerance):
    """sigma2_quant (issue 26, item 9) from the scales alone (affine: each group's scale is its step; the
    microscaling modes: each code's E2M1/E4M3 cell times its group's scale), against W_q - W for a float32 W
    that ``mx.quantize`` rounded.  The estimate is high where a group's largest value, stored almost exactly at
    the top code, counts the top cell's full width: NVFP4's groups of 16 scale their absmax to 6, the end of
    E2M1's widest cell (measured 34% high); 10% for the evenly spaced affine codes."""
    mx = _mx()
    w = np.random.default_rng(bits + group).standard_normal((256, 512)).astype(np.float32)
    parts = mx.quantize(mx.array(w), group_size=group, bits=bits, mode=mode)
    root = tmp_path / "m"
    root.mkdir()
    mx.save_safetensors(str(root / "model.safetensors"), dict(zip(("proj.weight", "proj.scales", "proj.biases"), parts)))
    quantization = {"group_size": group, "bits": bits, "mode": mode}
    (root / "config.json").write_text(json.dumps({"quantization": quantization, "quantization_config": quantization}))
    (record,) = open_source(root).tensors()
    measured = float(np.mean((record.load().astype(np.float64) - w) ** 2))
    assert record.noise() == pytest.approx(measured, rel=tolerance)
