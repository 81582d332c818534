"""Per-layer "RMT depth" columns: spikes, HTMP, level spacing, tail tests, MP bulk, shuffled-entries null, phase.

:func:`depth_metrics` returns the depth column groups of one layer (:class:`DepthColumns`).  Eigenvalues are
those of X = W^T W / N for each N x M matrix (N >= M, beta = gamma = M/N, Q = N/M), pooled over a stack of
k matrices.  "TW edge" is
tau = sigma^2 [(sqrt(N') + sqrt(M'))^2 + q (sqrt(N') + sqrt(M'))(1/sqrt(N') + 1/sqrt(M'))^(1/3)] / N,
N' = N - 1/2, M' = M - 1/2, q the TW1 quantile at ``AnalysisOptions.depth_tw_level`` (0.99: 2.0234;
Johnstone 2001; Ma 2012), with sigma^2 = ``mp_width``.
A value that cannot be computed is NaN (an unset flag None, an unclassified phase empty); no column ever
raises.  Each derived quantity checks its assumption first: the spike strengths and overlaps (a signal plus
MP noise) are filled only where the bulk fits MP, the phase is bleeding-out or bulk+spikes and an
eigenvalue stands above the noise ceiling of the layer's own entries, far enough above the MP edge for the
prediction to hold (``SPIKE_OVERLAP_MARGIN`` Tracy–Widom scales) (``spike_note`` says why not
otherwise); the level spacings are unfolded with the MP law only where the bulk fits it, with a
polynomial otherwise (``spacing_unfolding``).  A tail-only spectrum (top-K window, ``Spectrum.complete``
False) gets only the tail tests and the large-entry flag and ratio.
Column meanings and formulas: README ("RMT-depth columns").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from netspectra.defaults import SPIKE_OVERLAP_MARGIN
from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.phase import BULK_PVALUE, SPIKED_PHASES, classify_phase, tracy_widom_scale
from netspectra.diagnose.row import (
    BulkColumns,
    DepthColumns,
    HTMPColumns,
    PhaseColumns,
    ShuffleColumns,
    SpacingColumns,
    SpikeColumns,
    TailTestColumns,
)
from netspectra.diagnose.rules import rank_collapsed
from netspectra.linalg import Spectrum
from netspectra.rmt.entry_null import EntryNull, entry_null
from netspectra.rmt.htmp import fit_htmp
from netspectra.rmt.marchenko_pastur import mp_edges
from netspectra.rmt.mp_bulk import MPBulkFit, fit_mp_bulk
from netspectra.rmt.powerlaw import PowerLawFit
from netspectra.rmt.spacing import level_spacing
from netspectra.rmt.spikes import spike_estimates
from netspectra.rmt.tail_tests import TailComparison, compare_tail

T = TypeVar("T")

#: Failures a fit may raise on a degenerate but valid spectrum; they turn its columns into NaN.
_FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def depth_metrics(
    spectrum: Spectrum, stack: np.ndarray, fit: PowerLawFit | None, options: AnalysisOptions = AnalysisOptions()
) -> DepthColumns:
    """The depth columns of one layer (see the module table), NaN where a quantity cannot be computed.

    Parameters
    ----------
    spectrum : Spectrum
        Eigenvalues of W^T W / N of the layer (pooled over its k matrices).
    stack : ndarray, shape (k, N, M)
        The matrices behind ``spectrum`` (used only for the shuffled-entries null).
    fit : PowerLawFit or None
        The layer's power-law fit of the non-zero eigenvalues (None when it failed).
    options : AnalysisOptions
        ``depth_tw_level``: Tracy–Widom quantile of the bulk edge tau; ``min_tail``: the fewest outliers
        read as a tail by the phase rule.

    Returns
    -------
    DepthColumns
        Float, bool and str scalars.  For a tail-only spectrum (``spectrum.complete`` False) only the
        tail tests, ``shuffle_lambda_ratio`` and ``large_entries`` are computed.  The CSN bootstrap is
        not run here.
    """
    evals = spectrum.eigenvalues
    n, m = spectrum.n, spectrum.m
    level = options.depth_tw_level
    nonzero = evals[evals > spectrum.zero_tolerance]
    tail = _attempt(lambda: compare_tail(nonzero, fit.xmin, fit.alpha)) if fit else None
    tail_tests = _tail_columns(tail) if tail is not None else TailTestColumns()
    if not spectrum.complete:  # a tail-only window: nothing that needs the bulk
        null = _attempt(lambda: entry_null(stack, None, level=level))
        return DepthColumns(
            spikes=SpikeColumns(spike_note="tail-only spectrum"), tail_tests=tail_tests, shuffle=_shuffle_columns(null)
        )
    null = _attempt(lambda: entry_null(stack, evals, level=level))
    bulk = _attempt(lambda: fit_mp_bulk(evals, n, m, level=level))
    phase = _attempt(
        lambda: classify_phase(spectrum, fit, null=null, bulk=bulk, tail=tail, level=level, min_tail=options.min_tail)
    )
    return DepthColumns(
        phase_columns=PhaseColumns(phase.phase, phase.reason) if phase is not None else PhaseColumns(),
        bulk=_bulk_columns(bulk) if bulk is not None else BulkColumns(),
        spikes=_spike_columns(evals, n, m, bulk, null, level, phase.phase if phase is not None else ""),
        htmp=HTMPColumns() if rank_collapsed(spectrum) else _htmp_columns(nonzero, n, m, fit),
        spacing=_spacing_columns(evals, n, m, bulk, level) if spectrum.num_matrices == 1 else SpacingColumns(),
        tail_tests=tail_tests,
        shuffle=_shuffle_columns(null),
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
    return BulkColumns(
        mp_width=float(bulk.sigma2),
        mp_area=float(bulk.area),
        tail_weight=float(bulk.tail_weight),
        ks_bulk_mp=float(bulk.ks_distance),
        p_bulk_mp=float(bulk.ks_pvalue),
    )


def _spike_columns(
    evals: np.ndarray, n: int, m: int, bulk: MPBulkFit | None, null: EntryNull | None, level: float, phase: str
) -> SpikeColumns:
    """The largest spike's strength and overlaps, only where their model (components over MP noise) holds and
    its prediction is measured to: an MP bulk, a spiked phase, an eigenvalue above the noise ceiling of the
    layer's entries, at least :data:`~netspectra.defaults.SPIKE_OVERLAP_MARGIN` Tracy–Widom scales above
    the MP edge (else NaN and the reason in ``spike_note``)."""
    if bulk is None:
        return SpikeColumns(spike_note="no MP bulk fit")
    if not bulk.ks_pvalue > BULK_PVALUE:
        return SpikeColumns(spike_note=f"bulk not MP (KS p = {bulk.ks_pvalue:.2g})")
    if phase not in SPIKED_PHASES + ("random-like",):
        return SpikeColumns(spike_note=f"phase {phase}: not a few components over MP noise")
    ceiling = bulk.edge if null is None else null.noise_ceiling(bulk.sigma2, n, m, level)
    spikes = spike_estimates(evals, n, m, bulk.sigma2, level, threshold=ceiling)
    if spikes.num_spikes == 0:
        return SpikeColumns(spike_note="no eigenvalue above the noise ceiling of its entries")
    above = (spikes.eigenvalues[0] - mp_edges(m / n, bulk.sigma2)[1]) / tracy_widom_scale(bulk.sigma2, n, m)
    if above < SPIKE_OVERLAP_MARGIN:
        return SpikeColumns(
            spike_note=f"largest outlier {above:.1f} Tracy-Widom scales above the MP edge (< {SPIKE_OVERLAP_MARGIN:g}): "
            "too close to the BBP threshold for its strength and overlaps at this size"
        )
    return SpikeColumns(
        spike_strength_max=float(spikes.strengths[0]),
        spike_cos2_left_max=float(spikes.cos2_left[0]),
        spike_cos2_right_max=float(spikes.cos2_right[0]),
    )


def _spacing_columns(evals: np.ndarray, n: int, m: int, bulk: MPBulkFit | None, level: float) -> SpacingColumns:
    """Spacing statistics of the bulk, unfolded with the MP law where the bulk fits it, by a polynomial otherwise."""
    if bulk is not None and bulk.ks_pvalue > BULK_PVALUE:
        stats = _attempt(lambda: level_spacing(evals, n, m, bulk.sigma2, level=level))
        unfolding = "mp"
    else:
        sigma2 = bulk.sigma2 if bulk is not None else None
        stats = _attempt(lambda: level_spacing(evals, n, m, sigma2, unfolding="polynomial", level=level))
        unfolding = "polynomial"
    if stats is None:
        return SpacingColumns()
    return SpacingColumns(
        spacing_ratio=float(stats.mean_ratio),
        ks_goe=float(stats.ks_goe),
        ks_poisson=float(stats.ks_poisson),
        spacing_unfolding=unfolding,
    )


def _tail_columns(tail: TailComparison) -> TailTestColumns:
    return TailTestColumns(
        lr_exponential=float(tail.exponential.ratio),
        p_exponential=float(tail.exponential.p_value),
        lr_lognormal=float(tail.lognormal.ratio),
        p_lognormal=float(tail.lognormal.p_value),
        lr_truncated_pl=float(tail.truncated_power_law.ratio),
        p_truncated_pl=float(tail.truncated_power_law.p_value),
    )


def _htmp_columns(nonzero: np.ndarray, n: int, m: int, fit: PowerLawFit | None) -> HTMPColumns:
    if max(n, m) == min(n, m):
        return HTMPColumns()
    result = _attempt(lambda: fit_htmp(nonzero, n, m, alpha=fit.alpha if fit else None))
    if result is None:
        return HTMPColumns()
    return HTMPColumns(
        kappa_htmp=float(result.kappa), alpha_htmp=float(result.alpha_htmp), htmp_prefers_mp=_flag(result.prefers_mp)
    )


def _shuffle_columns(null: EntryNull | None) -> ShuffleColumns:
    if null is None:
        return ShuffleColumns()
    return ShuffleColumns(
        shuffle_distance=float(null.ks_distance),
        shuffle_lambda_ratio=float(null.lambda_max_ratio),
        structure_index=float(null.structure_index),
        large_entries=bool(null.large_entries),
    )
