"""The log-determinant of X = W^T W / N and the "det X = 1" condition of the tail (SETOL; WeightWatcher).

* log det X = sum_i ln lambda_i over the eigenvalues above the zero tolerance (the rank-deficient part,
  counted by ``rank_loss``, is left out: its logarithm is -inf).  Where only the top eigenvalues are
  computed (``--tail-only``), stochastic Lanczos quadrature estimates it: tr ln X = M E_v[v^T ln(X) v]
  by the Gauss rules of Rademacher probes (Ubaru, Chen & Saad, SIMAX 38(4), 2017).
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

import numpy as np

from netspectra.linalg.slq import slq_density

#: SLQ probes and Lanczos steps of the tail-only log det (measured: an error of 0.4-4.7% of sum |ln lambda|
#: on Gaussian and Student-t(3) matrices of 400..1100 columns, at 30-65% of the time of the top-64
#: Lanczos of the same matrix; docs/act.md).
SLQ_PROBES, SLQ_STEPS = 8, 32


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


def slq_log_determinant(stack: np.ndarray, probes: int = SLQ_PROBES, steps: int = SLQ_STEPS, seed: int = 0) -> float:
    """SLQ estimate of sum over the (k, N, M) stack of log det(W^T W / N); NaN when a Gauss node is not
    positive (a rank-deficient matrix: its log det is -inf, and the estimate would be meaningless)."""
    total = 0.0
    for w in np.asarray(stack, dtype=np.float64):
        density = slq_density(w, probes=probes, steps=steps, seed=seed)
        if density.nodes.size == 0 or density.nodes[0] <= 0:
            return math.nan
        total += w.shape[1] * float(np.sum(density.weights * np.log(density.nodes)))
    return total
