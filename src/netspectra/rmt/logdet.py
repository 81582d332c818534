"""The log-determinant of X = W^T W / N and the "det X = 1" condition of the tail (SETOL; WeightWatcher).

* log det X = sum_i ln lambda_i over the eigenvalues above the zero tolerance (the rank-deficient part,
  counted by ``rank_loss``, is left out: its logarithm is -inf).  Where only the top eigenvalues are
  computed (``--tail-only``), stochastic Lanczos quadrature estimates it: tr ln X = M E_v[v^T ln(X) v]
  by the Gauss rules of Rademacher probes (Ubaru, Chen & Saad, SIMAX 38(4), 2017), with an error
  estimate from the Gauss–Radau bracket and the spread over the probes, or NaN and the reason where the
  Lanczos run cannot separate the bottom of the spectrum from 0 (:func:`slq_log_determinant`).
* det X = 1 condition (Martin & Hinrichs, SETOL, 2025; WeightWatcher's ``detX_constraint``): with the
  eigenvalues rescaled to mean 1 (lambda~ = M lambda / sum lambda), the tail is the k largest, k the
  first count at which their product drops below 1, i.e. sum_{i <= k} ln lambda~_(i) < 0 over the
  eigenvalues in decreasing order.  ``detx_num`` = k and ``detx_val`` the k-th largest eigenvalue (in
  the units of X).  The theory predicts that an ideally trained layer's power-law xmin sits at
  ``detx_val``; ``detx_num - num_tail`` is WeightWatcher's ERG gap.  Sums of logarithms replace the
  product, which overflows for long tails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from netspectra.linalg.slq import Tridiagonal, gauss_radau_rule, gauss_rule, lanczos_tridiagonals, smallest_ritz_bound

#: SLQ probes and Lanczos steps of the tail-only log det (measured: an error of 0.4-4.7% of sum |ln lambda|
#: on Gaussian and Student-t(3) matrices of 400..1100 columns, at 30-65% of the time of the top-64
#: Lanczos of the same matrix; docs/act.md).
SLQ_PROBES, SLQ_STEPS = 8, 32
#: Standard errors over the probes in the ``log_det_error`` of an SLQ estimate (measured coverage: docs/act.md).
ERROR_SE = 2.0


def log_determinant(eigenvalues: np.ndarray, zero_tolerance: float = 0.0) -> float:
    """sum ln(lambda) over the eigenvalues above ``zero_tolerance``; NaN when there is none."""
    values = np.asarray(eigenvalues, dtype=np.float64)
    values = values[values > zero_tolerance]
    return float(np.sum(np.log(values))) if values.size else math.nan


def detx_condition(eigenvalues: np.ndarray) -> tuple[int, float]:
    """(k, lambda_(k)): the fewest largest eigenvalues whose rescaled product is below 1 (module docstring).

    Returns ``(0, nan)`` for fewer than two eigenvalues or a zero trace; ``(M, smallest)`` if the product
    of all never drops below 1 (it always does when an eigenvalue is 0).
    """
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    total = float(values.sum())
    if values.size < 2 or not total > 0:
        return 0, math.nan
    with np.errstate(divide="ignore"):
        logs = np.log(values * (values.size / total))
    below = np.flatnonzero(np.cumsum(logs) < 0.0)
    k = int(below[0]) + 1 if below.size else int(values.size)
    return k, float(values[k - 1])


@dataclass(frozen=True)
class LogDetEstimate:
    """An estimate of log det X: ``value``, its estimated ``error`` (0 for an exact sum) and, when ``value`` is
    NaN, the ``reason`` it cannot be known."""

    value: float
    error: float
    reason: str = ""


def slq_log_determinant(stack: np.ndarray, probes: int = SLQ_PROBES, steps: int = SLQ_STEPS, seed: int = 0) -> LogDetEstimate:
    """SLQ estimate of sum over the (k, N, M) stack of log det(W^T W / N), with an error estimate, or NaN.

    For each probe v the Gauss rule of its Lanczos run gives an upper bound G_v of v^T ln(X) v and the
    Gauss–Radau rule with a node at a lower bound a of lambda_min a lower bound R_v
    (:func:`~netspectra.linalg.slq.gauss_radau_rule`; ln has f^(2m) < 0 < f^(2m+1)).  The estimate is
    M mean_v G_v (Hutchinson's trace estimator, unbiased over Rademacher probes, of the Gauss sums); its
    ``error`` is the quadrature bracket M mean_v (G_v - R_v) plus :data:`ERROR_SE` standard errors of the
    mean over the probes, M sd_v(G_v) / sqrt(n_v) (measured coverage: docs/act.md).

    a is the smallest Ritz value less its residual (:func:`~netspectra.linalg.slq.smallest_ritz_bound`),
    over the probes.  When it is not above the numerical zero (10 M eps theta_max), the Lanczos run has
    not separated the bottom of the spectrum from 0: the matrix may be rank-deficient (its log det over
    the non-zero eigenvalues needs to know which are zero) or have eigenvalues so small that their
    logarithms decide the sum, and the top-K window cannot tell which: the value is NaN and ``reason``
    says why.
    """
    value, bracket, variance = 0.0, 0.0, 0.0
    for w in np.asarray(stack, dtype=np.float64):
        m = w.shape[1]
        runs = lanczos_tridiagonals(w, probes=probes, steps=steps, seed=seed)
        rules = [gauss_rule(t) for t in runs]
        top = max(float(nodes[-1]) for nodes, _ in rules)
        lower = min(smallest_ritz_bound(t) for t in runs)
        if not lower > 10.0 * m * np.finfo(np.float64).eps * top:
            smallest = min(float(nodes[0]) for nodes, _ in rules)
            return LogDetEstimate(
                math.nan,
                math.nan,
                f"log det unknown from the top window: the bottom of the spectrum is not separated from 0 after "
                f"{steps} Lanczos steps (smallest Ritz value {smallest:.3g}, lower bound {lower:.3g}): zero or tiny "
                "eigenvalues decide the sum; the exact value needs the whole spectrum (no --tail-only)",
            )
        gauss = np.array([np.sum(weights * np.log(nodes)) for nodes, weights in rules])
        radau = np.array([_radau_log(t, lower) for t in runs])
        value += m * float(np.mean(gauss))
        bracket += m * float(np.mean(gauss - radau))
        variance += (m * float(np.std(gauss, ddof=1))) ** 2 / gauss.size if gauss.size > 1 else math.inf
    return LogDetEstimate(value, bracket + ERROR_SE * math.sqrt(variance))


def _radau_log(t: Tridiagonal, a: float) -> float:
    nodes, weights = gauss_radau_rule(t, a)
    return float(np.sum(weights * np.log(np.maximum(nodes, a))))
