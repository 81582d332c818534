"""The tail-fit options a WeightWatcher user knows (``ww_compat``, ``fix_fingers``, ``fit``, ``vectors``) and the
selection by eigenvalue count, position and kind: constraints, and what each fills in a row."""

import math
import warnings

import numpy as np
import pytest

import netspectra
from netspectra import AnalysisOptions, LayerSelection
from netspectra.errors import UsageError


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: AnalysisOptions(fix_fingers="xmin_max"), r"AnalysisOptions.fix_fingers = 'xmin_max': must be None or one of"),
        (lambda: AnalysisOptions(fit="tpl"), r"AnalysisOptions.fit = 'tpl': must be one of PL, TPL, E_TPL"),
        (lambda: AnalysisOptions(max_fingers=2), r"AnalysisOptions.max_fingers = 2: must be an integer >= 3"),
        (lambda: AnalysisOptions(finger_thresh=0.0), r"AnalysisOptions.finger_thresh = 0.0: must be a number > 0"),
        (lambda: AnalysisOptions(ww_compat=True, estimator="farms"), r"ww_compat = True: WeightWatcher fits the full spectrum"),
        (lambda: LayerSelection(min_evals=-1), r"LayerSelection.min_evals = -1: must be an integer >= 0"),
        (lambda: LayerSelection(min_evals=10, max_evals=5), r"LayerSelection.max_evals = 5: must be >= min_evals = 10"),
        (lambda: LayerSelection(layers=(0, -1)), r"LayerSelection.layers = \(0, -1\): must be None or a tuple of integers >= 0"),
        (lambda: LayerSelection(kinds=("dense",)), r"LayerSelection.kinds = \('dense',\): must be None or a tuple of linear"),
        (lambda: LayerSelection(pool=0), r"LayerSelection.pool = 0: must be of type bool"),
    ],
)
def test_settings_are_checked_when_made(make, message):
    with pytest.raises(UsageError, match=message):
        make()


def test_lists_read_as_tuples():
    assert LayerSelection(layers=[3, 1], kinds=["linear"]) == LayerSelection(layers=(3, 1), kinds=("linear",))


def noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((400, 200))


def test_the_row_says_when_weightwatchers_tail_is_shorter_than_min_tail():
    # Gaussian noise, seed 0: WeightWatcher's KS minimum is the 6 largest eigenvalues, alpha 24.5
    layer = netspectra.analyze_array(noise(0))
    assert (layer.num_tail_ww, round(layer.alpha_ww, 1)) == (6, 24.5)
    assert layer.num_tail >= 12 and layer.alpha < 6
    assert (
        layer.warnings[-1] == "ww-tail: WeightWatcher's KS minimum is a 6-eigenvalue tail, alpha 24.5 (min_tail 10 leaves it out)"
    )
    compat = netspectra.analyze_array(noise(0), netspectra.AnalysisSpec(fit=AnalysisOptions(ww_compat=True)))
    assert (compat.alpha, compat.num_tail) == (layer.alpha_ww, 6)
    assert "under-trained" in compat.warnings and not any(w.startswith("ww-tail") for w in compat.warnings)
    assert compat.xmin * compat.N == pytest.approx(layer.xmin_ww, rel=1e-12)  # xmin in W^T W / N, xmin_ww in s^2


def test_ww_tail_is_counted_in_the_summary():
    report = netspectra.ModelReport("m", (netspectra.analyze_array(noise(0)), netspectra.analyze_array(noise(5))))
    assert report.summary.to_dict()["num_ww_tail"] == sum(any(w.startswith("ww-tail") for w in r.warnings) for r in report.layers)


def test_ww_compat_fits_small_layers_as_weightwatcher_does():
    w = np.random.default_rng(3).standard_normal((60, 15))
    assert netspectra.analyze_array(w).status == "fit-failed"  # fewer than min_fit_evals = 20
    compat = netspectra.analyze_array(w, netspectra.AnalysisSpec(fit=AnalysisOptions(ww_compat=True)))
    assert compat.status == "ok" and compat.num_tail >= 8  # its small-sample rule: tails of at least 8


def test_default_rows_leave_the_option_columns_empty():
    layer = netspectra.analyze_array(noise(1))
    assert math.isnan(layer.alpha_tpl) and math.isnan(layer.tail_mean_loc_ratio) and layer.num_fingers == 0


@pytest.mark.parametrize("fit", ["TPL", "E_TPL"])
def test_tpl_columns(fit):
    w = np.random.default_rng(4).standard_t(3, (300, 150))
    layer = netspectra.analyze_array(w, netspectra.AnalysisSpec(fit=AnalysisOptions(fit=fit, depth=False)))
    assert np.isfinite([layer.alpha_tpl, layer.lambda_tpl, layer.xmin_tpl, layer.ks_distance_tpl]).all()
    assert layer.lambda_tpl >= 0 and layer.num_tail_tpl >= 12
    assert layer.alpha == netspectra.analyze_array(w, netspectra.AnalysisSpec(fit=AnalysisOptions(depth=False))).alpha


def test_clip_xmax_columns():
    options = AnalysisOptions(ww_compat=True, fix_fingers="clip_xmax")
    layer = netspectra.analyze_array(noise(0), netspectra.AnalysisSpec(fit=options))
    assert layer.raw_alpha == pytest.approx(24.5, abs=0.05) and layer.num_fingers >= 2 and layer.alpha < layer.raw_alpha - 1


def test_vector_columns_split_at_xmin():
    w = noise(2)
    layer = netspectra.analyze_array(w, netspectra.AnalysisSpec(fit=AnalysisOptions(vectors=True, depth=False)))
    _, s, vt = np.linalg.svd(w, full_matrices=False)
    tail = vt[: layer.num_tail]
    ratios = np.abs(tail).sum(axis=1) / np.abs(tail).max(axis=1)
    assert layer.tail_mean_loc_ratio == pytest.approx(ratios.mean(), rel=1e-9)
    assert layer.bulk_mean_part_ratio > 1


OPTIONS = [
    AnalysisOptions(ww_compat=True),
    AnalysisOptions(ww_compat=True, fix_fingers="clip_xmax"),
    AnalysisOptions(fix_fingers="xmin_peak"),
    AnalysisOptions(fix_fingers="clip_xmax"),
    AnalysisOptions(fit="TPL"),
    AnalysisOptions(fit="E_TPL", vectors=True),
]


@pytest.mark.hardening
@pytest.mark.parametrize("options", OPTIONS, ids=["compat", "compat-clip", "xmin_peak", "clip", "TPL", "E_TPL-vectors"])
def test_edge_matrices_get_a_status_under_every_option(options):
    """Zero, rank-1, constant, NaN/Inf, subnormal, huge, tiny, 1 x N, orthogonal (every eigenvalue equal: WeightWatcher's
    alpha would be infinite), duplicated singular values: a status and no exception, NumPy warnings as errors."""
    from edge_matrices import CASES

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, (w, _, _) in CASES.items():
            layer = netspectra.analyze_array(w, netspectra.AnalysisSpec(fit=options))
            assert layer.status in ("ok", "fit-failed", "error"), name
            assert not (layer.status == "ok" and not math.isfinite(layer.alpha)), name
