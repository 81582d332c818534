"""Spectral-density estimates: SLQ and free decompression, measured against the exact ESD."""

import numpy as np
import pytest

from netspectra.errors import UsageError
from netspectra.linalg.density import DiscreteDensity, GridDensity, cdf_distances
from netspectra.linalg.free_decompression import (
    DecompressionError,
    chebyshev_density,
    decompressed_esd,
    fit_chebyshev,
    free_decompress,
)
from netspectra.linalg.slq import slq_density


def esd(w):
    return DiscreteDensity.from_eigenvalues(np.linalg.eigvalsh(w.T @ w / w.shape[0]))


def test_cdf_distances_of_known_measures():
    a = DiscreteDensity(nodes=np.array([0.0, 1.0]), weights=np.array([0.5, 0.5]))
    b = DiscreteDensity(nodes=np.array([0.5, 1.0]), weights=np.array([0.5, 0.5]))
    assert cdf_distances(a, b) == pytest.approx((0.25, 0.5))  # mass 1/2 moved by 1/2
    uniform = GridDensity(x=np.linspace(0, 1, 1001), density=np.ones(1001))
    assert uniform.mass == pytest.approx(1.0)
    w1, ks = cdf_distances(uniform, DiscreteDensity(nodes=np.array([0.5]), weights=np.array([1.0])))
    assert w1 == pytest.approx(0.25, abs=1e-4) and ks == pytest.approx(0.5, abs=1e-3)


def test_slq_error_shrinks_with_lanczos_steps():
    w = np.random.default_rng(0).standard_normal((400, 200))
    exact = esd(w)
    coarse = slq_density(w, probes=8, steps=5)
    fine = slq_density(w, probes=16, steps=40)
    assert fine.weights.sum() == pytest.approx(1.0)
    w1_coarse, _ = cdf_distances(coarse, exact)
    w1_fine, ks_fine = cdf_distances(fine, exact)
    assert w1_fine < 0.04 and ks_fine < 0.05  # measured 0.025, 0.030 (support width ~3)
    assert w1_fine < w1_coarse / 3  # measured 0.134 -> 0.025: W1 = O(1/m) + O(1/sqrt(n_v))
    assert fine.quantile(0.5) == pytest.approx(exact.quantile(0.5), rel=0.05)


def test_slq_survives_an_invariant_subspace():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 100))  # rank 5: Lanczos breaks down
    density = slq_density(w, probes=4, steps=30)
    assert np.all(np.isfinite(density.nodes)) and density.weights.sum() == pytest.approx(1.0)
    assert density.nodes[-1] == pytest.approx(np.linalg.eigvalsh(w.T @ w / 300)[-1], rel=1e-8)
    assert density.cdf(1e-6 * density.nodes[-1]) == pytest.approx(0.95, abs=0.15)  # 95 zero eigenvalues


def test_free_decompression_of_the_semicircle_closed_form():
    # semicircle of variance 1/4 on [-1, 1] (c_0 = 1) decompressed 4x: semicircle of variance 1
    x = np.array([0.0, 1.5, 2.5])
    rho = free_decompress(np.array([1.0]), (-1.0, 1.0), 4.0, x, eta=1e-3)
    assert rho[0] == pytest.approx(1 / np.pi, abs=3e-4)
    assert rho[1] == pytest.approx(np.sqrt(4 - 1.5**2) / (2 * np.pi), abs=3e-4)
    assert rho[2] < 1e-3  # outside the support [-2, 2]


def test_ratio_one_returns_the_fitted_density():
    coefficients = np.array([1.0, 0.2, -0.1])
    x = np.linspace(-0.9, 0.9, 7)
    np.testing.assert_allclose(
        free_decompress(coefficients, (-1.0, 1.0), 1.0, x, eta=1e-6),
        chebyshev_density(coefficients, (-1.0, 1.0), x),
        atol=1e-5,
    )


def test_chebyshev_fit_of_samples_is_a_probability_density():
    samples = np.random.default_rng(2).beta(1.5, 1.5, 4000)
    coefficients, support = fit_chebyshev(samples)
    grid = np.linspace(*support, 2001)
    assert GridDensity(grid, chebyshev_density(coefficients, support, grid)).mass == pytest.approx(1.0, abs=1e-3)


@pytest.fixture(scope="module")
def wishart():
    w = np.random.default_rng(1).standard_normal((3200, 800))  # X = W^T W / N ~ MP(beta = 1/4)
    return w, esd(w)


def test_free_decompression_of_marchenko_pastur_beats_the_raw_submatrix(wishart):
    w, exact = wishart
    x = np.linspace(0, exact.nodes[-1] * 1.2, 400)
    estimate = decompressed_esd(w, 200, x)  # ratio 4
    w1, ks = cdf_distances(estimate, exact)
    assert estimate.mass == pytest.approx(1.0, abs=0.05)
    assert w1 < 0.04 and ks < 0.04  # measured 0.021, 0.025
    raw_w1, _ = cdf_distances(esd(w[:, :200]), exact)
    assert w1 < raw_w1 / 5  # the submatrix's own ESD (MP(1/16)) is off by 0.21
    with pytest.raises(UsageError):
        decompressed_esd(w, 800, x)  # not a submatrix


@pytest.mark.parametrize(
    ("case", "message"),
    [("rank-50 signal", "second moment"), ("rank-5 signal", "mean")],
)
def test_free_decompression_detects_its_failures(wishart, case, message):
    """Wrong densities that used to come back silently (the rank-50 planted signal: mass 0.96, KS 0.23; the
    rank-5 one: KS 0.32) fail the moment check, and say why."""
    from netspectra.rmt import ensembles

    matrix, columns = {
        "rank-50 signal": (ensembles.spiked(3200, 800, np.linspace(2, 5, 50), np.random.default_rng(2)), 200),
        "rank-5 signal": (ensembles.spiked(3200, 800, [3, 4, 5, 6, 7], np.random.default_rng(2)), 200),
    }[case]
    top = float(np.linalg.eigvalsh(matrix.T @ matrix / 3200)[-1])
    with pytest.raises(DecompressionError, match=message):
        decompressed_esd(matrix, columns, np.linspace(0, 1.2 * top, 600))


@pytest.mark.parametrize("coefficients", [[1.0, 0, 0, 0, 0, 0, 0, 2.0], [1.0, 0, 0.9]])
def test_free_decompression_refuses_what_it_cannot_continue(coefficients):
    # a series that is itself negative somewhere, and a density with a deep central dip (the map folds)
    with pytest.raises(DecompressionError):
        free_decompress(np.array(coefficients), (-1.0, 1.0), 2.0, np.linspace(-3, 3, 301))


@pytest.mark.parametrize("seed", [0, 1])
def test_free_decompression_refuses_heavy_tailed_entries_and_large_ratios(wishart, seed):
    """Student-t(3) entries passed the moment check at ratios 2 and 8 with W1/mean 0.10-0.35 (their single large
    entries make outliers the expansion smears); ratio 8 was wrong without failing on Student-t(5) (W1/mean
    0.085-0.17).  Both are refused; Gaussian entries at ratio 2 and 4 still pass, W1/mean <= 0.05."""
    from netspectra.rmt import ensembles

    t3 = ensembles.student_t(3200, 800, 3.0, np.random.default_rng(seed))
    top = float(np.linalg.eigvalsh(t3.T @ t3 / 3200)[-1])
    for columns in (400, 200):
        with pytest.raises(DecompressionError, match="refused: an entry of|refused: the entries' kurtosis"):
            decompressed_esd(t3, columns, np.linspace(0, 1.2 * top, 600))
    w, exact = wishart
    with pytest.raises(UsageError, match="at most 4"):
        decompressed_esd(w, 100, np.linspace(0, exact.nodes[-1] * 1.2, 400))
    for columns in (400, 200):
        estimate = decompressed_esd(w, columns, np.linspace(0, exact.nodes[-1] * 1.2, 400), seed=seed)
        assert cdf_distances(estimate, exact)[0] <= 0.05 * float(np.mean(exact.nodes))
