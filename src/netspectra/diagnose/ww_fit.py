"""The tail fit a layer reports, chosen by :class:`~netspectra.diagnose.options.AnalysisOptions`, and WeightWatcher's beside it.

* default: :func:`~netspectra.rmt.powerlaw.fit_power_law` of the non-zero eigenvalues of W^T W / N, xmin by
  minimum KS distance over tails the ``min_tail`` rule allows;
* ``ww_compat``: WeightWatcher 0.7.7's own fit (:func:`~netspectra.rmt.ww_powerlaw.fit_power_law_ww`) of its
  sample (s_i^2 above 1e-5, s_i^2 x k/2 for Conv2D), so that alpha and every column derived from it equal
  WeightWatcher's;
* ``fix_fingers``: ``xmin_peak`` (:func:`~netspectra.rmt.tail_tests.fit_power_law_xmin_peak`) or
  ``clip_xmax`` (:func:`~netspectra.rmt.ww_powerlaw.clip_fingers` of the fit above);
* ``fit`` ``TPL``/``E_TPL``: the truncated power law (:mod:`netspectra.rmt.truncated_powerlaw`) as extra
  columns, the power-law columns unchanged.

Whatever the options, WeightWatcher's default fit fills ``alpha_ww``, ``xmin_ww`` and ``num_tail_ww`` (up to
its 15,000-eigenvalue limit), and a row whose own tail differs because WeightWatcher's KS minimum is a tail
shorter than ``min_tail`` allows says so in a ``ww-tail`` warning: on MiniLM's
``encoder.layer.4.attention.self.value`` WeightWatcher's minimum is 9 eigenvalues with alpha 8.44
(under-trained), netspectra's best tail of at least 12 has alpha 2.43.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.row import WWFitColumns
from netspectra.rmt.powerlaw import PowerLawFit, fit_power_law
from netspectra.rmt.tail_tests import fit_power_law_xmin_peak, xmin_peak_range
from netspectra.rmt.truncated_powerlaw import fit_truncated_power_law
from netspectra.rmt.ww_powerlaw import SMALL_N, clip_fingers, fit_power_law_ww, fit_power_law_ww_from, ww_sample

#: WeightWatcher leaves out layers of more eigenvalues than this (``DEFAULT_MAX_EVALS``); its fit is not
#: computed beyond it (an O(n^2) scan).
WW_MAX_EVALS = 15_000
#: Prefix of the warning of a row whose tail differs from WeightWatcher's because of ``min_tail``.
WW_TAIL_LABEL = "ww-tail"


@dataclass(frozen=True)
class LayerTail:
    """The fit a row reports (eigenvalues of W^T W / N; None with the ``fit-failed`` reason), its
    :class:`~netspectra.diagnose.row.WWFitColumns` and the warnings it adds."""

    fit: PowerLawFit | None
    failure: str
    columns: WWFitColumns
    warnings: tuple[str, ...] = ()


def fit_layer_tail(sample: np.ndarray, eigenvalues: np.ndarray, scale: float, options: AnalysisOptions) -> LayerTail:
    """The tail fit of one layer by ``options`` (module docstring).

    Parameters
    ----------
    sample : ndarray
        The non-zero eigenvalues of W^T W / N the default fit uses (or FARMS's pooled ones).
    eigenvalues : ndarray
        Every eigenvalue of W^T W / N of the layer.
    scale : float
        From an eigenvalue of W^T W / N to WeightWatcher's s_i^2 (N, times k/2 for Conv2D).
    options : AnalysisOptions
    """
    ww_values = ww_sample(eigenvalues, scale)
    ww_fit = None
    if options.ww_compat:
        values, fitter, minimum = ww_values, fit_power_law_ww, 2
    else:
        values, minimum = sample, options.min_fit_evals
        fitter = _netspectra_fitter(options.min_tail)
    if values.size < minimum:
        ww_fit = _weightwatchers_fit(ww_values, sample, None, options)
        return LayerTail(None, f"fit-failed: {values.size} non-zero eigenvalues (< {minimum})", _ww_columns(ww_fit, scale))
    plain = None if options.fix_fingers else _attempt(fitter, values)
    if options.ww_compat and plain is not None:
        ww_fit = plain
    else:
        ww_fit = _weightwatchers_fit(ww_values, sample, None if options.ww_compat else plain, options)
    columns = _ww_columns(ww_fit, scale)
    try:
        if options.fix_fingers == "xmin_peak":
            fit = fit_power_law_xmin_peak(values, min_tail=options.min_tail)
        elif options.fix_fingers == "clip_xmax":
            clipped = clip_fingers(values, fitter, max_fingers=options.max_fingers, finger_thresh=options.finger_thresh)
            fit = clipped.fit
            columns = replace(columns, num_fingers=clipped.num_clipped, raw_alpha=clipped.raw_alpha)
        elif plain is not None:
            fit = plain
        else:
            fit = fitter(values)
    except ValueError as exc:
        return LayerTail(None, f"fit-failed: {exc}", columns)
    if options.ww_compat:
        fit = _rescaled(fit, 1.0 / scale)
    if options.fit != "PL":
        columns = replace(columns, **_tpl_columns(sample, options))
    return LayerTail(fit, "", columns, _ww_tail_warning(fit, ww_fit, options))


def _netspectra_fitter(min_tail: int) -> Callable[[np.ndarray], PowerLawFit]:
    return lambda values: fit_power_law(values, min_tail=min_tail)


def _weightwatchers_fit(
    ww_values: np.ndarray, sample: np.ndarray, plain: PowerLawFit | None, options: AnalysisOptions
) -> PowerLawFit | None:
    """WeightWatcher's default fit of its sample (None past :data:`WW_MAX_EVALS` values or when it fails): from the
    row's own plain fit where both fit the same distinct values (only the short tails scanned), else in full."""
    if ww_values.size > WW_MAX_EVALS:
        return None
    same = plain is not None and options.estimator == "full" and ww_values.size == sample.size >= SMALL_N
    if same and bool(np.all(np.diff(ww_values) > 0)):
        return fit_power_law_ww_from(ww_values, plain, options.min_tail)
    return _attempt(fit_power_law_ww, ww_values)


def _attempt(fitter: Callable[[np.ndarray], PowerLawFit], values: np.ndarray) -> PowerLawFit | None:
    try:
        return fitter(values)
    except ValueError:
        return None


def _rescaled(fit: PowerLawFit, factor: float) -> PowerLawFit:
    """``fit`` with xmin and xmax in units ``factor`` times its own (alpha is scale free)."""
    return replace(fit, xmin=fit.xmin * factor, xmax=fit.xmax * factor)


def _ww_columns(ww_fit: PowerLawFit | None, scale: float) -> WWFitColumns:
    if ww_fit is None:
        return WWFitColumns()
    return WWFitColumns(alpha_ww=ww_fit.alpha, xmin_ww=ww_fit.xmin, num_tail_ww=ww_fit.num_tail)


def _tpl_columns(sample: np.ndarray, options: AnalysisOptions) -> dict[str, float | int]:
    """The ``_tpl`` columns of ``fit`` TPL (xmin free) or E_TPL (xmin near the peak of the ESD); NaN when it fails."""
    xmin_range = xmin_peak_range(sample) if options.fit == "E_TPL" else (None, None)
    try:
        tpl = fit_truncated_power_law(sample, xmin_range=xmin_range, min_tail=options.min_tail)
    except ValueError:
        return {}
    return {
        "alpha_tpl": tpl.alpha,
        "lambda_tpl": tpl.rate,
        "xmin_tpl": tpl.xmin,
        "ks_distance_tpl": tpl.ks_distance,
        "num_tail_tpl": tpl.num_tail,
    }


def _ww_tail_warning(fit: PowerLawFit, ww_fit: PowerLawFit | None, options: AnalysisOptions) -> tuple[str, ...]:
    """``ww-tail: ...`` when WeightWatcher's KS minimum is a tail the ``min_tail`` rule leaves out (netspectra's
    scan keeps tails of at least ``min_tail`` + 2 eigenvalues) and the row's own fit is another one."""
    if options.ww_compat or ww_fit is None or ww_fit.num_tail >= options.min_tail + 2 or ww_fit.num_tail == fit.num_tail:
        return ()
    alpha = f"{ww_fit.alpha:.3g}" if math.isfinite(ww_fit.alpha) else str(ww_fit.alpha)
    return (
        f"{WW_TAIL_LABEL}: WeightWatcher's KS minimum is a {ww_fit.num_tail}-eigenvalue tail, alpha {alpha} "
        f"(min_tail {options.min_tail} leaves it out)",
    )
