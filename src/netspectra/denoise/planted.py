"""Planted low-rank signals in noise, with a known answer: the test bed of every threshold.

W = S + E, S = sum_i x_i sigma sqrt(N) u_i v_i^T with orthonormal u_i (N-dim) and v_i (M-dim) drawn
uniformly (QR of Gaussian matrices) and E_ij iid N(0, sigma^2), so that x_i is the normalised strength of
rmt_algorithms.md §1 (detectable when x_i > beta^(1/4); Benaych-Georges & Nadakuditi 2012).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class PlantedMatrix:
    """``matrix`` = ``signal`` + noise, both N x M (N >= M); ``strengths`` x_i; ``sigma`` the noise std."""

    matrix: np.ndarray
    signal: np.ndarray
    strengths: tuple[float, ...]
    sigma: float


def planted_matrix(
    n: int, m: int, strengths: ArrayLike, rng: np.random.Generator, sigma: float = 1.0
) -> PlantedMatrix:
    """Draw W = S + E with rank(S) = len(strengths) and normalised strengths x_i (see the module docstring)."""
    x = np.asarray(strengths, dtype=np.float64)
    if not 0 < m <= n or x.size > m:
        raise ValueError(f"need N >= M >= rank, got {n} x {m} with rank {x.size}")
    u = np.linalg.qr(rng.standard_normal((n, x.size)))[0]
    v = np.linalg.qr(rng.standard_normal((m, x.size)))[0]
    signal = (u * (x * sigma * np.sqrt(n))) @ v.T
    return PlantedMatrix(signal + sigma * rng.standard_normal((n, m)), signal, tuple(float(a) for a in x), sigma)
