"""Tail-only analysis of a layer (the ``tail_only`` option of :class:`~netspectra.linalg.SpectrumOptions`): the
power law fitted on the top K eigenvalues, for layers too large to decompose.

Convention: W is N x M with N >= M; the eigenvalues are those of X = W^T W / N.

The power-law fit (Clauset, Shalizi & Newman, SIAM Rev. 2009) needs only the eigenvalues >= xmin, so the
top K suffice when the tail is shorter than the window.  Rule (docs/formulas.md#tail-only-windows): fit on the top K;
if the chosen xmin is among the lowest ``WINDOW_BOTTOM`` of the window, the window may be cutting the
tail (or a fit that failed may need more points): double K and refit, at most ``MAX_DOUBLINGS`` times;
if xmin is still at the bottom, the row is flagged ``window-limited`` (alpha may be biased: rerun with a
larger K).  A window that reaches the end of the spectrum (all eigenvalues, or all non-zero ones) is
never window-limited.  The rule detects a window that cuts a tail; it cannot see that the full KS scan
would put xmin far below the window (in the bulk): tail-only alpha is the exponent of the top of the
spectrum (docs/scale.md, measured).

Known from the window: lambda_max and the norms, the Frobenius norm and stable rank (from the trace of
W^T W, computed from W directly), alpha and its tail columns, alpha_weighted and the ``_ww`` norms.  The
columns that need the bulk (ranks, entropy, Marchenko–Pastur fit, spikes, log_alpha_norm) stay NaN,
``num_spikes`` empty (None: no edge was computed), ``rank_loss`` 0, and the warning says ``tail-only``.
``num_evals`` is the window size.  ``log_det`` is exact when the backend decomposed the whole matrix
anyway (not with the ``refined`` float32 windows, even where a matrix fell back to float64), an SLQ estimate
with its ``log_det_error`` otherwise, or NaN with the reason as a warning where the Lanczos run cannot separate
the bottom of the spectrum from 0 (:func:`~netspectra.rmt.logdet.slq_log_determinant`).

Backend: :func:`~netspectra.linalg.choose.choose_backend`'s, except that ``auto`` decomposes densely instead of
taking the ``refined`` float32 windows when the row needs log det (``options.depth``, the default): the SLQ
estimate costs more than the float32 windows save (measured, one 11008 x 4096 layer, one BLAS thread, K = 64:
row 8.6 s refined with SLQ log det against 5.8 s dense with the exact one; SLQ alone 3.4 s; docs/scale.md).
With ``depth=False`` (``--no-depth``) or ``backend="refined"`` the windows are refined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from netspectra.diagnose.layer import (
    analyze_spectrum,
    fit_tail,
    norm_columns,
    power_law_columns,
    ww_columns,
    ww_scale,
)
from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.row import LayerIdentity, LayerReport, OutcomeColumns
from netspectra.diagnose.rules import alpha_label
from netspectra.linalg import Spectrum, SpectrumOptions, compute_spectrum, compute_top_spectrum
from netspectra.linalg.choose import TOP_K_BACKENDS, choose_backend
from netspectra.linalg.spectrum import RefinedWindows
from netspectra.rmt.logdet import LogDetEstimate, log_determinant, slq_log_determinant
from netspectra.rmt.powerlaw import PowerLawFit

#: xmin among the lowest this fraction of the window: the window may be cutting the tail.
WINDOW_BOTTOM = 0.10
#: The window grows to at most K x 2^MAX_DOUBLINGS.
MAX_DOUBLINGS = 3
#: Warning label of a fit whose xmin stayed at the bottom of the largest window.
WINDOW_LIMITED = "window-limited"


@dataclass(frozen=True)
class TailWindow:
    """The top of a spectrum, its power-law fit (None if it failed, with the reason) and the window flag;
    ``full`` is the whole spectrum when the backend decomposed the matrices anyway (else None)."""

    spectrum: Spectrum
    fit: PowerLawFit | None
    failure: str
    window_limited: bool
    full: Spectrum | None = None


def _fit(spectrum: Spectrum, options: AnalysisOptions) -> tuple[PowerLawFit | None, str]:
    window = spectrum.eigenvalues
    return fit_tail(window[window > spectrum.zero_tolerance], options)


def fit_tail_window(
    stack: np.ndarray,
    count: int,
    options: AnalysisOptions = AnalysisOptions(),
    spectrum_options: SpectrumOptions = SpectrumOptions(),
) -> TailWindow:
    """Top ``count`` eigenvalues of a (k, N, M) stack (N >= M) and their power-law fit, growing the window by the rule above."""
    n, m = stack.shape[1:]
    full: Spectrum | None = None
    refined: RefinedWindows | None = None
    for doubling in range(MAX_DOUBLINGS + 1):
        wanted = SpectrumOptions(backend=spectrum_options.backend, tail_only=count)
        backend = choose_backend(n, m, wanted)
        if backend == "refined" and spectrum_options.backend == "auto" and options.depth:
            backend = "dense"  # the row needs log det: decomposing everything gives it exactly, and sooner
        if full is None and backend not in TOP_K_BACKENDS:
            full = compute_spectrum(stack, SpectrumOptions(backend=backend))  # every eigenvalue anyway: decompose once
        if refined is None and backend == "refined":
            refined = RefinedWindows(stack)  # float32 subspaces kept for the doubled windows
        if full is not None:
            spectrum = full.top(count)
        else:
            spectrum = refined.top(count) if refined is not None else compute_top_spectrum(stack, count, wanted)
        fit, failure = _fit(spectrum, options)
        window = spectrum.eigenvalues
        reaches_end = spectrum.complete or window[0] <= spectrum.zero_tolerance
        at_bottom = fit is not None and int(np.searchsorted(window, fit.xmin)) < WINDOW_BOTTOM * window.size
        if reaches_end or not (at_bottom or fit is None):  # a failed fit may just need a larger window
            return TailWindow(spectrum, fit, failure, window_limited=False, full=full)
        if doubling < MAX_DOUBLINGS:
            count *= 2
    return TailWindow(spectrum, fit, failure, window_limited=fit is not None, full=full)


def analyze_tail(
    stack: np.ndarray,
    *,
    name: str,
    layer_index: int,
    kind: str,
    dtype: str = "",
    options: AnalysisOptions = AnalysisOptions(),
    spectrum_options: SpectrumOptions = SpectrumOptions(tail_only=256),
) -> LayerReport:
    """LayerReport of a (k, N, M) stack (N >= M) from the top ``spectrum_options.tail_only`` eigenvalues.

    When the window covers the whole spectrum the report is the full one (:func:`analyze_spectrum`).
    """
    result = fit_tail_window(stack, spectrum_options.tail_only, options, spectrum_options)
    spectrum, fit = result.spectrum, result.fit
    if spectrum.complete:
        return analyze_spectrum(
            spectrum, name=name, layer_index=layer_index, kind=kind, dtype=dtype, options=options, stack=stack
        )
    k, n, m = stack.shape
    lam_max, total = spectrum.lambda_max, spectrum.total
    warnings = [f"tail-only: top {spectrum.eigenvalues.size} of {k * m} eigenvalues"]
    if result.window_limited:
        warnings.append(WINDOW_LIMITED)
    label = result.failure or alpha_label(fit.alpha_lo, fit.alpha_hi)
    if label:
        warnings.append(label)
    log_det = _log_det(stack, result, options)
    if log_det.reason:
        warnings.append(log_det.reason)
    return LayerReport(
        LayerIdentity(
            name=name,
            layer_index=layer_index,
            kind=kind,
            N=n,
            M=m,
            Q=spectrum.q,
            num_matrices=k,
            num_evals=int(spectrum.eigenvalues.size),
        ),
        norms=norm_columns(n, lam_max, total, stable_rank=total / lam_max, log_det=log_det.value, log_det_error=log_det.error),
        power_law=power_law_columns(fit),
        ww=ww_columns(fit.alpha if fit else math.nan, lam_max, total, ww_scale(kind, n, k)),
        outcome=OutcomeColumns(dtype=dtype, status="ok" if fit else "fit-failed", warnings=tuple(warnings)),
        eigenvalues=spectrum.eigenvalues,
    )


def _log_det(stack: np.ndarray, window: TailWindow, options: AnalysisOptions) -> LogDetEstimate:
    """log det of the layer: exact from the whole spectrum when the backend computed it anyway (error 0), else
    by SLQ (skipped without ``options.depth``: NaN, no reason needed)."""
    if window.full is not None:
        return LogDetEstimate(log_determinant(window.full.eigenvalues, window.full.zero_tolerance), 0.0)
    return slq_log_determinant(stack) if options.depth else LogDetEstimate(math.nan, math.nan)
