"""Tail-only analysis: the power law on the top K eigenvalues, window doubling and the window-limited flag."""

import math

import numpy as np
import pytest

from netspectra.diagnose.layer import analyze_spectrum
from netspectra.diagnose.tail import MAX_DOUBLINGS, WINDOW_LIMITED, analyze_tail, fit_tail_window
from netspectra.linalg import SpectrumOptions, compute_spectrum


def with_eigenvalues(evals, n, seed=0):
    """An n x m matrix whose W^T W / n has exactly these eigenvalues."""
    rng = np.random.default_rng(seed)
    m = evals.size
    u = np.linalg.qr(rng.standard_normal((n, m)))[0]
    v = np.linalg.qr(rng.standard_normal((m, m)))[0]
    return ((u * np.sqrt(n * evals)) @ v.T)[None]


def short_tail(m=400, seed=0):
    """MP-like bulk plus 30 Pareto(alpha=2.5) outliers: the fitted tail is much shorter than 256."""
    rng = np.random.default_rng(seed)
    bulk = np.sort(rng.uniform(0.2, 1.0, m - 30))
    tail = 1.5 * (1.0 - rng.random(30)) ** (-1.0 / 1.5)
    return np.concatenate([bulk, tail])


def run(stack, k, backend="auto"):
    return analyze_tail(
        stack, name="w", layer_index=0, kind="linear", spectrum_options=SpectrumOptions(backend=backend, tail_only=k)
    )


def test_tail_inside_the_window_gives_the_full_fit():
    stack = with_eigenvalues(short_tail(), 800)
    full = analyze_spectrum(compute_spectrum(stack), name="w", layer_index=0, kind="linear")
    assert full.num_tail < 0.9 * 128
    for backend in ("auto", "lanczos"):
        tail = run(stack, 128, backend)
        assert tail.alpha == pytest.approx(full.alpha, rel=1e-9)
        assert (tail.num_tail, tail.xmin) == (full.num_tail, pytest.approx(full.xmin, rel=1e-9))
        assert tail.num_evals == 128 and tail.status == "ok"
        assert "tail-only: top 128 of 400 eigenvalues" in tail.warning and WINDOW_LIMITED not in tail.warning
        for column in ("lambda_max", "frobenius_norm", "stable_rank", "spectral_norm", "log_norm_ww", "alpha_weighted"):
            assert getattr(tail, column) == pytest.approx(getattr(full, column), rel=1e-9), column
        for column in ("sigma2_mp", "lambda_plus", "entropy", "effective_rank", "bulk_fraction", "log_alpha_norm"):
            assert math.isnan(getattr(tail, column)), column


def test_a_tail_longer_than_every_window_is_window_limited():
    m = 600
    evals = np.sort((1.0 - (np.arange(m) + 0.5) / m) ** (-1.0 / 2.0))  # Pareto quantiles: every window fits from its bottom
    stack = with_eigenvalues(evals, 700)
    result = fit_tail_window(stack, 24)
    assert result.window_limited
    assert result.spectrum.eigenvalues.size == 24 * 2**MAX_DOUBLINGS
    assert WINDOW_LIMITED in run(stack, 24).warning


def test_the_window_grows_until_xmin_leaves_its_bottom():
    rng = np.random.default_rng(2)
    m = 600
    evals = np.concatenate([np.sort(rng.uniform(0.2, 1.0, m - 60)), 1.2 * (1.0 - rng.random(60)) ** (-1.0 / 1.5)])
    stack = with_eigenvalues(evals, 900)
    result = fit_tail_window(stack, 20)
    size = result.spectrum.eigenvalues.size
    assert size > 20 and not result.window_limited
    assert np.searchsorted(result.spectrum.eigenvalues, result.fit.xmin) >= 0.1 * size


def test_a_window_covering_the_spectrum_gives_the_full_report():
    stack = with_eigenvalues(short_tail(100), 300)
    full = analyze_spectrum(compute_spectrum(stack), name="w", layer_index=0, kind="linear", stack=stack)
    tail = run(stack, 100)
    assert tail.to_dict() == pytest.approx(full.to_dict(), nan_ok=True)
    np.testing.assert_array_equal(tail.eigenvalues, full.eigenvalues)


def test_a_tail_only_row_has_no_spike_count_anywhere(tmp_path):
    """``--tail-only`` showed spikes 0 for every layer, with no edge computed: the count is empty (None) in the
    row, the CSV, the JSON, the terminal table, the store and a comparison."""
    import json

    from netspectra.commands.compare_cmd import comparison_table
    from netspectra.compare.result import ChangeThresholds, ModelComparison, compare_layer
    from netspectra.diagnose.model import ModelReport
    from netspectra.report.export import write_report
    from netspectra.report.table import layer_table
    from netspectra.store import Store

    stack = with_eigenvalues(short_tail(), 800)
    tail = run(stack, 64, backend="lanczos")
    full = analyze_spectrum(compute_spectrum(stack), name="w", layer_index=0, kind="linear")
    assert "tail-only" in tail.warning and tail.num_spikes is None and full.num_spikes == 15
    report = ModelReport(source="m", layers=(tail, full.with_columns(layer_index=1, name="v")))
    header, *rows = write_report(report, tmp_path / "t.csv").read_text().splitlines()
    position = header.split(",").index("num_spikes")
    assert [row.split(",")[position] for row in rows] == ["", "15"]
    layers = json.loads(write_report(report, tmp_path / "t.json").read_text())["layers"]
    assert [layer["num_spikes"] for layer in layers] == [None, 15]
    assert layer_table(report).row_count == 2  # the empty count shows as "-"
    with Store(tmp_path / "s.db") as store:
        stored = store.load_report(store.record_run(report, {}))
    assert [layer.num_spikes for layer in stored.layers] == [None, 15]
    comparison = compare_layer(tail, full, None, "name", ChangeThresholds())
    assert comparison.delta_num_spikes is None and "spikes" not in comparison.reasons
    table = comparison_table(ModelComparison("a", "b", (comparison,), (), ChangeThresholds()))
    assert table.row_count == 1
