"""Every metric of one layer from its spectrum: the :class:`~netspectra.diagnose.row.LayerReport` row.

Eigenvalue convention: W is N x M with N >= M, lambda_i are the eigenvalues of W^T W / N and the
singular values of W are s_i = sqrt(N lambda_i).  The WeightWatcher-convention columns
(:class:`~netspectra.diagnose.row.WWColumns`) use the unnormalised eigenvalues s_i^2 (times k/2 for a
Conv2D kernel with k spatial positions, WeightWatcher's default ``conv2d_norm``).
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np

from netspectra.diagnose import metrics
from netspectra.diagnose.depth import depth_metrics
from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.row import (
    DepthColumns,
    LayerIdentity,
    LayerReport,
    MPColumns,
    NormColumns,
    OutcomeColumns,
    PowerLawColumns,
    VectorColumns,
    WWColumns,
)
from netspectra.diagnose.rules import alpha_label, rank_collapsed
from netspectra.diagnose.vectors import vector_columns
from netspectra.diagnose.ww_fit import fit_layer_tail
from netspectra.linalg import Spectrum
from netspectra.rmt import marchenko_pastur as mp
from netspectra.rmt.farms import farms_eigenvalues
from netspectra.rmt.logdet import detx_condition, log_determinant
from netspectra.rmt.powerlaw import PowerLawFit, fit_power_law


def failed_layer(
    name: str, layer_index: int, kind: str, shape: tuple[int, int], num_matrices: int, dtype: str, reason: str
) -> LayerReport:
    """A row for a matrix that could not be analyzed: status ``error`` and the reason as its warning."""
    n, m = shape
    identity = LayerIdentity(
        name=name,
        layer_index=layer_index,
        kind=kind,
        N=n,
        M=m,
        Q=n / m if m else math.nan,
        num_matrices=num_matrices,
        num_evals=0,
    )
    return LayerReport(identity, outcome=OutcomeColumns(dtype=dtype, status="error", warnings=(reason,)))


def analyze_spectrum(
    spectrum: Spectrum,
    *,
    name: str,
    layer_index: int,
    kind: str,
    dtype: str = "",
    options: AnalysisOptions = AnalysisOptions(),
    stack: np.ndarray | None = None,
    positions: int | None = None,
) -> LayerReport:
    """Compute every metric of one layer from its spectrum (eigenvalues of W^T W / N).

    With ``options.depth`` and the float64 ``stack`` (k, N, M) behind the spectrum, the RMT-depth
    columns of :func:`netspectra.diagnose.depth.depth_metrics` are filled in too (the stack is only
    used for the shuffled-entries null); with ``options.vectors`` and the stack, the localization columns
    (:mod:`netspectra.diagnose.vectors`).  ``positions``: the spatial positions k of the conv kernel the
    matrix comes from, for WeightWatcher's k/2 (default the stack size; a slice of ``pool=False`` is one of k).

    * norms: spectral s_max = sqrt(N lambda_max), Frobenius sqrt(N sum lambda) (over all k matrices);
    * ranks: stable rank, Roy–Vetterli effective rank, normalised entropy, rank loss (eigenvalues
      below :attr:`Spectrum.zero_tolerance`);
    * Marchenko–Pastur: sigma^2 by the median estimator, edge l+ = sigma^2 (1 + sqrt(beta))^2, the
      Tracy–Widom edge at ``options.tw_level``, spikes above it and the fraction of eigenvalues in the bulk;
    * power-law tail of the non-zero eigenvalues (CSN MLE, xmin by KS, or as ``options`` choose:
      :mod:`netspectra.diagnose.ww_fit`), WeightWatcher's own fit and its weighted alpha;
    * log det X over the non-zero eigenvalues (exact: ``log_det_error`` 0) and the det X = 1 tail
      (:mod:`netspectra.rmt.logdet`).
    """
    evals = spectrum.eigenvalues
    n, m, k = spectrum.n, spectrum.m, spectrum.num_matrices
    lam_max = spectrum.lambda_max
    nonzero = evals[evals > spectrum.zero_tolerance]
    rank_loss = int(evals.size - nonzero.size)
    scale = ww_scale(kind, n, k if positions is None else positions)

    sigma2 = mp.sigma2_median(evals, spectrum.beta)
    edge_tw = mp.tracy_widom_edge(sigma2, n, m, options.tw_level)
    tail = fit_layer_tail(_tail_sample(nonzero, stack, spectrum, options), evals, scale, options)
    fit, failure = tail.fit, tail.failure
    wants_depth = options.depth and stack is not None and evals.size >= options.min_fit_evals
    depth = depth_metrics(spectrum, stack, fit, options) if wants_depth else DepthColumns()
    warnings = (*layer_warnings(spectrum, fit, failure, depth), *tail.warnings)
    vectors = VectorColumns()
    if options.vectors and stack is not None:
        vectors = vector_columns(stack, int(np.count_nonzero(evals >= fit.xmin * (1 - 1e-12))) if fit else 0)
    total = float(np.sum(evals))
    detx_num, detx_val = detx_condition(evals)
    log_det = log_determinant(nonzero)
    return LayerReport(
        LayerIdentity(
            name=name, layer_index=layer_index, kind=kind, N=n, M=m, Q=spectrum.q, num_matrices=k, num_evals=int(evals.size)
        ),
        norms=norm_columns(
            n,
            lam_max,
            total,
            stable_rank=metrics.stable_rank(evals),
            effective_rank=metrics.effective_rank(evals),
            entropy=metrics.spectral_entropy(evals),
            rank_loss=rank_loss,
            log_det=log_det,
            log_det_error=0.0 if math.isfinite(log_det) else math.nan,
        ),
        mp=MPColumns(
            sigma2_mp=sigma2,
            lambda_plus=mp.mp_edges(spectrum.beta, sigma2)[1],
            lambda_plus_tw=edge_tw,
            num_spikes=mp.count_spikes(evals, n, m, sigma2, options.tw_level),
            bulk_fraction=float(np.count_nonzero(evals <= edge_tw) / evals.size),
        ),
        power_law=replace(power_law_columns(fit), detx_num=detx_num, detx_val=detx_val),
        ww=ww_columns(
            fit.alpha if fit else math.nan,
            lam_max,
            total,
            scale,
            log_alpha_norm=_log10_power_sum(nonzero * scale, fit.alpha) if fit else math.nan,
        ),
        ww_fits=tail.columns,
        vectors=vectors,
        depth=depth,
        outcome=OutcomeColumns(dtype=dtype, status="ok" if fit else "fit-failed", warnings=warnings),
        eigenvalues=evals,
    )


def layer_warnings(spectrum: Spectrum, fit: PowerLawFit | None, failure: str, depth: DepthColumns) -> tuple[str, ...]:
    """The warning labels of a layer: ``rank-collapse``, the tail's ``fit-failed`` or alpha label, ``large-entries``.

    The alpha labels judge the interval [alpha_lo, alpha_hi], not alpha alone, and ``over-trained`` only a
    heavy-tailed layer (:func:`~netspectra.diagnose.rules.alpha_label`): not one whose whole spectrum its
    entries explain (phase random-like, e.g. iid Student-t(1.5) noise, alpha ~ 1.5, whose tail single
    large entries make: the ``large-entries`` label), nor spikes, a decaying bulk or a collapsed rank.
    """
    warnings = ["rank-collapse"] if rank_collapsed(spectrum) else []
    label = failure or (alpha_label(fit.alpha_lo, fit.alpha_hi, depth.phase_columns.phase) if fit else None)
    if label:
        warnings.append(label)
    if depth.shuffle.large_entries:
        warnings.append("large-entries")
    return tuple(warnings)


def ww_scale(kind: str, n: int, k: int) -> float:
    """Factor from an eigenvalue of W^T W / N to WeightWatcher's s^2: N, times k/2 for a Conv2D stack of k."""
    return n * (k / 2.0 if kind == "conv2d" else 1.0)


def norm_columns(n: int, lam_max: float, total: float, **ranks: float | int) -> NormColumns:
    """Norms from lambda_max and the trace sum(lambda) of W^T W / N: s_max = sqrt(N lambda_max),
    ||W||_F = sqrt(N sum lambda), and their log10; ``ranks`` are the rank columns known."""
    spectral, frobenius = math.sqrt(n * lam_max), math.sqrt(n * total)
    return NormColumns(
        lambda_max=lam_max,
        spectral_norm=spectral,
        log_spectral_norm=_log10(spectral),
        frobenius_norm=frobenius,
        log_frobenius_norm=_log10(frobenius),
        **ranks,
    )  # type: ignore[arg-type]


def ww_columns(alpha: float, lam_max: float, total: float, scale: float, log_alpha_norm: float = math.nan) -> WWColumns:
    """WeightWatcher-convention columns: lambda_max_ww = scale lambda_max, alpha_weighted = alpha log10 lambda_max_ww,
    log_norm_ww = log10(scale sum lambda) (Martin, Peng & Mahoney 2021)."""
    return WWColumns(
        alpha_weighted=alpha * _log10(lam_max * scale),
        lambda_max_ww=lam_max * scale,
        log_spectral_norm_ww=_log10(lam_max * scale),
        log_norm_ww=_log10(total * scale),
        log_alpha_norm=log_alpha_norm,
    )


def power_law_columns(fit: PowerLawFit | None) -> PowerLawColumns:
    """The power-law columns of a fit, its fields of the same name (NaN and a tail of 0 without one)."""
    if fit is None:
        return PowerLawColumns()
    return PowerLawColumns.from_columns({f.name: getattr(fit, f.name) for f in fields(fit)})


def _tail_sample(nonzero: np.ndarray, stack: np.ndarray | None, spectrum: Spectrum, options: AnalysisOptions) -> np.ndarray:
    """The eigenvalues the power law is fitted on: the layer's own, or with ``estimator="farms"`` those of
    its square submatrices (:func:`netspectra.rmt.farms.farms_eigenvalues`; needs the matrices)."""
    if options.estimator != "farms" or stack is None:
        return nonzero
    pooled = farms_eigenvalues(stack)
    return pooled[pooled > spectrum.zero_tolerance]


def fit_tail(nonzero: np.ndarray, options: AnalysisOptions) -> tuple[PowerLawFit | None, str]:
    """The power-law fit of the non-zero eigenvalues, or None and the ``fit-failed: reason`` warning."""
    if nonzero.size < options.min_fit_evals:
        return None, f"fit-failed: {nonzero.size} non-zero eigenvalues (< {options.min_fit_evals})"
    try:
        return fit_power_law(nonzero, min_tail=options.min_tail), ""
    except ValueError as exc:
        return None, f"fit-failed: {exc}"


def _log10_power_sum(values: np.ndarray, power: float) -> float:
    """log10(sum values^power), computed in log space so that large alphas do not overflow."""
    logs = power * np.log(values)
    top = float(np.max(logs))
    return (top + math.log(float(np.sum(np.exp(logs - top))))) / math.log(10.0)


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else -math.inf
