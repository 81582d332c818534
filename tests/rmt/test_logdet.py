"""log det X and the det X = 1 tail (issue 18, part 5) against closed forms and WeightWatcher's own
``detX_constraint``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netspectra.pipeline import analyze_array
from netspectra.rmt.logdet import detx_condition, log_determinant


def test_log_determinant_equals_slogdet_and_skips_the_null_space():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 100))
    x = w.T @ w / 300
    sign, logdet = np.linalg.slogdet(x)
    assert sign == 1 and log_determinant(np.linalg.eigvalsh(x)) == pytest.approx(logdet, rel=1e-10)
    assert log_determinant(np.array([0.0, 0.0, 2.0, 3.0]), zero_tolerance=1e-12) == pytest.approx(math.log(6.0))
    assert math.isnan(log_determinant(np.zeros(3), zero_tolerance=1e-12))


def test_detx_condition_equals_weightwatchers():
    rmt_util = pytest.importorskip("weightwatcher.RMT_Util")
    rng = np.random.default_rng(1)
    for trial in range(20):
        evals = np.sort(rng.pareto(1.5 + trial / 10, 150) + 0.05)
        num, idx = rmt_util.detX_constraint(evals.copy(), rescale=True)
        assert detx_condition(evals) == (num, pytest.approx(evals[idx], rel=1e-14)), trial


def test_detx_closed_form_and_in_the_row():
    # mean-1 spectrum {4, 1, 1, 0.25, ...}: ln 4 + 0 + 0 + ln 0.25 = 0 is not < 0, the next one (0.25) makes it
    evals = np.array([4.0, 1.0, 1.0, 0.25, 0.25, 1.5])
    evals = evals * len(evals) / evals.sum()
    k, value = detx_condition(evals)
    logs = np.cumsum(np.log(np.sort(evals)[::-1]))
    assert k == int(np.argmax(logs < 0)) + 1 and value == np.sort(evals)[::-1][k - 1]
    row = analyze_array(np.random.default_rng(2).standard_t(3, (400, 200)))
    assert (row.detx_num, row.detx_val) == detx_condition(row.eigenvalues)
    assert row.log_det == pytest.approx(log_determinant(row.eigenvalues))


def test_slq_log_determinant_is_within_a_few_percent_of_the_exact_one():
    """Measured 0.4-4.7% of sum |ln lambda| with 8 probes and 32 steps."""
    from netspectra.rmt.logdet import slq_log_determinant

    for seed, w in enumerate(
        (np.random.default_rng(3).standard_normal((1200, 400)), np.random.default_rng(4).standard_t(3, (1200, 400)))
    ):
        evals = np.linalg.eigvalsh(w.T @ w / w.shape[0])
        scale = np.sum(np.abs(np.log(evals)))  # the terms of sum ln(lambda) cancel: measure against their size
        assert abs(slq_log_determinant(w[None], seed=seed).value - log_determinant(evals)) < 0.06 * scale
    low_rank = np.random.default_rng(5).standard_normal((300, 5)) @ np.random.default_rng(6).standard_normal((5, 100))
    estimate = slq_log_determinant(low_rank[None])
    assert math.isnan(estimate.value) and math.isnan(estimate.error) and "not separated from 0" in estimate.reason


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.standard_normal((1200, 400)),
        lambda r: r.standard_normal((600, 450)),
        lambda r: r.standard_t(3, (1200, 400)),
        lambda r: (
            r.standard_normal((1000, 500))
            + 3.0 * np.sqrt(1000) * np.outer(r.standard_normal(1000) / np.sqrt(1000), r.standard_normal(500) / np.sqrt(500))
        ),
    ],
)
def test_slq_log_det_error_covers_the_error(make):
    """SLQ was off by 6-14% with nothing to say so: its error estimate (Gauss-Radau bracket plus two standard
    errors over the probes) holds the actual error, or the estimate is NaN with a reason."""
    from netspectra.rmt.logdet import slq_log_determinant

    for seed in range(3):
        w = make(np.random.default_rng(seed))
        evals = np.linalg.eigvalsh(w.T @ w / w.shape[0])
        estimate = slq_log_determinant(w[None], seed=seed)
        if math.isnan(estimate.value):
            assert estimate.reason
            continue
        assert 0 < estimate.error and abs(estimate.value - log_determinant(evals)) <= estimate.error, seed


def test_tail_only_log_det_of_a_rank_deficient_matrix_is_nan_with_a_reason():
    """Rank 300 of 400: the SLQ sum counted the 100 zero eigenvalues as small positive Ritz values (here 1211
    against 1471 exact over the non-zero ones; -1097 against -118 in the audit's matrix), and the docstring
    promised NaN.  The top window cannot know which eigenvalues are zero."""
    from netspectra.linalg import SpectrumOptions
    from netspectra.spec import AnalysisSpec

    rng = np.random.default_rng(0)
    w = rng.standard_normal((400, 300)) @ rng.standard_normal((300, 400))
    row = analyze_array(w, AnalysisSpec(spectrum=SpectrumOptions(backend="lanczos", tail_only=32)))
    assert math.isnan(row.log_det) and math.isnan(row.log_det_error)
    assert any(w.startswith("log det unknown from the top window") for w in row.warnings)
    assert row.num_spikes is None  # no MP edge in a tail-only row
    assert analyze_array(w).log_det_error == 0.0


def test_tail_only_rows_carry_the_slq_log_det_unless_depth_is_off():
    from netspectra.diagnose.options import AnalysisOptions
    from netspectra.linalg import SpectrumOptions
    from netspectra.spec import AnalysisSpec

    w = np.random.default_rng(7).standard_t(3, (2000, 1100))
    evals = np.linalg.eigvalsh(w.T @ w / 2000)
    row = analyze_array(w, AnalysisSpec(spectrum=SpectrumOptions(backend="lanczos", tail_only=32)))
    assert row.num_evals == 32
    assert abs(row.log_det - log_determinant(evals)) < 0.06 * np.sum(np.abs(np.log(evals)))
    assert abs(row.log_det - log_determinant(evals)) <= row.log_det_error
    fast = AnalysisSpec(spectrum=SpectrumOptions(backend="lanczos", tail_only=32), fit=AnalysisOptions(depth=False))
    assert math.isnan(analyze_array(w, fast).log_det)


def test_a_tail_only_row_decomposed_densely_has_the_exact_log_det_of_the_full_row():
    from netspectra.linalg import SpectrumOptions
    from netspectra.spec import AnalysisSpec

    w = np.random.default_rng(8).standard_t(3, (900, 300)).astype(np.float32)
    full = analyze_array(w)
    tail = analyze_array(w, AnalysisSpec(spectrum=SpectrumOptions(backend="dense", tail_only=32)))
    assert tail.num_evals < full.num_evals and "tail-only" in tail.warning
    assert tail.log_det == full.log_det
