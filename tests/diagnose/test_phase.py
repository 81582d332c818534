"""The 5+1 phases on planted 1000 x 500 matrices, two seeds each (rates over sizes: benchmarks/calibrate_labels.py)."""

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.diagnose.phase import PHASES, PhaseResult, classify_phase, tracy_widom_scale
from netspectra.linalg import Spectrum, compute_spectrum
from netspectra.rmt import ensembles
from netspectra.rmt.entry_null import entry_null
from netspectra.rmt.powerlaw import fit_power_law

N, M = 1000, 500


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


def _signal(rng: np.random.Generator, strengths) -> np.ndarray:
    """sum_i x_i sqrt(N) u_i v_i^T: strength x_i relative to unit noise (BGN normalisation)."""
    x = np.asarray(strengths, dtype=np.float64)
    return (_orthonormal(rng, N, x.size) * (x * np.sqrt(N))) @ _orthonormal(rng, M, x.size).T


PLANTED = {
    # Gaussian noise: MP, nothing outside.
    "random-like": lambda rng: rng.standard_normal((N, M)),
    # 8 components just above the BBP threshold x_c = 0.84: 7 outliers within ~40 TW scales of the edge.
    "bleeding-out": lambda rng: rng.standard_normal((N, M)) + _signal(rng, np.linspace(1.0, 1.4, 8)),
    # 3 strong components: outliers at 10.6, 27 and 66, far from l+ = 2.9.
    "bulk+spikes": lambda rng: rng.standard_normal((N, M)) + _signal(rng, [3.0, 5.0, 8.0]),
    # columns of variance uniform on [0.1, 1.9]: a bulk wider than MP decaying into a short light tail
    # (~60 eigenvalues above the noise ceiling, alpha > 6 or an exponential tail preferred).
    "bulk-decay": lambda rng: ensembles.mixed_noise(N, M, 0.9, rng),
    # power-law singular values: eigenvalues Pareto(alpha = 3) over the whole spectrum.
    "heavy-tailed": lambda rng: (_orthonormal(rng, N, M) * np.sqrt(N * (1 - rng.random(M)) ** -0.5)) @ _orthonormal(rng, M, M).T,
    # rank M/4: 75% of the eigenvalues are zero.
    "rank-collapse": lambda rng: rng.standard_normal((N, M // 4)) @ rng.standard_normal((M // 4, M)),
    # orthonormal columns: every eigenvalue equal, narrower than any noise.
    "isometric": lambda rng: ensembles.isometry(N, M, rng),
}


def _classify(w: np.ndarray, with_fit: bool = True, with_null: bool = True) -> PhaseResult:
    spectrum = compute_spectrum(w[None])
    nonzero = spectrum.eigenvalues[spectrum.eigenvalues > spectrum.zero_tolerance]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            fit = fit_power_law(nonzero) if with_fit and nonzero.size >= 20 else None
        except ValueError:  # a degenerate tail: every eigenvalue equal
            fit = None
    null = entry_null(w, spectrum.eigenvalues) if with_null and not spectrum.eigenvalues[0] <= spectrum.zero_tolerance else None
    return classify_phase(spectrum, fit, null=null)


@pytest.mark.parametrize("phase", list(PLANTED))
def test_planted_phase(phase):
    for seed in range(2):
        result = _classify(PLANTED[phase](np.random.default_rng(seed)))
        assert result.phase == phase, result.reason
        assert result.reason


def test_outliers_that_decay_exponentially_are_bulk_decay_whatever_their_share_of_m():
    """Singular values x_i = 1.5 * 0.995^i over noise: ~21 outliers decaying exponentially out of an MP
    bulk are bulk-decay (by the tail test, not by their count: a power-law tail of as many outliers is
    heavy-tailed, test below)."""
    rng = np.random.default_rng(0)
    result = _classify(rng.standard_normal((N, M)) + _signal(rng, 1.5 * 0.995 ** np.arange(M)))
    assert result.phase == "bulk-decay", result.reason
    assert "an exponential fits the tail better" in result.reason or "alpha = " in result.reason


def test_heavy_tailed_follows_alpha_not_a_significance_test():
    """Power-law tails of alpha = 2.5 and 4 over an MP-like bulk (10% of 1000 x 500): heavy-tailed in both
    seeds, although the Vuong test does not separate the alpha = 4 tails from an exponential (p = 0.51 and
    0.27; the old rule required p < 0.1 and called them bulk-decay)."""
    for alpha in (2.5, 4.0):
        for seed in range(2):
            result = _classify(ensembles.power_law_tail(N, M, alpha, np.random.default_rng(seed)))
            assert result.phase == "heavy-tailed", result.reason
            assert alpha == 2.5 or "not distinguished from exponential" in result.reason


@pytest.mark.parametrize("density", [0.05, 0.01])
def test_noise_of_any_entry_law_is_random_like(density):
    """Sparse noise misfits MP at finite size and Student-t(2.5) noise has large-entry outliers: both were
    labelled bleeding-out, bulk+spikes or bulk-decay; as their own entries shuffled, they are random-like."""
    for seed in range(2):
        rng = np.random.default_rng(seed)
        for w in (ensembles.sparse(N, M, density, rng), ensembles.student_t(N, M, 2.5, rng)):
            result = _classify(w)
            assert result.phase == "random-like", result.reason


def test_without_a_power_law_fit_nothing_is_heavy_tailed():
    result = _classify(PLANTED["heavy-tailed"](np.random.default_rng(0)), with_fit=False)
    assert result.phase == "bulk-decay" and "no power-law fit" in result.reason


def test_labels_and_tracy_widom_scale():
    assert set(PLANTED) == set(PHASES)
    # 1000 x 500, sigma^2 = 1: Johnstone's scale with N - 1/2, M - 1/2 is 0.022897 (docs/formulas.md#tracy-widom-edge)
    assert tracy_widom_scale(1.0, N, M) == pytest.approx(0.022897, abs=2e-5)
    evals = np.sort(np.random.default_rng(1).uniform(0.5, 1.5, 40))
    assert classify_phase(Spectrum(evals, 80, 40), None).phase in PHASES
    assert _classify(PLANTED["random-like"](np.random.default_rng(0)), with_null=False).phase == "random-like"
    with pytest.raises(ValueError, match="tail-only"):
        classify_phase(Spectrum(evals[-10:], 80, 40, trace=float(evals.sum())), None)


def test_the_phase_rule_honours_the_users_min_tail():
    """phase.py had its own MIN_TAIL = 10 whatever ``--min-tail`` said: 12 outliers growing out of the MP
    edge (strengths 0.95 to 3, the lowest at the BBP threshold 0.84) are too few for a tail at min_tail 15
    (bulk+spikes) and enough at the default 10."""
    from netspectra import analyze_array
    from netspectra.diagnose.options import AnalysisOptions
    from netspectra.spec import AnalysisSpec

    rng = np.random.default_rng(0)
    w = rng.standard_normal((N, M)) + _signal(rng, np.geomspace(0.95, 3.0, 12))
    default = analyze_array(w)
    strict = analyze_array(w, AnalysisSpec(fit=AnalysisOptions(min_tail=15)))
    assert default.phase != "bulk+spikes" and strict.phase == "bulk+spikes", (default.phase_reason, strict.phase_reason)


@pytest.mark.parametrize("shape", [(1000, 500), (1500, 500)])
@pytest.mark.parametrize("rank", [10, 20, 50])
@pytest.mark.parametrize("strengths", ["equal", "spread"])
def test_many_separated_spikes_are_bulk_spikes_whatever_their_count(shape, rank, strengths):
    """Low rank + Gaussian noise with 10, 20 or 50 components (x = 4 each, or spread from 2 to 6) read
    heavy-tailed in every draw (alpha 1.8-2.6, "power law preferred over exponential"), while 9 read
    bulk+spikes: the count decided.  Outliers separated from an MP bulk by a gap are a rank-r signal."""
    from netspectra import analyze_array

    n, m = shape
    x = np.full(rank, 4.0) if strengths == "equal" else np.geomspace(2.0, 6.0, rank)
    for seed in range(2):
        layer = analyze_array(ensembles.spiked(n, m, x, np.random.default_rng(seed)))
        assert layer.phase == "bulk+spikes", layer.phase_reason
        assert layer.phase_reason.startswith(f"rank-{rank} signal: {rank} outliers, separated from the bulk by a gap")
        assert np.isfinite(layer.spike_strength_max) and "over-trained" not in layer.warnings


@pytest.mark.parametrize("shape", [(500, 500), (1000, 500)])
def test_isometries_are_not_random_like(shape):
    """A Haar-orthogonal 500 x 500 and orthonormal columns 1000 x 500 (every eigenvalue equal) read random-like
    10 of 10 times, although their structure index is -0.50 / -0.33, 100-160 null sd below 0: the structure
    test was one-sided."""
    n, m = shape
    for seed in range(2):
        w = ensembles.isometry(n, m, np.random.default_rng(seed))
        result = _classify(w, with_fit=False)
        assert result.phase == "isometric", result.reason
        null = entry_null(w, compute_spectrum(w[None]).eigenvalues)
        assert null.narrower and null.structured and not null.wider
        assert null.structure_index == pytest.approx(-(m / n) / (1 + m / n), abs=2e-3)  # exact up to O(1/N)
        assert f"an isometry has {-(m / n) / (1 + m / n):.3f}" in result.reason
