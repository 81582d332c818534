"""Planted low-rank signals in noise, with a known answer: the test bed of every threshold.

W = S + E, S = sum_i x_i sigma sqrt(N) u_i v_i^T with orthonormal u_i (N-dim) and v_i (M-dim) drawn
uniformly (QR of Gaussian matrices) and E_ij iid N(0, sigma^2), so that x_i is the normalised strength of
docs/formulas.md#conventions (detectable when x_i > beta^(1/4); Benaych-Georges & Nadakuditi 2012;
docs/formulas.md#spikes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from netspectra.rmt.ensembles import planted_signal


@dataclass(frozen=True)
class PlantedMatrix:
    """``matrix`` = ``signal`` + noise, both N x M (N >= M); ``strengths`` x_i; ``sigma`` the noise std."""

    matrix: np.ndarray
    signal: np.ndarray
    strengths: tuple[float, ...]
    sigma: float


def planted_matrix(n: int, m: int, strengths: ArrayLike, rng: np.random.Generator, sigma: float = 1.0) -> PlantedMatrix:
    """Draw W = S + E with rank(S) = len(strengths) and normalised strengths x_i (see the module docstring)."""
    signal = planted_signal(n, m, strengths, rng, sigma)
    x = np.asarray(strengths, dtype=np.float64)
    return PlantedMatrix(signal + sigma * rng.standard_normal((n, m)), signal, tuple(float(a) for a in x), sigma)
