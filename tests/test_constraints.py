"""Settings check themselves when made (issue 24): one UsageError naming the class, the field and what it
accepts, never a setting that reaches an analysis and turns into NaN columns or a mid-run traceback."""

from __future__ import annotations

import numpy as np
import pytest

from netspectra import analyze_array
from netspectra.compare.result import ChangeThresholds
from netspectra.constraints import NONE, Interval, Kind, OneOf, check_value, violation
from netspectra.denoise.methods import Method
from netspectra.diagnose.options import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.io import LayerSelection
from netspectra.linalg import SpectrumOptions
from netspectra.merge.compat import Thresholds
from netspectra.spec import AnalysisSpec


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AnalysisOptions(depth_tw_level=0.5), r"AnalysisOptions.depth_tw_level = 0.5: must be one of 0.9, 0.95, 0.99"),
        (lambda: AnalysisOptions(tw_level=0.5), r"AnalysisOptions.tw_level = 0.5"),
        (lambda: AnalysisOptions(min_tail=-5), r"AnalysisOptions.min_tail = -5: must be an integer >= 2"),
        (lambda: AnalysisOptions(min_fit_evals=2.5), r"AnalysisOptions.min_fit_evals = 2.5"),
        (lambda: AnalysisOptions(depth="yes"), r"AnalysisOptions.depth = 'yes': must be of type bool"),
        (lambda: AnalysisOptions(estimator="ww"), r"AnalysisOptions.estimator = 'ww': must be one of full, farms"),
        (lambda: SpectrumOptions(backend="gpu"), r"SpectrumOptions.backend = 'gpu'"),
        (lambda: SpectrumOptions(tail_only=1), r"SpectrumOptions.tail_only = 1: must be None or an integer >= 2"),
        (lambda: LayerSelection(min_dim=-1), r"LayerSelection.min_dim = -1"),
        (lambda: LayerSelection(max_dim=0), r"LayerSelection.max_dim = 0"),
        (lambda: LayerSelection(min_dim=10, max_dim=5), r"LayerSelection.max_dim = 5: must be >= min_dim = 10"),
        (lambda: LayerSelection(include=3), r"LayerSelection.include = 3"),
        (lambda: AnalysisSpec(fit=0.99), r"AnalysisSpec.fit = 0.99: must be of type AnalysisOptions"),
        (lambda: Method("gavish_donoho"), r"Method.kind = 'gavish_donoho': must be one of mp-edge, gavish-donoho"),
        (lambda: Method("rank", 0), r"Method.value of rank:K = 0"),
        (lambda: Method("rank", 2.5), r"Method.value of rank:K = 2.5"),
        (lambda: Method("energy", 1.5), r"Method.value of energy:F = 1.5: must be a number in \(0, 1\]"),
        (lambda: Method("bema", 3), r"Method.value = 3: bema takes no value"),
        (lambda: ChangeThresholds(alpha_z=0), r"ChangeThresholds.alpha_z = 0: must be a number > 0"),
        (lambda: ChangeThresholds(spikes=0), r"ChangeThresholds.spikes = 0"),
        (lambda: ChangeThresholds(rel_frobenius=float("nan")), r"ChangeThresholds.rel_frobenius = nan"),
        (lambda: Thresholds(erank_spread=(0.5, 0.25)), r"Thresholds.erank_spread = \(0.5, 0.25\): must be a pair"),
        (lambda: Thresholds(interference=2.0), r"Thresholds.interference = 2.0: must be a number in \[0, 1\]"),
        (lambda: Thresholds(tw_level=0.9999), r"Thresholds.tw_level = 0.9999"),
    ],
)
def test_a_bad_setting_is_refused_when_made(make, message):
    with pytest.raises(UsageError, match=message):
        make()


def test_a_depth_level_of_0_5_used_to_give_ok_rows_with_every_depth_column_nan():
    """``AnalysisOptions(depth_tw_level=0.5)`` was accepted; its rows had status ok, phase '' and NaN depth
    columns (the ValueError was swallowed per fit).  Now it never reaches a row; the valid levels all fill them."""
    w = np.random.default_rng(0).standard_normal((300, 100))
    for level in (0.90, 0.95, 0.99):
        row = analyze_array(w, AnalysisSpec(fit=AnalysisOptions(depth_tw_level=level)))
        assert row.status == "ok" and row.phase == "random-like" and np.isfinite(row.mp_area)


def test_the_constraint_vocabulary():
    assert violation(3, [Interval(int, 1, None)]) is None
    assert violation(True, [Interval(int, 1, None)]) == "an integer >= 1"  # a bool is not a count
    assert violation(np.int64(3), [Interval(int, 1, 3)]) is None and violation(np.float64(0.95), [OneOf(0.90, 0.95)]) is None
    assert violation(float("inf"), [Interval(float, 0.0, None)]) == "a number >= 0"
    assert violation(0.0, [Interval(float, 0.0, 1.0, closed="right")]) == "a number in (0, 1]"
    assert violation(None, [NONE, Kind(str)]) is None and violation(1, [NONE, Kind(str)]) == "None or of type str"
    assert violation(True, [OneOf(1)]) == "one of 1"  # True == 1 in Python, not here
    with pytest.raises(UsageError, match=r"^x = 'a'\*300\.\.\.|^x = 'aaaa"):
        check_value("x", "a" * 300, [OneOf("b")])  # a huge value is shown short


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "M", "--min-tail", "-5"], "AnalysisOptions.min_tail = -5"),
        (["analyze", "M", "--min-dim", "-1"], "LayerSelection.min_dim = -1"),
        (["analyze", "M", "--min-dim", "9", "--max-dim", "3"], "LayerSelection.max_dim = 3"),
        (["compare", "M", "M", "--threshold", "alpha_z=-1"], "ChangeThresholds.alpha_z = -1.0"),
        (["prune", "M", "--sparsity", "0.5", "--min-tail", "1"], "AnalysisOptions.min_tail = 1"),
    ],
)
def test_a_bad_setting_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    from safetensors.numpy import save_file

    from netspectra.cli import main

    path = tmp_path / "m.safetensors"
    save_file({"w": np.ones((4, 4), np.float32)}, str(path))
    code = main([str(path) if a == "M" else a for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
