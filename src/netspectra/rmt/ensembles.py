"""Random matrices with a known answer: the null models and planted signals the labels are calibrated on.

Every function returns an N x M float64 matrix (N >= M) whose spectrum (eigenvalues of W^T W / N) is
known in law:

* :func:`gaussian` — iid N(0, 1): Marchenko–Pastur(beta = M/N, 1) (Marchenko & Pastur 1967);
* :func:`student_t` — iid Student-t with ``df`` degrees of freedom, scaled to variance 1 where it exists:
  MP when df > 4 (finite fourth moment; Bai & Yin 1988), single large entries make outliers below that
  (Auffinger, Ben Arous & Péché 2009);
* :func:`sparse` — a fraction ``density`` of iid N(0, 1) entries, the rest zero, scaled to variance 1: MP
  in the limit, with finite-size edge effects growing as density falls;
* :func:`spiked` — Gaussian noise plus a rank-r signal sum_i x_i sqrt(N) u_i v_i^T of normalised strengths
  x_i: an outlier for each x_i > beta^(1/4) (Benaych-Georges & Nadakuditi, J. Multivar. Anal. 111, 2012);
* :func:`power_law_tail` — U diag(sqrt(N lambda)) V^T with random orthonormal U, V and a spectrum whose
  top ``tail_fraction`` follows a Pareto law of density exponent ``alpha`` above the bulk of a Gaussian
  matrix: a heavy-tailed ESD with tail exponent alpha (Martin & Mahoney, JMLR 22, 2021, §3);
* :func:`mixed_noise` — Gaussian noise whose columns have variances spread uniformly over
  [1 - spread, 1 + spread]: a bulk wider than MP that decays into a short, light tail and no outlier
  (Martin & Mahoney's bulk-decay; the ESD is the free multiplicative convolution of MP with the
  variance profile, Silverstein & Bai 1995);
* :func:`decaying_covariance` — Gaussian rows of covariance diag(exp(-j / scale)): a spectrum that decays
  smoothly over decades, with no gap and no power law (bulk-decay; small alpha, no over-training);
* :func:`isometry` — sqrt(N) times N x M orthonormal columns (QR of a Gaussian matrix):
  every eigenvalue equal to 1, a spectrum narrower than any noise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from netspectra.linalg import orthonormal_basis, symmetric_eigenvalues


def gaussian(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """iid N(0, 1) entries."""
    return rng.standard_normal((n, m))


def student_t(n: int, m: int, df: float, rng: np.random.Generator) -> np.ndarray:
    """iid Student-t(df) entries, divided by their standard deviation sqrt(df / (df - 2)) when df > 2."""
    scale = np.sqrt(df / (df - 2.0)) if df > 2.0 else 1.0
    return rng.standard_t(df, (n, m)) / scale


def sparse(n: int, m: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli(density) times N(0, 1 / density): variance 1, a fraction 1 - density of exact zeros."""
    return rng.standard_normal((n, m)) * (rng.random((n, m)) < density) / np.sqrt(density)


def planted_signal(n: int, m: int, strengths: ArrayLike, rng: np.random.Generator, sigma: float = 1.0) -> np.ndarray:
    """sum_i x_i sigma sqrt(N) u_i v_i^T with orthonormal u_i (N-dim), v_i (M-dim) drawn uniformly (QR)."""
    x = np.asarray(strengths, dtype=np.float64)
    if not 0 < m <= n or x.size > m:
        raise ValueError(f"need N >= M >= rank, got {n} x {m} with rank {x.size}")
    u = orthonormal_basis(rng.standard_normal((n, x.size)))
    v = orthonormal_basis(rng.standard_normal((m, x.size)))
    return (u * (x * sigma * np.sqrt(n))) @ v.T


def spiked(n: int, m: int, strengths: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise plus :func:`planted_signal` of the given normalised strengths."""
    return planted_signal(n, m, strengths, rng) + rng.standard_normal((n, m))


def power_law_tail(n: int, m: int, alpha: float, rng: np.random.Generator, *, tail_fraction: float = 0.1) -> np.ndarray:
    """A matrix whose top ``tail_fraction`` of eigenvalues of W^T W / N follow a power law of exponent alpha.

    The bulk is the spectrum of an N x M Gaussian matrix; its largest value is the tail's xmin, and the
    tail eigenvalues are xmin (1 - u)^(-1 / (alpha - 1)), u uniform: the density above xmin is
    proportional to lambda^(-alpha), what the power-law fit estimates.
    """
    return _with_tail(n, m, rng, tail_fraction, lambda xmin, u: xmin * (1.0 - u) ** (-1.0 / (alpha - 1.0)))


def mixed_noise(n: int, m: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with column j scaled to variance d_j, d_j uniform on [1 - spread, 1 + spread]."""
    return rng.standard_normal((n, m)) * np.sqrt(rng.uniform(1.0 - spread, 1.0 + spread, m))


def decaying_covariance(n: int, m: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with column j scaled to variance exp(-j / scale), j = 0..M-1."""
    return rng.standard_normal((n, m)) * np.exp(-np.arange(m) / (2.0 * scale))


def isometry(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """sqrt(N) Q, Q the N x M orthonormal columns of the QR decomposition of a Gaussian matrix (square: orthogonal)."""
    return orthonormal_basis(rng.standard_normal((n, m))) * np.sqrt(n)


def _with_tail(
    n: int, m: int, rng: np.random.Generator, tail_fraction: float, quantile: Callable[[float, np.ndarray], np.ndarray]
) -> np.ndarray:
    """U diag(sqrt(N lambda)) V^T: the bottom of a Gaussian matrix's spectrum and the top ``tail_fraction``
    drawn by ``quantile(xmin, u)`` from uniform u, xmin the bulk's largest eigenvalue."""
    k = max(1, int(round(tail_fraction * m)))
    g = rng.standard_normal((n, m))
    bulk = symmetric_eigenvalues(g.T @ g / n)[: m - k]
    spectrum = np.concatenate([bulk, quantile(float(bulk[-1]), rng.random(k))])
    u = orthonormal_basis(rng.standard_normal((n, m)))
    v = orthonormal_basis(rng.standard_normal((m, m)))
    return (u * np.sqrt(n * spectrum)) @ v.T
