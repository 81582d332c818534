"""Per-layer "RMT depth" columns: spikes, HTMP, level spacing, tail tests, MP bulk, correlation traps, phase.

:func:`depth_metrics` returns the depth column groups of one layer (:class:`DepthColumns`).  Eigenvalues are
those of X = W^T W / N for each N x M matrix (N >= M, beta = gamma = M/N, Q = N/M), pooled over a stack of
k matrices.  "TW edge" is
tau = sigma^2 [(sqrt(N') + sqrt(M'))^2 + q (sqrt(N') + sqrt(M'))(1/sqrt(N') + 1/sqrt(M'))^(1/3)] / N,
N' = N - 1/2, M' = M - 1/2, q the TW1 quantile at ``AnalysisOptions.depth_tw_level`` (0.99: 2.0234;
Johnstone 2001; Ma 2012), with sigma^2 = ``mp_width``.
A value that cannot be computed is NaN (an unset flag None, an unclassified phase empty); no column ever
raises.  A tail-only spectrum (top-K window, ``Spectrum.complete`` False) gets only the tail tests and the
correlation-trap flag and ratio.
Column meanings and formulas: README ("RMT-depth columns").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from netspectra.diagnose.phase import classify_phase
from netspectra.diagnose.row import (
    BulkColumns,
    DepthColumns,
    HTMPColumns,
    PhaseColumns,
    SpacingColumns,
    SpikeColumns,
    TailTestColumns,
    TrapColumns,
)  # fmt: skip
from netspectra.diagnose.rules import rank_collapsed
from netspectra.linalg import Spectrum
from netspectra.rmt.correlation_trap import correlation_trap
from netspectra.rmt.htmp import fit_htmp
from netspectra.rmt.mp_bulk import MPBulkFit, fit_mp_bulk
from netspectra.rmt.powerlaw import PowerLawFit
from netspectra.rmt.spacing import level_spacing
from netspectra.rmt.spikes import spike_estimates
from netspectra.rmt.tail_tests import TailComparison, compare_tail

T = TypeVar("T")

#: Failures a fit may raise on a degenerate but valid spectrum; they turn its columns into NaN.
_FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def depth_metrics(
    spectrum: Spectrum, stack: np.ndarray, fit: PowerLawFit | None, *, level: float = 0.99
) -> DepthColumns:
    """The depth columns of one layer (see the module table), NaN where a quantity cannot be computed.

    Parameters
    ----------
    spectrum : Spectrum
        Eigenvalues of W^T W / N of the layer (pooled over its k matrices).
    stack : ndarray, shape (k, N, M)
        The float64 matrices behind ``spectrum`` (used only for the correlation-trap test).
    fit : PowerLawFit or None
        The layer's power-law fit of the non-zero eigenvalues (None when it failed).
    level : float
        Tracy–Widom quantile of the bulk edge tau (:attr:`AnalysisOptions.depth_tw_level`).

    Returns
    -------
    DepthColumns
        Float, bool and str scalars.  For a tail-only spectrum (``spectrum.complete`` False) only the
        tail tests, ``trap_lambda_ratio`` and ``correlation_trap`` are computed.  The CSN bootstrap is
        not run here.
    """
    evals = spectrum.eigenvalues
    n, m = spectrum.n, spectrum.m
    nonzero = evals[evals > spectrum.zero_tolerance]
    tail = _attempt(lambda: compare_tail(nonzero, fit.xmin, fit.alpha)) if fit else None
    tail_tests = _tail_columns(tail) if tail is not None else TailTestColumns()
    if not spectrum.complete:  # a tail-only window: nothing that needs the bulk
        return DepthColumns(tail_tests=tail_tests, trap=_trap_columns(stack, None, level, spectrum.total * n))
    bulk = _attempt(lambda: fit_mp_bulk(evals, n, m, level=level))
    phase = _attempt(lambda: classify_phase(spectrum, fit, bulk=bulk, tail=tail, level=level))
    return DepthColumns(
        phase_columns=PhaseColumns(phase.phase, phase.reason) if phase is not None else PhaseColumns(),
        bulk=_bulk_columns(bulk) if bulk is not None else BulkColumns(),
        spikes=_spike_columns(evals, n, m, bulk.sigma2, level) if bulk is not None else SpikeColumns(),
        htmp=HTMPColumns() if rank_collapsed(spectrum) else _htmp_columns(nonzero, n, m, fit),
        spacing=_spacing_columns(evals, n, m, bulk.sigma2, level)
        if bulk is not None and spectrum.num_matrices == 1 else SpacingColumns(),
        tail_tests=tail_tests,
        trap=_trap_columns(stack, evals, level, spectrum.total * n),
    )


def _attempt(compute: Callable[[], T]) -> T | None:
    """``compute()``, or None when it raises one of the expected fit failures."""
    try:
        return compute()
    except _FIT_ERRORS:
        return None


def _flag(value: object) -> bool | None:
    """A test outcome as a Python bool, None when it could not be decided (NaN)."""
    return bool(value) if isinstance(value, (bool, np.bool_)) else None


def _bulk_columns(bulk: MPBulkFit) -> BulkColumns:
    return BulkColumns(mp_width=float(bulk.sigma2), mp_area=float(bulk.area), tail_weight=float(bulk.tail_weight),
                       ks_bulk_mp=float(bulk.ks_distance), p_bulk_mp=float(bulk.ks_pvalue))  # fmt: skip


def _spike_columns(evals: np.ndarray, n: int, m: int, sigma2: float, level: float) -> SpikeColumns:
    spikes = spike_estimates(evals, n, m, sigma2, level)
    if spikes.num_spikes == 0:
        return SpikeColumns()
    return SpikeColumns(spike_strength_max=float(spikes.strengths[0]), spike_cos2_left_max=float(spikes.cos2_left[0]),
                        spike_cos2_right_max=float(spikes.cos2_right[0]))  # fmt: skip


def _spacing_columns(evals: np.ndarray, n: int, m: int, sigma2: float, level: float) -> SpacingColumns:
    stats = _attempt(lambda: level_spacing(evals, n, m, sigma2, level=level))
    if stats is None:
        return SpacingColumns()
    return SpacingColumns(spacing_ratio=float(stats.mean_ratio), ks_goe=float(stats.ks_goe),
                          ks_poisson=float(stats.ks_poisson))  # fmt: skip


def _tail_columns(tail: TailComparison) -> TailTestColumns:
    return TailTestColumns(
        lr_exponential=float(tail.exponential.ratio), p_exponential=float(tail.exponential.p_value),
        lr_lognormal=float(tail.lognormal.ratio), p_lognormal=float(tail.lognormal.p_value),
        lr_truncated_pl=float(tail.truncated_power_law.ratio), p_truncated_pl=float(tail.truncated_power_law.p_value),
    )


def _htmp_columns(nonzero: np.ndarray, n: int, m: int, fit: PowerLawFit | None) -> HTMPColumns:
    if max(n, m) == min(n, m):
        return HTMPColumns()
    result = _attempt(lambda: fit_htmp(nonzero, n, m, alpha=fit.alpha if fit else None))
    if result is None:
        return HTMPColumns()
    return HTMPColumns(kappa_htmp=float(result.kappa), alpha_htmp=float(result.alpha_htmp),
                       htmp_prefers_mp=_flag(result.prefers_mp))  # fmt: skip


def _trap_columns(stack: np.ndarray, evals: np.ndarray | None, level: float, squares: float) -> TrapColumns:
    trap = _attempt(lambda: correlation_trap(stack, evals, level=level, sum_of_squares=squares))
    if trap is None:
        return TrapColumns()
    return TrapColumns(trap_distance=float(trap.ks_distance), trap_lambda_ratio=float(trap.lambda_max_ratio),
                       correlation_trap=_flag(trap.is_trap))  # fmt: skip
