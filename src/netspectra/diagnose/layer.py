"""One row per weight matrix: every metric netspectra computes from a layer's spectrum.

Eigenvalue convention: W is N x M with N >= M, lambda_i are the eigenvalues of W^T W / N and the
singular values of W are s_i = sqrt(N lambda_i).  Columns ending in ``_ww`` (and ``alpha_weighted``,
``log_alpha_norm``) use WeightWatcher's unnormalised eigenvalues s_i^2 (times k/2 for a Conv2D kernel
with k spatial positions, WeightWatcher's default ``conv2d_norm``) so that they compare with the
published results (Martin, Peng & Mahoney, Nat. Commun. 12:4122, 2021).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from netspectra.diagnose import metrics
from netspectra.diagnose.depth import depth_metrics
from netspectra.diagnose.rules import alpha_label, rank_collapsed
from netspectra.linalg import Spectrum
from netspectra.rmt import marchenko_pastur as mp
from netspectra.rmt.powerlaw import PowerLawFit, fit_power_law


@dataclass(frozen=True)
class AnalysisOptions:
    """Knobs of the per-layer analysis.

    Attributes
    ----------
    min_tail : int
        Fewest eigenvalues a power-law tail may have (upper end of the xmin scan).
    min_fit_evals : int
        Fewest non-zero eigenvalues for a power-law fit; below it the fit is skipped (``fit-failed``).
    tw_level : float
        Tracy–Widom quantile of the bulk edge used to count spikes (0.90, 0.95 or 0.99): the
        ``lambda_plus_tw``, ``num_spikes`` and ``bulk_fraction`` columns.
    depth_tw_level : float
        Tracy–Widom quantile of the bulk edge of the RMT-depth columns and the phase rule (trimmed MP
        fit, spikes' strengths and overlaps, level spacing, correlation trap).  Stricter than
        ``tw_level`` because the phase rule is a classifier whose false-positive rate it sets.
    depth : bool
        Also compute the RMT-depth columns (:mod:`netspectra.diagnose.depth`: spikes' signal strength and
        overlaps, HTMP, level spacing, tail likelihood-ratio tests, MP bulk area, correlation traps, phase).
    """

    min_tail: int = 10
    min_fit_evals: int = 20
    tw_level: float = 0.95
    depth_tw_level: float = 0.99
    depth: bool = True


@dataclass(frozen=True)
class LayerReport:
    """All metrics of one weight matrix.  Column meanings are documented in README ("Columns")."""

    name: str
    layer_index: int
    kind: str
    N: int
    M: int
    Q: float
    num_matrices: int
    num_evals: int
    lambda_max: float = math.nan
    spectral_norm: float = math.nan
    log_spectral_norm: float = math.nan
    frobenius_norm: float = math.nan
    log_frobenius_norm: float = math.nan
    stable_rank: float = math.nan
    effective_rank: float = math.nan
    entropy: float = math.nan
    rank_loss: int = 0
    sigma2_mp: float = math.nan
    lambda_plus: float = math.nan
    lambda_plus_tw: float = math.nan
    num_spikes: int = 0
    bulk_fraction: float = math.nan
    alpha: float = math.nan
    alpha_se: float = math.nan
    xmin: float = math.nan
    xmax: float = math.nan
    ks_distance: float = math.nan
    num_tail: int = 0
    alpha_weighted: float = math.nan
    lambda_max_ww: float = math.nan
    log_spectral_norm_ww: float = math.nan
    log_norm_ww: float = math.nan
    log_alpha_norm: float = math.nan
    phase: str = ""
    phase_reason: str = ""
    mp_width: float = math.nan
    mp_area: float = math.nan
    tail_weight: float = math.nan
    ks_bulk_mp: float = math.nan
    p_bulk_mp: float = math.nan
    spike_strength_max: float = math.nan
    spike_cos2_left_max: float = math.nan
    spike_cos2_right_max: float = math.nan
    kappa_htmp: float = math.nan
    alpha_htmp: float = math.nan
    htmp_prefers_mp: bool | None = None
    spacing_ratio: float = math.nan
    ks_goe: float = math.nan
    ks_poisson: float = math.nan
    lr_exponential: float = math.nan
    p_exponential: float = math.nan
    lr_lognormal: float = math.nan
    p_lognormal: float = math.nan
    lr_truncated_pl: float = math.nan
    p_truncated_pl: float = math.nan
    trap_distance: float = math.nan
    trap_lambda_ratio: float = math.nan
    correlation_trap: bool | None = None
    dtype: str = ""
    status: str = "ok"
    warning: str = ""
    #: Eigenvalues of W^T W / N (ascending), kept so that plots, the store, compare and track never
    #: decompose the matrix again.  Not a column.
    eigenvalues: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        """The row as a plain dict, keys in column order (without the eigenvalues)."""
        return {name: getattr(self, name) for name in self.columns()}

    @classmethod
    def columns(cls) -> list[str]:
        """Stable column order shared by the table, CSV, Parquet and JSON."""
        return [f.name for f in fields(cls) if f.name != "eigenvalues"]


def failed_layer(
    name: str, layer_index: int, kind: str, shape: tuple[int, int], num_matrices: int, dtype: str, reason: str
) -> LayerReport:
    """A row for a matrix that could not be analyzed: status ``error`` and the reason in ``warning``."""
    n, m = shape
    return LayerReport(
        name=name,
        layer_index=layer_index,
        kind=kind,
        N=n,
        M=m,
        Q=n / m if m else math.nan,
        num_matrices=num_matrices,
        num_evals=0,
        dtype=dtype,
        status="error",
        warning=reason,
    )


def analyze_spectrum(
    spectrum: Spectrum,
    *,
    name: str,
    layer_index: int,
    kind: str,
    dtype: str = "",
    options: AnalysisOptions = AnalysisOptions(),
    stack: np.ndarray | None = None,
) -> LayerReport:
    """Compute every metric of one layer from its spectrum (eigenvalues of W^T W / N).

    With ``options.depth`` and the float64 ``stack`` (k, N, M) behind the spectrum, the RMT-depth
    columns of :func:`netspectra.diagnose.depth.depth_metrics` are filled in too (the stack is only
    used for the correlation-trap shuffle).

    * norms: spectral s_max = sqrt(N lambda_max), Frobenius sqrt(N sum lambda) (over all k matrices);
    * ranks: stable rank, Roy–Vetterli effective rank, normalised entropy, rank loss (eigenvalues
      below :attr:`Spectrum.zero_tolerance`);
    * Marchenko–Pastur: sigma^2 by the median estimator, edge l+ = sigma^2 (1 + sqrt(beta))^2, the
      Tracy–Widom edge at ``options.tw_level``, spikes above it and the fraction of eigenvalues in the bulk;
    * power-law tail of the non-zero eigenvalues (CSN MLE, xmin by KS) and WeightWatcher's weighted alpha.
    """
    evals = spectrum.eigenvalues
    n, m, k = spectrum.n, spectrum.m, spectrum.num_matrices
    lam_max = spectrum.lambda_max
    nonzero = evals[evals > spectrum.zero_tolerance]
    rank_loss = int(evals.size - nonzero.size)
    ww_scale = n * (k / 2.0 if kind == "conv2d" else 1.0)

    sigma2 = mp.sigma2_median(evals, spectrum.beta)
    edge_tw = mp.tracy_widom_edge(sigma2, n, m, options.tw_level)
    warnings: list[str] = ["rank-collapse"] if rank_collapsed(spectrum) else []
    fit, failure = fit_tail(nonzero, options)
    warnings += [failure] if failure else [label for label in [alpha_label(fit.alpha)] if label]

    wants_depth = options.depth and stack is not None and evals.size >= options.min_fit_evals
    depth = depth_columns(spectrum, stack, fit, options) if wants_depth else {}
    if depth.get("correlation_trap"):
        warnings.append("correlation-trap")
    lam_max_ww = lam_max * ww_scale
    alpha = fit.alpha if fit else math.nan
    return LayerReport(
        name=name,
        layer_index=layer_index,
        kind=kind,
        N=n,
        M=m,
        Q=spectrum.q,
        num_matrices=k,
        num_evals=int(evals.size),
        lambda_max=lam_max,
        spectral_norm=math.sqrt(n * lam_max),
        log_spectral_norm=_log10(math.sqrt(n * lam_max)),
        frobenius_norm=math.sqrt(n * float(np.sum(evals))),
        log_frobenius_norm=_log10(math.sqrt(n * float(np.sum(evals)))),
        stable_rank=metrics.stable_rank(evals),
        effective_rank=metrics.effective_rank(evals),
        entropy=metrics.spectral_entropy(evals),
        rank_loss=rank_loss,
        sigma2_mp=sigma2,
        lambda_plus=mp.mp_edges(spectrum.beta, sigma2)[1],
        lambda_plus_tw=edge_tw,
        num_spikes=int(np.count_nonzero(evals > edge_tw)),
        bulk_fraction=float(np.count_nonzero(evals <= edge_tw) / evals.size),
        alpha=alpha,
        alpha_se=fit.alpha_se if fit else math.nan,
        xmin=fit.xmin if fit else math.nan,
        xmax=fit.xmax if fit else math.nan,
        ks_distance=fit.ks_distance if fit else math.nan,
        num_tail=fit.num_tail if fit else 0,
        alpha_weighted=alpha * _log10(lam_max_ww),
        lambda_max_ww=lam_max_ww,
        log_spectral_norm_ww=_log10(lam_max_ww),
        log_norm_ww=_log10(float(np.sum(evals)) * ww_scale),
        log_alpha_norm=_log10_power_sum(nonzero * ww_scale, alpha) if fit else math.nan,
        dtype=dtype,
        status="ok" if fit else "fit-failed",
        warning="; ".join(warnings),
        eigenvalues=evals,
        **depth,
    )


def fit_tail(nonzero: np.ndarray, options: AnalysisOptions) -> tuple[PowerLawFit | None, str]:
    """The power-law fit of the non-zero eigenvalues, or None and the ``fit-failed: reason`` warning."""
    if nonzero.size < options.min_fit_evals:
        return None, f"fit-failed: {nonzero.size} non-zero eigenvalues (< {options.min_fit_evals})"
    try:
        return fit_power_law(nonzero, min_tail=options.min_tail), ""
    except ValueError as exc:
        return None, f"fit-failed: {exc}"


def depth_columns(spectrum: Spectrum, stack: np.ndarray, fit: PowerLawFit | None,
                  options: AnalysisOptions = AnalysisOptions()) -> dict[str, object]:  # fmt: skip
    """:func:`depth_metrics` at ``options.depth_tw_level`` with NaN flags turned into None (a nullable
    boolean column) and a phase that could not be classified into an empty string."""
    depth = depth_metrics(spectrum, stack, fit, level=options.depth_tw_level)
    for flag in ("htmp_prefers_mp", "correlation_trap"):
        if not isinstance(depth[flag], bool):
            depth[flag] = None
    for text in ("phase", "phase_reason"):
        if not isinstance(depth[text], str):
            depth[text] = ""
    return depth


def _log10_power_sum(values: np.ndarray, power: float) -> float:
    """log10(sum values^power), computed in log space so that large alphas do not overflow."""
    logs = power * np.log(values)
    top = float(np.max(logs))
    return (top + math.log(float(np.sum(np.exp(logs - top))))) / math.log(10.0)


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else -math.inf
