"""WeightWatcher's tail fits reproduced (:mod:`netspectra.rmt.ww_powerlaw`): against its own ``WWFit`` and
``fit_clipped_powerlaw`` on the same values, and on samples with a known answer."""

import logging

import numpy as np
import pytest

from netspectra.rmt.powerlaw import fit_power_law
from netspectra.rmt.ww_powerlaw import EVALS_THRESH, clip_fingers, fit_power_law_ww, fit_power_law_ww_from, ww_sample

ww_powerlaw = pytest.importorskip("weightwatcher.WW_powerlaw")
rmt_util = pytest.importorskip("weightwatcher.RMT_Util")
logging.getLogger("weightwatcher").setLevel(logging.ERROR)


def pareto(alpha: float, n: int, seed: int) -> np.ndarray:
    return (1.0 - np.random.default_rng(seed).random(n)) ** (-1.0 / (alpha - 1.0))


def noise(seed: int) -> np.ndarray:
    """Eigenvalues of W^T W, W 400 x 200 Gaussian: a Marchenko-Pastur spectrum, no power law, whose KS minimum over
    tails of any length is often a handful of the largest eigenvalues (seed 0: 6 of them, alpha 24.5)."""
    w = np.random.default_rng(seed).standard_normal((400, 200))
    return np.linalg.eigvalsh(w.T @ w)


SAMPLES = [pareto(2.5, 500, 0), pareto(4.0, 300, 1), noise(0), pareto(3.0, 19, 3), pareto(2.2, 12, 4), np.arange(1.0, 30.0)]


@pytest.mark.parametrize("values", SAMPLES, ids=["pareto2.5", "pareto4", "noise", "small19", "small12", "linear"])
def test_equals_weightwatchers_own_fit(values):
    theirs = ww_powerlaw.WWFit(np.sort(values))
    ours = fit_power_law_ww(values)
    assert ours.xmin == theirs.xmin
    assert ours.alpha == pytest.approx(theirs.alpha, rel=1e-12)
    assert ours.ks_distance == pytest.approx(theirs.D, rel=1e-9, abs=1e-15)
    assert ours.num_tail == np.count_nonzero(values >= theirs.xmin)
    assert ours.alpha_se == pytest.approx(theirs.sigma, rel=1e-12)


def test_a_tail_shorter_than_min_tail_where_the_ks_minimum_is():
    # WeightWatcher's scan, over tails of any length, lands on the 6 largest; netspectra's min_tail keeps 12 or more
    values = noise(0)
    ww, ours = fit_power_law_ww(values), fit_power_law(values, min_tail=10)
    assert (ww.num_tail, round(ww.alpha, 1)) == (6, 24.5)
    assert ours.num_tail >= 12 and ours.alpha < 6


def test_recovers_the_exponent_of_a_pareto_sample():
    assert fit_power_law_ww(pareto(3.0, 20_000, 5)).alpha == pytest.approx(3.0, abs=0.1)


def test_sample_is_weightwatchers_s_squared_above_its_threshold():
    evals = np.array([2.0, 1e-9, 1e-7, 0.5])  # of W^T W / N, N = 100: s^2 = 200, 1e-7, 1e-5, 50
    assert EVALS_THRESH == 1e-5
    assert ww_sample(evals, 100.0).tolist() == pytest.approx([50.0, 200.0])


@pytest.mark.parametrize("values", [[1.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]], ids=["one", "seven"])
def test_too_few_values_fail(values):
    with pytest.raises(ValueError):
        fit_power_law_ww(values)


@pytest.mark.parametrize("values", [noise(0), noise(1), pareto(2.5, 400, 8)], ids=["noise0", "noise1", "pareto"])
def test_clip_xmax_equals_weightwatchers(values):
    x = np.sort(values)
    best, num_fingers, first = rmt_util.fit_clipped_powerlaw(x, logger=logging.getLogger("weightwatcher"))
    clipped = clip_fingers(x, fit_power_law_ww)
    assert clipped.fit.alpha == pytest.approx(best.alpha, rel=1e-12)
    assert clipped.fit.xmin == best.xmin
    assert clipped.raw_alpha == pytest.approx(first.alpha, rel=1e-12)
    assert clipped.num_clipped == (num_fingers + 1 if num_fingers else 0)  # WeightWatcher reports c - 1 for c clipped


def test_clip_xmax_removes_the_fingers():
    clipped = clip_fingers(noise(0), fit_power_law_ww)
    assert clipped.raw_alpha > 20 and clipped.num_clipped >= 2 and clipped.fit.alpha < clipped.raw_alpha - 1


@pytest.mark.parametrize(
    "values", [pareto(2.5, 500, 0), noise(0), noise(1), pareto(4.0, 300, 1)], ids=["pareto", "noise0", "noise1", "pareto4"]
)
@pytest.mark.parametrize("min_tail", [2, 10, 40])
def test_from_netspectras_fit_equals_the_full_scan(values, min_tail):
    full = fit_power_law_ww(values)
    quick = fit_power_law_ww_from(values * 7.0, fit_power_law(values, min_tail=min_tail), min_tail)  # other units too
    assert (quick.num_tail, quick.xmin) == (full.num_tail, pytest.approx(7.0 * full.xmin, rel=1e-14))
    assert quick.alpha == pytest.approx(full.alpha, rel=1e-12) and quick.ks_distance == pytest.approx(full.ks_distance, rel=1e-12)


def test_samples_too_large_for_the_quadratic_scan_are_refused():
    with pytest.raises(ValueError, match="at most 20,000"):
        fit_power_law_ww(np.arange(1.0, 20_002.0))
