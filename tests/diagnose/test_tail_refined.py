"""Tail-only rows from the float32 windows refined in float64 (backend ``refined``, the default for tail-only from
M = 1024): alpha and xmin those of the float64 dense windows; a refused check falls back to them exactly."""

import math

import numpy as np
import pytest

from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.tail import analyze_tail, fit_tail_window
from netspectra.linalg import SpectrumOptions
from planted_windows import clustered, planted

FAST = AnalysisOptions(depth=False)


def row(stack, backend, k=64, options=FAST):
    return analyze_tail(
        stack,
        name="w",
        layer_index=0,
        kind="linear",
        options=options,
        spectrum_options=SpectrumOptions(backend=backend, tail_only=k),
    )


@pytest.mark.parametrize("name", ["student", "power", "gauss"])
def test_refined_rows_equal_the_dense_rows(name):
    stack = planted(name).astype(np.float32)[None]
    refined, dense = row(stack, "refined"), row(stack, "dense")
    assert refined.alpha == pytest.approx(dense.alpha, rel=1e-6)
    assert refined.xmin == pytest.approx(dense.xmin, rel=1e-6)
    assert (refined.num_tail, refined.num_evals, refined.warning) == (dense.num_tail, dense.num_evals, dense.warning)
    np.testing.assert_allclose(refined.eigenvalues, dense.eigenvalues, rtol=1e-9, atol=0)
    for column in ("lambda_max", "frobenius_norm", "stable_rank", "alpha_weighted", "log_norm_ww"):
        assert getattr(refined, column) == pytest.approx(getattr(dense, column), rel=1e-9), column


def test_doubled_windows_match_the_dense_windows():
    stack = planted("power")[None]
    refined = fit_tail_window(stack, 8, FAST, SpectrumOptions(backend="refined", tail_only=8))
    dense = fit_tail_window(stack, 8, FAST, SpectrumOptions(backend="dense", tail_only=8))
    assert refined.spectrum.eigenvalues.size == dense.spectrum.eigenvalues.size > 8  # the window grew
    assert (refined.window_limited, refined.fit.num_tail) == (dense.window_limited, dense.fit.num_tail)
    assert refined.fit.alpha == pytest.approx(dense.fit.alpha, rel=1e-6)
    assert refined.full is None and dense.full is not None  # no full spectrum: log det by SLQ, as for Lanczos windows


def test_log_det_comes_from_slq_not_from_a_full_spectrum():
    stack = planted("student")[None]
    refined, dense = row(stack, "refined", options=AnalysisOptions()), row(stack, "dense", options=AnalysisOptions())
    assert dense.log_det_error == 0.0
    assert refined.log_det_error > 0.0 and math.isfinite(refined.log_det)
    assert refined.log_det == pytest.approx(dense.log_det, abs=3 * refined.log_det_error)


def test_a_refused_check_falls_back_to_the_dense_row_exactly():
    stack = clustered()[None]
    refined, dense = row(stack, "refined", k=20), row(stack, "dense", k=20)
    np.testing.assert_array_equal(refined.eigenvalues, dense.eigenvalues)
    assert (refined.alpha, refined.xmin, refined.num_tail) == (dense.alpha, dense.xmin, dense.num_tail)


def test_auto_takes_the_refined_windows_from_m_1024_without_depth(monkeypatch):
    from netspectra.linalg import choose

    monkeypatch.setattr(choose, "cuda_available", lambda: False)
    stack = np.random.default_rng(1).standard_t(4, size=(1, 1600, 1024)).astype(np.float32)
    auto = fit_tail_window(stack, 16, FAST, SpectrumOptions(tail_only=16))
    dense = fit_tail_window(stack, 16, FAST, SpectrumOptions(backend="dense", tail_only=16))
    assert auto.full is None and dense.full is not None
    np.testing.assert_allclose(auto.spectrum.eigenvalues, dense.spectrum.eigenvalues, rtol=1e-9, atol=0)
    assert auto.fit.alpha == pytest.approx(dense.fit.alpha, rel=1e-6)
    # a row that needs log det (depth on, the default) decomposes densely: exact log det, sooner than SLQ
    assert fit_tail_window(stack, 16, AnalysisOptions(), SpectrumOptions(tail_only=16)).full is not None
    assert fit_tail_window(stack, 16, AnalysisOptions(), SpectrumOptions(backend="refined", tail_only=16)).full is None
