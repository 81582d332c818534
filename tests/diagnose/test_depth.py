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
    row = LayerReport.from_columns({"name": "w", "layer_index": 0, "kind": "linear", "N": 1, "M": 1, "Q": 1.0,
                                    "num_matrices": 1, "num_evals": 1})
    row = LayerReport(row.identity, depth=depth)
    return {name: value for path in DEPTH_PATHS for name, value in row.group(path).to_dict().items()}


def _check_row(row: dict[str, object]) -> None:
    assert tuple(row) == DEPTH_COLUMNS
    for name, value in row.items():
        assert type(value) in (float, bool, str) or (value is None and name in ("htmp_prefers_mp", "correlation_trap")), (name, type(value))
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
    assert row["correlation_trap"] is False
    assert row["trap_lambda_ratio"] == pytest.approx(1.0, abs=0.03)
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


def test_trapped_layer_is_flagged():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((800, 400))
    w.ravel()[rng.choice(w.size, 3, replace=False)] = 100.0
    row = _depth(w)
    assert row["correlation_trap"] is True and row["trap_lambda_ratio"] > 2.0


def test_conv_stack_has_no_level_statistics():
    row = _depth(np.random.default_rng(3).standard_normal((4, 64, 32)))
    _check_row(row)
    assert math.isnan(row["spacing_ratio"]) and math.isnan(row["ks_goe"])  # pooled spectra superpose
    assert not math.isnan(row["mp_width"]) and not math.isnan(row["trap_distance"])


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


def test_tail_only_spectrum_gets_tail_tests_and_trap_flag_only():
    rng = np.random.default_rng(7)
    stack = rng.standard_normal((1, 600, 300))
    stack[0].ravel()[rng.choice(stack.size, 3, replace=False)] = 80.0
    top = compute_top_spectrum(stack, 60)
    assert not top.complete
    row = _flat(depth_metrics(top, stack, fit_power_law(top.eigenvalues)))
    _check_row(row)
    computed = {name for name, value in row.items()
                if not (value is None or value == "" or (isinstance(value, float) and math.isnan(value)))}
    assert computed == {
        "lr_exponential", "p_exponential", "lr_lognormal", "p_lognormal", "lr_truncated_pl", "p_truncated_pl",
        "trap_lambda_ratio", "correlation_trap",
    }
    assert row["correlation_trap"] is True
