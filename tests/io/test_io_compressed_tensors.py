"""compressed-tensors checkpoints (issue 26, item 8): dequantized exactly, against compressed-tensors itself.

The reference checkpoints are made by compressed-tensors' own ``ModelCompressor`` from a torch model
quantized with its preset schemes (W4A16, W8A8, FP8, NVFP4, ...; scales and zero points calibrated
here with its ``calculate_qparams``) and saved as llm-compressor saves them; its ``decompress_model`` is
the reference W.  Without the package, a planted matrix packed here bit by bit from the documented layout
is.
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

OUT, IN, GROUP = 48, 128, 32


def _ct_dir(root: Path, tensors: dict[str, np.ndarray], groups: dict, fmt: str = "pack-quantized", **extra: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(root / "model.safetensors"))
    config = {"quant_method": "compressed-tensors", "format": fmt, "config_groups": groups, "quantization_status": "compressed"}
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": config | extra}))
    return root


def _group(bits: int = 4, strategy: str = "group", targets: tuple[str, ...] = ("Linear",), **weights: object) -> dict:
    args = {"num_bits": bits, "type": "int", "symmetric": True, "strategy": strategy, "group_size": GROUP} | weights
    return {"targets": list(targets), "weights": args}


def _packed_module(rng: np.random.Generator, bits: int, asymmetric: bool = False) -> tuple[dict, np.ndarray, np.ndarray]:
    """The parts of a pack-quantized (OUT x IN) module with planted codes, the codes q, and the zero points
    spread over the matrix (0 when symmetric)."""
    half = 1 << (bits - 1)
    q = rng.integers(-half, half, (OUT, IN))
    scale = rng.uniform(0.01, 0.1, (OUT, IN // GROUP)).astype(np.float32)
    parts = {
        "weight_packed": pack_bit_stream(q + half, bits).view(np.int32),
        "weight_scale": scale,
        "weight_shape": np.array([OUT, IN]),
    }
    zero = np.zeros_like(scale)
    if asymmetric:
        zero_codes = rng.integers(-half, half, scale.shape)
        parts["weight_zero_point"] = (
            pack_bit_stream((zero_codes + half).T, bits).T.view(np.int32).copy()
        )  # packed down the columns
        zero = zero_codes.astype(np.float32)
    return parts, q, zero[:, np.arange(IN) // GROUP]


@pytest.mark.parametrize(("bits", "asymmetric"), [(4, False), (4, True), (3, True), (8, False)])
def test_planted_pack_quantized_weights_are_rebuilt_exactly(tmp_path, bits, asymmetric):
    rng = np.random.default_rng(bits)
    parts, q, zero = _packed_module(rng, bits, asymmetric=asymmetric)
    expected = (q - zero).astype(np.float32) * parts["weight_scale"][:, np.arange(IN) // GROUP]
    tensors = {f"model.layers.0.mlp.up_proj.{k}": v for k, v in parts.items()} | {
        "model.layers.0.mlp.up_proj.bias": np.zeros(OUT, np.float32)
    }
    source = open_source(_ct_dir(tmp_path / "m", tensors, {"group_0": _group(bits, symmetric=not asymmetric)}))
    records = {r.name: r for r in source.tensors()}
    assert set(records) == {"model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.bias"}
    weight = records["model.layers.0.mlp.up_proj.weight"]
    assert (weight.shape, weight.dtype) == ((OUT, IN), f"CT-int{bits}")
    np.testing.assert_array_equal(weight.load(), expected)


def test_activation_order_groups_and_config_groups_by_target(tmp_path):
    """``weight_g_idx`` puts input c in group g_idx[c]; a regex target wins over a class target."""
    rng = np.random.default_rng(3)
    parts, q, _ = _packed_module(rng, 4)
    g_idx = rng.permutation(np.arange(IN) // GROUP)
    int8 = rng.integers(-128, 128, (OUT, IN)).astype(np.int8)
    int8_scale = rng.uniform(0.01, 0.1, (OUT, 1)).astype(np.float32)
    tensors = {f"a.{k}": v for k, v in parts.items()} | {"a.weight_g_idx": g_idx.astype(np.int32)}
    tensors |= {"lm_head.weight": int8, "lm_head.weight_scale": int8_scale}
    groups = {"int4": _group(4), "int8": _group(8, "channel", ("re:.*head$",), group_size=None)}
    records = {r.name: r for r in open_source(_ct_dir(tmp_path / "m", tensors, groups, "mixed-precision")).tensors()}
    assert {n: r.dtype for n, r in records.items()} == {"a.weight": "CT-int4", "lm_head.weight": "CT-int8"}
    np.testing.assert_array_equal(records["a.weight"].load(), q.astype(np.float32) * parts["weight_scale"][:, g_idx])
    np.testing.assert_array_equal(records["lm_head.weight"].load(), int8.astype(np.float32) * int8_scale)


@pytest.mark.parametrize(
    ("groups", "extra", "replace", "match"),
    [
        ({"g": _group(9)}, {}, {}, r"num_bits = 9: must be an integer in \[1, 8\]"),
        ({"g": _group(4, strategy="rows")}, {}, {}, r"strategy = 'rows'"),
        ({"g": _group(4, strategy="block", group_size=None, block_structure=[0, 32])}, {}, {}, r"block_structure = \[0, 32\]"),
        ({"g": _group(4, group_size="32")}, {}, {}, r"group_size = '32'"),
        ({"g": _group(4)}, {"sparsity_config": {"format": "sparse-bitmask"}}, {}, r"sparsity format 'sparse-bitmask'"),
        ({"g": _group(4)}, {"format": "marlin-24"}, {}, r"format = 'marlin-24'"),
        ({"g": _group(4)}, {}, {"weight_shape": np.array([OUT, 10**9])}, r"weight_shape \[48, 1000000000\] does not fit"),
        ({"g": _group(4)}, {}, {"weight_shape": np.array([OUT, IN, 1])}, r"weight_shape of two integers"),
        (
            {"g": _group(4)},
            {},
            {"weight_scale": np.ones((OUT, 3), np.float32)},
            r"scales of shape \(48, 3\) are not a 48 x 4 grid",
        ),
        ({"g": _group(8)}, {}, {}, r"128 inputs of 8 bits do not pack into 16 words"),
        ({"g": _group(4, targets=("re:nothing",))}, {}, {}, r"no config group targets it"),
    ],
)
def test_configs_and_parts_that_do_not_fit_are_refused(tmp_path, groups, extra, replace, match):
    parts, _, _ = _packed_module(np.random.default_rng(0), 4)
    tensors = {f"layer.{k}": v for k, v in (parts | replace).items()}
    with pytest.raises(SourceError, match=match):
        list(open_source(_ct_dir(tmp_path / "m", tensors, groups, **extra)).tensors())


def test_a_regex_target_that_backtracks_is_refused_not_left_to_hang(tmp_path):
    parts, _, _ = _packed_module(np.random.default_rng(0), 4)
    tensors = {f"{'a' * 40}b.{k}": v for k, v in parts.items()}
    with pytest.raises(SourceError, match="took over 1.0 s"):
        list(open_source(_ct_dir(tmp_path / "m", tensors, {"g": _group(4, targets=("re:(a|aa)+$",))})).tensors())


# ------------------------------------------------------------------------------------- compressed-tensors itself


def _calibrate(module, args) -> None:
    """Scales and zero points of ``module``'s weight from its min and max per block (compressed-tensors'
    ``calculate_qparams``; ``generate_gparam`` for NVFP4's global scale)."""
    from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam

    w = module.weight.data
    if args.strategy in ("group", "tensor_group"):
        blocks = w.reshape(w.shape[0], -1, args.group_size)
        low, high = blocks.amin(-1), blocks.amax(-1)
    elif args.strategy == "channel":
        low, high = w.amin(1, keepdim=True), w.amax(1, keepdim=True)
    elif args.strategy == "block":
        b0, b1 = args.block_structure
        blocks = w.reshape(w.shape[0] // b0, b0, w.shape[1] // b1, b1)
        low, high = blocks.amin((1, 3)), blocks.amax((1, 3))
    else:
        low, high = w.amin().reshape(1), w.amax().reshape(1)
    global_scale = None
    if args.strategy == "tensor_group":
        global_scale = generate_gparam(w.amin(), w.amax())
        module.weight_global_scale.data.copy_(global_scale)
    scale, zero = calculate_qparams(low, high, args, global_scale=global_scale)
    module.weight_scale.data = scale.to(module.weight_scale.dtype).reshape(module.weight_scale.shape)
    if hasattr(module, "weight_zero_point"):
        module.weight_zero_point.data = zero.to(module.weight_zero_point.dtype).reshape(module.weight_zero_point.shape)


def _compressed_model(root: Path, preset: str):
    """A two-Linear torch model quantized with ``preset``, compressed and saved as llm-compressor saves it;
    returns the decompressed model (compressed-tensors' own W) and its compression config."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("compressed_tensors")
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import QuantizationConfig, apply_quantization_config, preset_name_to_scheme
    from safetensors.torch import save_file as save_torch_file

    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("up", torch.nn.Linear(256, 128))
    model.add_module("down", torch.nn.Linear(128, 256, bias=False))
    apply_quantization_config(model, QuantizationConfig(config_groups={"group_0": preset_name_to_scheme(preset, ["Linear"])}))
    for module in (model.up, model.down):
        _calibrate(module, module.quantization_scheme.weights)
    compressor = ModelCompressor.from_pretrained_model(model)
    compressor.compress_model(model)
    root.mkdir(parents=True)
    save_torch_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "model.safetensors"))
    compressor.update_config(str(root))
    compressor.decompress_model(model)
    return model


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "dtype"),
    [
        ("W4A16", "CT-int4"),
        ("W4A16_ASYM", "CT-int4"),
        ("W3A16", "CT-int3"),
        ("W8A8", "CT-int8"),
        ("FP8", "CT-fp8"),
        ("FP8_BLOCK", "CT-fp8"),
        ("MXFP4A16", "CT-mxfp4"),
        ("NVFP4A16", "CT-nvfp4"),
    ],
)
def test_weights_equal_compressed_tensors_decompression(tmp_path, preset, dtype):
    model = _compressed_model(tmp_path / "m", preset)
    records = {r.name: r for r in open_source(tmp_path / "m").tensors()}
    for name in ("up", "down"):
        record = records[f"{name}.weight"]
        theirs = getattr(model, name).weight.detach().float().numpy()
        assert (record.shape, record.dtype) == (theirs.shape, dtype)
        ours = record.load()
        if preset == "NVFP4A16":  # compressed-tensors rounds NVFP4 to bfloat16: compare with its float32 path
            theirs = _nvfp4_float32(tmp_path / "m", name)
        np.testing.assert_array_equal(ours, theirs)


def _nvfp4_float32(root: Path, name: str) -> np.ndarray:
    """compressed-tensors' NVFP4 dequantization of one module with float32 codes and scales."""
    import torch
    from compressed_tensors.compressors.nvfp4.helpers import unpack_fp4_from_uint8
    from compressed_tensors.quantization import QuantizationArgs
    from compressed_tensors.quantization.lifecycle.forward import dequantize
    from safetensors.torch import load_file

    stored = load_file(str(root / "model.safetensors"))
    config = json.loads((root / "config.json").read_text())["quantization_config"]
    args = QuantizationArgs.model_validate(config["config_groups"]["group_0"]["weights"])
    packed = stored[f"{name}.weight_packed"]
    codes = unpack_fp4_from_uint8(packed, packed.shape[0], 2 * packed.shape[1], dtype=torch.float32)
    scale = stored[f"{name}.weight_scale"].to(torch.float32)
    global_scale = stored[f"{name}.weight_global_scale"]
    return dequantize(x_q=codes, scale=scale, args=args, global_scale=global_scale, dtype=torch.float32).numpy()


@pytest.mark.slow
def test_analyze_reads_a_compressed_tensors_model_and_compress_refuses(tmp_path, capsys):
    _compressed_model(tmp_path / "m", "W4A16")
    assert main(["analyze", str(tmp_path / "m"), "-o", str(tmp_path / "o.csv"), "--quiet"]) == 0
    text = (tmp_path / "o.csv").read_text()
    assert "up.weight" in text and "down.weight" in text and "CT-int4" in text and "weight_packed" not in text
    assert main(["compress", str(tmp_path / "m"), "-o", str(tmp_path / "c.safetensors")]) == 2
    assert "cannot carry quantized tensors" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "tolerance"),
    [("W4A16", 0.1), ("W4A16_ASYM", 0.1), ("W8A8", 0.1), ("FP8", 0.2), ("FP8_BLOCK", 0.2), ("NVFP4A16", 0.4)],
)
def test_sigma2_quant_is_the_measured_rounding_error(tmp_path, preset, tolerance):
    """sigma2_quant (issue 26, item 9) from the stored scales (integers: each block's scale is its step; FP8 and
    FP4: each code's cell times its block's scale) against W_q - W of the float model compressed-tensors
    quantized (NVFP4's groups of 16 store their largest value at E2M1's widest cell: see test_io_mlx.py)."""
    import torch

    torch.manual_seed(0)
    original = {
        name: torch.nn.Linear(*shape).weight.detach().numpy().astype(np.float64)
        for name, shape in (("up", (256, 128)), ("down", (128, 256)))
    }
    _compressed_model(tmp_path / "m", preset)
    records = {r.name: r for r in open_source(tmp_path / "m").tensors()}
    for name, w in original.items():
        record = records[f"{name}.weight"]
        measured = float(np.mean((record.load().astype(np.float64) - w) ** 2))
        assert record.noise() == pytest.approx(measured, rel=tolerance), name
