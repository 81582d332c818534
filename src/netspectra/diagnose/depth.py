"""Per-layer "RMT depth" columns: spikes, HTMP, level spacing, tail tests, MP bulk, correlation traps, phase.

:func:`depth_metrics` returns one flat dict per layer.  Eigenvalues are those of X = W^T W / N for each
N x M matrix (N >= M, beta = gamma = M/N, Q = N/M), pooled over a stack of k matrices.  "TW edge" is
tau = sigma^2 [(sqrt(N') + sqrt(M'))^2 + q (sqrt(N') + sqrt(M'))(1/sqrt(N') + 1/sqrt(M'))^(1/3)] / N,
N' = N - 1/2, M' = M - 1/2, q the TW1 quantile at ``AnalysisOptions.depth_tw_level`` (0.99: 2.0234;
Johnstone 2001; Ma 2012), with sigma^2 = ``mp_width``.
A value that cannot be computed is NaN; no column ever raises.  A tail-only spectrum (top-K window,
``Spectrum.complete`` False) gets only the tail tests and the correlation-trap flag and ratio.
Column table (Markdown, for the README):

| column | formula | reference |
|---|---|---|
| `spike_strength_max` | x_hat of the largest eigenvalue above the TW edge: x(y) = sqrt([(y^2 - beta - 1) + sqrt((y^2 - beta - 1)^2 - 4 beta)] / 2), y^2 = lambda_max / sigma^2; NaN without spikes | Benaych-Georges & Nadakuditi, J. Multivar. Anal. 111 (2012) |
| `spike_cos2_left_max` | predicted <u_hat, u>^2 = (x^4 - beta) / (x^2 (x^2 + 1)) at that x (N-dim singular vector) | same |
| `spike_cos2_right_max` | predicted <v_hat, v>^2 = (x^4 - beta) / (x^2 (x^2 + beta)) at that x (M-dim, eigenvector of W^T W) | same |
| `kappa_htmp` | maximum-likelihood kappa of lambda = c / s, s ~ HTMP(gamma, kappa), capped at 200; inf when MP wins by AIC; NaN for gamma = 1 and for layers with > 10% numerically zero eigenvalues | Hodgkinson, Wang & Mahoney, arXiv 2506.03470 (ICML 2025) |
| `alpha_htmp` | 1 + kappa (Q - 1) / 2, the tail exponent of that model | same |
| `htmp_prefers_mp` | loglik_HTMP - loglik_MP <= 1 (bool), MP smoothed by N(0, s_N^2) at its edges; NaN without an HTMP fit | same; Akaike (1974) |
| `spacing_ratio` | <r>, r_n = min(s_n, s_{n-1}) / max(s_n, s_{n-1}), over the middle 80% of the bulk (lambda <= TW edge); GOE 0.5307, Poisson 0.3863; NaN for stacks (pooled spectra superpose) | Oganesyan & Huse, PRB 75 (2007); Atas et al., PRL 110 (2013) |
| `ks_goe` | KS distance of the bulk spacings (middle 80%, unfolded by the fitted MP CDF, xi = n F_MP(lambda; beta, sigma^2)) to the Wigner surmise 1 - exp(-pi s^2 / 4) | Mehta, Random Matrices (2004); Aarts et al., arXiv 2411.13512 |
| `ks_poisson` | KS distance of the same spacings to 1 - exp(-s) | same |
| `lr_exponential` | R / sqrt(n var), R = sum_i (log p_PL(x_i) - log p_exp(x_i)) on x >= xmin; > 0 favours the power law | Clauset, Shalizi & Newman, SIAM Rev. 51 (2009) §5 |
| `p_exponential` | erfc(abs(R) / sqrt(2 n var)) | same |
| `lr_lognormal` | as `lr_exponential` against a log-normal truncated at xmin (ML fit) | same |
| `p_lognormal` | erfc(abs(R) / sqrt(2 n var)) | same |
| `lr_truncated_pl` | as `lr_exponential` against x^-alpha e^(-lambda x) on x >= xmin, which nests the power law | same |
| `p_truncated_pl` | chi^2_1 survival function of 2 abs(R) | same |
| `mp_width` | sigma^2 = median{lambda <= tau(sigma_0^2)} / mu_beta, sigma_0^2 = median(lambda) / mu_beta, mu_beta the MP(beta, 1) median | Gavish & Donoho, IEEE TIT 60 (2014); Aarts et al., arXiv 2411.13512 |
| `mp_area` | A = sum_{lambda <= tau} lambda / sum lambda, the spectral weight inside the MP bulk | Aarts et al., arXiv 2411.13512 |
| `tail_weight` | 1 - A, the spectral weight moved out of the bulk | same |
| `ks_bulk_mp` | KS distance of the bulk eigenvalues to MP(beta, sigma^2) truncated at tau | Marchenko & Pastur (1967) |
| `p_bulk_mp` | iid one-sample KS p-value of `ks_bulk_mp` (conservative: eigenvalues are rigid, sigma^2 is fitted) | Kolmogorov (1933) |
| `trap_distance` | KS distance between the ESD and MP(beta, var(W)), the limiting ESD of W with its entries shuffled | Martin & Mahoney, JMLR 22 (2021) §5 |
| `trap_lambda_ratio` | lambda_max(W_s^T W_s / N) / (var(W) (1 + sqrt(beta))^2), W_s the shuffled centred matrix (Lanczos) | same |
| `correlation_trap` | lambda_max(W_s^T W_s / N) > TW edge of MP(beta, var(W)) (bool) | same |
| `phase` | random-like, bleeding-out, bulk+spikes, bulk-decay, heavy-tailed or rank-collapse (rule in diagnose/phase.py) | Martin & Mahoney, JMLR 22 (2021); rmt_algorithms.md §4 |
| `phase_reason` | the evidence for `phase`, one sentence | same |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from scipy.sparse.linalg import ArpackError

from netspectra.diagnose.phase import classify_phase
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
_FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError, ArpackError)

#: Column order of :func:`depth_metrics`.
COLUMNS = (
    "spike_strength_max",
    "spike_cos2_left_max",
    "spike_cos2_right_max",
    "kappa_htmp",
    "alpha_htmp",
    "htmp_prefers_mp",
    "spacing_ratio",
    "ks_goe",
    "ks_poisson",
    "lr_exponential",
    "p_exponential",
    "lr_lognormal",
    "p_lognormal",
    "lr_truncated_pl",
    "p_truncated_pl",
    "mp_width",
    "mp_area",
    "tail_weight",
    "ks_bulk_mp",
    "p_bulk_mp",
    "trap_distance",
    "trap_lambda_ratio",
    "correlation_trap",
    "phase",
    "phase_reason",
)


def depth_metrics(
    spectrum: Spectrum, stack: np.ndarray, fit: PowerLawFit | None, *, level: float = 0.99, seed: int = 0
) -> dict[str, object]:
    """The depth columns of one layer (see the module table), NaN where a quantity cannot be computed.

    Parameters
    ----------
    spectrum : Spectrum
        Eigenvalues of W^T W / N of the layer (pooled over its k matrices).
    stack : ndarray, shape (k, N, M)
        The float64 matrices behind ``spectrum`` (used only for the correlation-trap shuffle).
    fit : PowerLawFit or None
        The layer's power-law fit of the non-zero eigenvalues (None when it failed).
    level : float
        Tracy–Widom quantile of the bulk edge tau (:attr:`AnalysisOptions.depth_tw_level`).
    seed : int
        Seed of the correlation-trap permutation.

    Returns
    -------
    dict
        Keys :data:`COLUMNS`, values float, bool or str scalars.  For a tail-only spectrum
        (``spectrum.complete`` False) only the tail tests, ``trap_lambda_ratio`` and
        ``correlation_trap`` are computed.  The CSN bootstrap is not run here.
    """
    out: dict[str, object] = {name: math.nan for name in COLUMNS}
    evals = spectrum.eigenvalues
    n, m = spectrum.n, spectrum.m
    nonzero = evals[evals > spectrum.zero_tolerance]
    tail = _attempt(lambda: compare_tail(nonzero, fit.xmin, fit.alpha)) if fit else None
    if tail is not None:
        out.update(_tail_columns(tail))
    if not spectrum.complete:  # a tail-only window: nothing that needs the bulk
        out.update(_trap_columns(stack, None, seed, level))
        return {name: _plain(value) for name, value in out.items()}
    bulk = _attempt(lambda: fit_mp_bulk(evals, n, m, level=level))
    if bulk is not None:
        out.update(_bulk_columns(bulk))
        out.update(_spike_columns(evals, n, m, bulk.sigma2, level))
        if spectrum.num_matrices == 1:
            out.update(_spacing_columns(evals, n, m, bulk.sigma2, level))
    if not rank_collapsed(spectrum):
        out.update(_htmp_columns(nonzero, n, m, fit))
    out.update(_trap_columns(stack, evals, seed, level))
    phase = _attempt(lambda: classify_phase(spectrum, fit, bulk=bulk, tail=tail, level=level))
    if phase is not None:
        out["phase"], out["phase_reason"] = phase.phase, phase.reason
    return {name: _plain(value) for name, value in out.items()}


def _plain(value: object) -> object:
    """NumPy scalars as Python float / bool, so that every writer sees the same types."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _attempt(compute: Callable[[], T]) -> T | None:
    """``compute()``, or None when it raises one of the expected fit failures."""
    try:
        return compute()
    except _FIT_ERRORS:
        return None


def _bulk_columns(bulk: MPBulkFit) -> dict[str, object]:
    return {
        "mp_width": bulk.sigma2,
        "mp_area": bulk.area,
        "tail_weight": bulk.tail_weight,
        "ks_bulk_mp": bulk.ks_distance,
        "p_bulk_mp": bulk.ks_pvalue,
    }


def _spike_columns(evals: np.ndarray, n: int, m: int, sigma2: float, level: float) -> dict[str, object]:
    spikes = spike_estimates(evals, n, m, sigma2, level)
    if spikes.num_spikes == 0:
        return {}
    return {
        "spike_strength_max": float(spikes.strengths[0]),
        "spike_cos2_left_max": float(spikes.cos2_left[0]),
        "spike_cos2_right_max": float(spikes.cos2_right[0]),
    }


def _spacing_columns(evals: np.ndarray, n: int, m: int, sigma2: float, level: float) -> dict[str, object]:
    stats = _attempt(lambda: level_spacing(evals, n, m, sigma2, level=level))
    if stats is None:
        return {}
    return {"spacing_ratio": stats.mean_ratio, "ks_goe": stats.ks_goe, "ks_poisson": stats.ks_poisson}


def _tail_columns(tail: TailComparison) -> dict[str, object]:
    return {
        "lr_exponential": tail.exponential.ratio,
        "p_exponential": tail.exponential.p_value,
        "lr_lognormal": tail.lognormal.ratio,
        "p_lognormal": tail.lognormal.p_value,
        "lr_truncated_pl": tail.truncated_power_law.ratio,
        "p_truncated_pl": tail.truncated_power_law.p_value,
    }


def _htmp_columns(nonzero: np.ndarray, n: int, m: int, fit: PowerLawFit | None) -> dict[str, object]:
    if max(n, m) == min(n, m):
        return {}
    result = _attempt(lambda: fit_htmp(nonzero, n, m, alpha=fit.alpha if fit else None))
    if result is None:
        return {}
    return {"kappa_htmp": result.kappa, "alpha_htmp": result.alpha_htmp, "htmp_prefers_mp": result.prefers_mp}


def _trap_columns(stack: np.ndarray, evals: np.ndarray | None, seed: int, level: float) -> dict[str, object]:
    trap = _attempt(lambda: correlation_trap(stack, evals, seed=seed, level=level))
    if trap is None:
        return {}
    return {
        "trap_distance": trap.ks_distance,
        "trap_lambda_ratio": trap.lambda_max_ratio,
        "correlation_trap": trap.is_trap,
    }
