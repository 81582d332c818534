"""depth_metrics: scalar columns grouped by concern, sensible values on planted layers, NaN instead of exceptions."""

import math
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.diagnose.depth import depth_metrics
from netspectra.diagnose.phase import PHASES
from netspectra.diagnose.row import GROUP_PATHS, DepthColumns, LayerReport
from netspectra.linalg import compute_spectrum, compute_top_spectrum
from netspectra.rmt.powerlaw import fit_power_law
from netspectra.rmt.spikes import cos2_left, cos2_right


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _depth(stack: np.ndarray, with_fit: bool = True) -> dict[str, object]:
    stack = stack if stack.ndim == 3 else stack[None]
    spectrum = compute_spectrum(stack)
    nonzero = spectrum.eigenvalues[spectrum.eigenvalues > spectrum.zero_tolerance]
    fit = None
    if with_fit and nonzero.size >= 20:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                fit = fit_power_law(nonzero)
            except ValueError:
                fit = None
    return _flat(depth_metrics(spectrum, stack, fit))


DEPTH_PATHS = [path for path in GROUP_PATHS if path[0] == "depth"]
DEPTH_COLUMNS = tuple(name for path in DEPTH_PATHS for name in GROUP_PATHS[path].column_types())


def _flat(depth: DepthColumns) -> dict[str, object]:
    """The depth columns of one layer as one dict, in column order (as a row of the layer table has them)."""
    row = LayerReport.from_columns(
        {"name": "w", "layer_index": 0, "kind": "linear", "N": 1, "M": 1, "Q": 1.0, "num_matrices": 1, "num_evals": 1}
    )
    row = LayerReport(row.identity, depth=depth)
    return {name: value for path in DEPTH_PATHS for name, value in row.group(path).to_dict().items()}


def _check_row(row: dict[str, object]) -> None:
    assert tuple(row) == DEPTH_COLUMNS
    for name, value in row.items():
        assert type(value) in (float, bool, str) or (value is None and name in ("htmp_prefers_mp", "large_entries")), (
            name,
            type(value),
        )
    assert row["phase"] in PHASES or row["phase"] == ""


def _orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


def test_square_gaussian_layer():
    rng = np.random.default_rng(0)
    row = _depth(rng.standard_normal((1024, 1024)))
    _check_row(row)
    assert row["phase"] == "random-like"
    assert math.isnan(row["kappa_htmp"]) and row["htmp_prefers_mp"] is None  # gamma = 1: outside HTMP
    assert math.isnan(row["spike_strength_max"])  # no spikes
    assert row["spacing_ratio"] == pytest.approx(0.53, abs=0.02)
    assert row["ks_goe"] < 0.06 < 0.15 < row["ks_poisson"]
    assert row["mp_area"] == 1.0 and row["tail_weight"] == 0.0
    assert row["mp_width"] == pytest.approx(1.0, abs=0.02)
    assert row["large_entries"] is False
    assert row["shuffle_lambda_ratio"] == pytest.approx(1.0, abs=0.03)
    assert abs(row["structure_index"]) < 0.01 and row["spacing_unfolding"] == "mp"
    assert all(0.0 <= row[p] <= 1.0 for p in ("p_exponential", "p_lognormal", "p_truncated_pl", "p_bulk_mp"))


def test_rectangular_spiked_layer():
    """600 x 300 Gaussian + x = 3 spike: strength, overlaps and the spike's share of the trace."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((600, 300)) + (_orthonormal(rng, 600, 1) * 3 * np.sqrt(600)) @ _orthonormal(rng, 300, 1).T
    row = _depth(w)
    _check_row(row)
    assert row["phase"] == "bulk+spikes"
    assert row["spike_strength_max"] == pytest.approx(3.0, abs=0.15)
    assert row["spike_cos2_left_max"] == pytest.approx(float(cos2_left(3.0, 0.5)), abs=0.02)
    assert row["spike_cos2_right_max"] == pytest.approx(float(cos2_right(3.0, 0.5)), abs=0.02)
    assert row["tail_weight"] == pytest.approx(1.0 - row["mp_area"])
    assert 0.02 < row["tail_weight"] < 0.05  # lambda(3) = 10.6 of a trace ~ 309
    assert isinstance(row["htmp_prefers_mp"], bool) and row["kappa_htmp"] > 0


def test_large_entries_are_flagged_and_their_outliers_are_not_spikes():
    """Three entries of 100 sigma make three outliers of ~ 100^2 / N: the entries' own, no signal."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((800, 400))
    w.ravel()[rng.choice(w.size, 3, replace=False)] = 100.0
    row = _depth(w)
    assert row["large_entries"] is True and row["shuffle_lambda_ratio"] > 2.0
    assert row["phase"] == "random-like" and math.isnan(row["spike_strength_max"])
    assert row["spike_note"] == "no eigenvalue above the noise ceiling of its entries"


@pytest.mark.parametrize("density", [0.05, 0.01])
def test_sparse_noise_has_no_spikes_and_no_overlaps(density):
    """300 x 300 Bernoulli-Gaussian noise: before the noise ceiling, its outliers got cos^2 0.65-0.70 and
    a spike phase in 10/10 draws; now none in these draws."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((300, 300)) * (rng.random((300, 300)) < density) / np.sqrt(density)
        row = _depth(w)
        assert row["phase"] == "random-like", (seed, row["phase_reason"])
        assert math.isnan(row["spike_strength_max"]) and math.isnan(row["spike_cos2_left_max"]), seed


def test_spike_columns_abstain_where_the_bulk_is_not_mp():
    """A power-law tail over a bulk that is not MP: strengths and overlaps of a spiked model would be
    meaningless, so they are NaN with the reason."""
    from netspectra.rmt import ensembles

    row = _depth(ensembles.power_law_tail(400, 400, 2.0, np.random.default_rng(3), tail_fraction=0.5))
    assert row["p_bulk_mp"] < 0.05
    assert math.isnan(row["spike_strength_max"]) and row["spike_note"].startswith("bulk not MP (KS p = ")


def test_level_spacing_unfolds_a_non_mp_bulk_with_a_polynomial():
    """Gaussian noise with log-normal column scales (4000 x 200): a broad bulk, far from MP.  Unfolded with
    the MP law its spacings are as far from GOE as from Poisson (0.34 / 0.34, like the MiniLM word
    embeddings' 0.448 / 0.440); unfolded with a polynomial they are GOE (0.065 / 0.234), as they must be."""
    rng = np.random.default_rng(0)
    row = _depth(rng.standard_normal((4000, 200)) * np.exp(0.5 * rng.standard_normal(200)))
    assert row["p_bulk_mp"] < 1e-10 and row["spacing_unfolding"] == "polynomial"
    assert row["ks_goe"] < 0.1 < 0.2 < row["ks_poisson"]


def test_conv_stack_has_no_level_statistics():
    row = _depth(np.random.default_rng(3).standard_normal((4, 64, 32)))
    _check_row(row)
    assert math.isnan(row["spacing_ratio"]) and math.isnan(row["ks_goe"])  # pooled spectra superpose
    assert not math.isnan(row["mp_width"]) and not math.isnan(row["shuffle_distance"])


def test_without_fit_the_tail_tests_are_nan():
    row = _depth(np.random.default_rng(4).standard_normal((200, 100)), with_fit=False)
    _check_row(row)
    assert all(math.isnan(row[c]) for c in ("lr_exponential", "p_exponential", "lr_truncated_pl", "p_lognormal"))
    assert row["phase"] == "random-like"


@pytest.mark.parametrize(
    "kind",
    ["rank-deficient", "all-equal", "tiny", "rank-one-plus-noise", "student-t", "wide"],
)
def test_degenerate_layers_never_raise(kind):
    rng = np.random.default_rng(5)
    w = {
        "rank-deficient": lambda: rng.standard_normal((200, 30)) @ rng.standard_normal((30, 100)),
        "all-equal": lambda: 3.0 * _orthonormal(rng, 200, 100),  # every eigenvalue equal
        "tiny": lambda: rng.standard_normal((40, 20)),
        "rank-one-plus-noise": lambda: np.ones((50, 25)) + 1e-3 * rng.standard_normal((50, 25)),
        "student-t": lambda: rng.standard_t(1.5, (300, 100)),
        "wide": lambda: rng.standard_normal((30, 60)),
    }[kind]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        row = _depth(w)
    _check_row(row)
    if kind == "rank-deficient":
        assert row["phase"] == "rank-collapse"
        assert math.isnan(row["mp_width"]) and math.isnan(row["kappa_htmp"])


def test_columns_are_reproducible():
    w = np.random.default_rng(6).standard_normal((300, 150))
    first, second = _depth(w), _depth(w)
    assert [repr(v) for v in first.values()] == [repr(v) for v in second.values()]  # NaN-safe comparison


def test_tail_only_spectrum_gets_tail_tests_and_large_entry_flag_only():
    rng = np.random.default_rng(7)
    stack = rng.standard_normal((1, 600, 300))
    stack[0].ravel()[rng.choice(stack.size, 3, replace=False)] = 80.0
    top = compute_top_spectrum(stack, 60)
    assert not top.complete
    row = _flat(depth_metrics(top, stack, fit_power_law(top.eigenvalues)))
    _check_row(row)
    computed = {
        name
        for name, value in row.items()
        if not (value is None or value == "" or (isinstance(value, float) and math.isnan(value)))
    }
    assert computed == {
        "lr_exponential",
        "p_exponential",
        "lr_lognormal",
        "p_lognormal",
        "lr_truncated_pl",
        "p_truncated_pl",
        "spike_note",
        "shuffle_lambda_ratio",
        "large_entries",
    }
    assert row["large_entries"] is True and row["spike_note"] == "tail-only spectrum"


@pytest.mark.parametrize(("n", "m", "ratio"), [(1000, 500, 1.0), (300, 300, 1.0), (128, 64, 1.3), (256, 128, 1.15)])
def test_spike_overlaps_are_filled_only_where_their_prediction_holds(n, m, ratio):
    """At the BBP threshold the spike columns were filled in 1-2 of 10 draws with predicted cos^2 0.32/0.44
    against measured 0.07/0.24, and at 128 x 64 and 1.3x the threshold 0.58 against 0.40.  Now they are filled
    only at least SPIKE_OVERLAP_MARGIN Tracy-Widom scales above the MP edge, where the prediction is within
    0.1 of the measured overlap (benchmarks/coverage.py), and say why not otherwise."""
    from netspectra.rmt.spikes import detection_threshold

    x = ratio * detection_threshold(m / n)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        u, v = _orthonormal(rng, n, 1), _orthonormal(rng, m, 1)
        w = rng.standard_normal((n, m)) + (u * x * np.sqrt(n)) @ v.T
        row = _depth(w)
        if math.isnan(row["spike_strength_max"]):
            continue
        left, _, right = np.linalg.svd(w, full_matrices=False)
        assert abs(row["spike_cos2_left_max"] - float(left[:, 0] @ u[:, 0]) ** 2) <= 0.1, seed
        assert abs(row["spike_cos2_right_max"] - float(right[0] @ v[:, 0]) ** 2) <= 0.1, seed


def test_a_spike_near_the_threshold_says_why_its_overlaps_are_empty():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((1000, 500)) + (_orthonormal(rng, 1000, 1) * 1.1 * np.sqrt(1000)) @ _orthonormal(rng, 500, 1).T
    row = _depth(w)
    assert math.isnan(row["spike_strength_max"]) and row["phase"] in ("bleeding-out", "bulk+spikes")
    assert "Tracy-Widom scales above the MP edge (< 15): too close to the BBP threshold" in row["spike_note"]
