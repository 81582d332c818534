"""sigma2_quant (issue 26, item 9): the quantization noise known from the stored steps, against the error measured.

Each format's own quantizer rounds a Gaussian matrix W; the mean per-entry variance of W_q - W is measured and
compared with what the reader estimates from the stored blocks alone (Delta^2 / 12 per entry, a cell width
times its scale for unequally spaced codes): within 10% (the estimate is a few percent high where a block's
extremes are on the grid: Q4_1 stores its block's minimum and maximum exactly, 2 of 32 entries).  The step each GGUF
type's reader extracts is checked exactly: the dequantized values of every sub-block lie on the lattice of
that step, and neighbouring codes lie one step apart.  Formats checked here: GGUF; the readers' own test files
check GPTQ, AWQ, FP8, bitsandbytes, MLX and compressed-tensors.
"""

from __future__ import annotations

import numpy as np
import pytest

from gguf_files import write_gguf_file
from netspectra.io import open_source
from netspectra.io.quant_noise import bfloat16_widths, cell_widths, float16_widths, grid_noise, mean_noise, uniform_noise
from netspectra.pipeline import analyze

gguf = pytest.importorskip("gguf")
from netspectra.io.gguf_blocks import _STEPS  # noqa: E402

ROWS, COLS = 96, 512


def _gaussian(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((ROWS, COLS)) * 0.02 * (1 + rng.pareto(4.0, (ROWS, 1)))).astype(np.float32)


def test_cell_widths_of_float16_are_the_spacing_of_each_binade():
    widths = float16_widths()

    def width(x: float) -> float:
        return float(widths[np.array([x], np.float16).view(np.uint16)[0]])

    assert width(1.5) == 2.0**-10  # inside [1, 2): the binade's spacing
    assert width(1.0) == pytest.approx(np.sqrt(0.75) * 2.0**-10, rel=1e-15)  # a half spacing below, a whole above
    assert width(0.0) == width(-0.0) == 2.0**-24  # the subnormal spacing
    assert width(-3.0) == 2.0**-9
    assert np.isnan(widths[np.array([np.inf], np.float16).view(np.uint16)[0]])
    assert float(bfloat16_widths()[0x3FC0]) == 2.0**-7  # 1.5 in bfloat16: 7 mantissa bits
    # gaps 1, 2, 1: the ends as wide outside as inside; inner cells a = 0.5, b = 1: w^2 = 4 (0.25 - 0.5 + 1) = 3
    np.testing.assert_allclose(cell_widths(np.array([0.0, 1.0, 3.0, 4.0])), [1.0, np.sqrt(3), np.sqrt(3), 1.0], rtol=1e-15)


def test_grid_and_uniform_noise_are_the_mean_of_the_steps_squared_over_12():
    steps = np.array([[0.1, 0.2], [0.3, 0.4]])
    rows, cols = np.array([2, 3]), np.array([5, 1])
    expanded = np.repeat(np.repeat(steps, rows, axis=0), cols, axis=1)
    assert mean_noise([grid_noise(steps, rows, cols)]) == pytest.approx(np.mean(expanded**2) / 12, rel=1e-14)
    assert mean_noise([uniform_noise(steps.ravel(), 4)]) == pytest.approx(np.mean(steps**2) / 12, rel=1e-14)


@pytest.mark.parametrize("qtype", ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"])
def test_each_sub_block_lies_on_the_lattice_of_the_step_read(qtype):
    """Random blocks (valid float16 scales, random codes) dequantized by gguf: every value of a sub-block is the
    sub-block's lowest plus a whole number of steps, and most sub-blocks have two values one step apart."""
    kind = gguf.GGMLQuantizationType[qtype]
    block, type_size = gguf.GGML_QUANT_SIZES[kind]
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, (64, type_size), dtype=np.uint8)
    halves = rng.uniform(0.01, 0.1, (64, 2)).astype(np.float16).view(np.uint8)
    for start in {"Q2_K": (80, 82), "Q3_K": (108,), "Q6_K": (208,)}.get(qtype, (0, 2) if qtype.endswith(("_1", "_K")) else (0,)):
        raw[:, start : start + 2] = halves[:, :2]
    values = gguf.quants.dequantize(raw, kind).reshape(64, block).astype(np.float64)
    steps = _STEPS[qtype](raw).astype(np.float64)
    sub = values.reshape(64, steps.shape[1], -1)
    adjacent = 0
    for b in range(64):
        for j in range(steps.shape[1]):
            step, v = steps[b, j], sub[b, j]
            if step == 0:
                assert np.ptp(v) == 0
                continue
            k = (v - v.min()) / step
            np.testing.assert_allclose(k, np.round(k), atol=1e-3, err_msg=f"{qtype} block {b} sub-block {j}")
            adjacent += np.any(np.isclose(np.diff(np.unique(v)), step, rtol=1e-4))
    assert adjacent >= 0.9 * np.count_nonzero(steps)


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "BF16", "F16", "F32"])
def test_sigma2_quant_of_a_gguf_row_is_the_measured_rounding_error(tmp_path, qtype):
    w, name = _gaussian(), "blk.0.ffn_up.weight"
    if qtype in ("F16", "F32"):
        write_gguf_file(tmp_path / "m.gguf", {name: w.astype(np.float16) if qtype == "F16" else w})
    else:
        write_gguf_file(tmp_path / "m.gguf", {name: w}, types={name: qtype})
    (record,) = open_source(tmp_path / "m.gguf").tensors()
    measured = float(np.mean((record.load().astype(np.float64) - w) ** 2))
    (row,) = analyze(tmp_path / "m.gguf").layers
    if qtype == "F32":
        assert row.sigma2_quant == 0.0 and row.quant_share == 0.0
        return
    assert row.sigma2_quant == pytest.approx(measured, rel=0.1)
    assert row.quant_share == pytest.approx(row.sigma2_quant / row.sigma2_mp, rel=1e-12)


def test_a_row_of_an_unquantized_format_has_no_sigma2_quant(tmp_path):
    from safetensors.numpy import save_file

    save_file({"layer.weight": _gaussian()}, str(tmp_path / "m.safetensors"))
    (row,) = analyze(tmp_path / "m.safetensors").layers
    assert np.isnan(row.sigma2_quant) and np.isnan(row.quant_share)


def test_a_range_of_rows_is_dequantized_alone_and_equals_the_whole_tensors_rows(tmp_path, monkeypatch):
    """One expert of a stacked tensor: its ggml rows only, read in blocks of rows that do not line up with the
    experts (a block of 3 rows' values), equal to the same rows of the whole tensor."""
    from netspectra.io import gguf_blocks
    from netspectra.io.gguf_header import read_gguf_header

    experts, out = 4, 10
    w = np.random.default_rng(2).standard_normal((experts * out, COLS)).astype(np.float32)
    kind = gguf.GGMLQuantizationType.Q8_0
    write_gguf_file(tmp_path / "m.gguf", {"blk.0.ffn_up_exps.weight": w}, types={"blk.0.ffn_up_exps.weight": "Q8_0"})
    (tensor,) = read_gguf_header(tmp_path / "m.gguf", "m.gguf").tensors
    whole = gguf_blocks.dequantize_tensor(tmp_path / "m.gguf", tensor, "m.gguf")
    np.testing.assert_array_equal(whole, gguf.quants.dequantize(gguf.quants.quantize(w, kind), kind))
    monkeypatch.setattr(gguf_blocks, "ROW_BLOCK_ELEMENTS", 3 * COLS)
    for e in range(experts):
        part = gguf_blocks.dequantize_tensor(tmp_path / "m.gguf", tensor, "m.gguf", rows=(e * out, (e + 1) * out))
        np.testing.assert_array_equal(part, whole[e * out : (e + 1) * out])


def test_joined_expert_tensors_carry_their_parts_noise(tmp_path):
    """transformers joins a MoE file's ffn_gate_exps and ffn_up_exps into one gate_up_proj: its sigma2_quant is
    the mean of its two parts' (equal shapes: the mean over every entry), and each expert's rows carry it."""
    from netspectra.io.gguf_blocks import tensor_noise
    from netspectra.io.gguf_header import read_gguf_header

    experts, inner = 4, 32
    rng = np.random.default_rng(3)
    path = tmp_path / "moe.gguf"
    types = {"blk.0.ffn_gate_exps.weight": "Q8_0", "blk.0.ffn_up_exps.weight": "Q4_0"}
    tensors = {name: (rng.standard_normal((experts, inner, COLS)) * 0.02).astype(np.float32) for name in types}
    write_gguf_file(path, tensors, arch="qwen2moe", types=types)
    (joined,) = open_source(path).tensors()
    assert (joined.name, joined.dtype) == ("model.layers.0.mlp.experts.gate_up_proj", "Q8_0+Q4_0")
    gate, up = (tensor_noise(path, t, "moe.gguf") for t in read_gguf_header(path, "moe.gguf").tensors)
    assert 0 < gate < up
    assert joined.noise() == pytest.approx((gate + up) / 2, rel=1e-12)
    rows = analyze(path).layers
    assert len(rows) == experts and all(r.sigma2_quant == joined.noise() for r in rows)
