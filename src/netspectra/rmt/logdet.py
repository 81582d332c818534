"""The log-determinant of X = W^T W / N and the "det X = 1" condition of the tail (SETOL; WeightWatcher).

* log det X = sum_i ln lambda_i over the eigenvalues above the zero tolerance (the rank-deficient part,
  counted by ``rank_loss``, is left out: its logarithm is -inf).
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
