"""Spectral-density estimates and their distance to an exact ESD (Wasserstein-1, Kolmogorov–Smirnov).

Convention: the eigenvalues are those of X = W^T W / N (W is N x M, N >= M).

Two representations: a discrete measure sum_j w_j delta(x - theta_j) (stochastic Lanczos quadrature,
or the ESD itself: weights 1/M at the eigenvalues) and a density tabulated on a grid (free
decompression).  Errors are measured on cumulative distribution functions (Chen, Trogdon & Ubaru,
ICML 2021): W1(F, G) = integral |F(x) - G(x)| dx and KS(F, G) = sup_x |F(x) - G(x)|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class DiscreteDensity:
    """A probability measure sum_j weights_j delta(x - nodes_j), nodes ascending, weights summing to 1."""

    nodes: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_eigenvalues(cls, eigenvalues: ArrayLike) -> DiscreteDensity:
        """The empirical spectral distribution: weight 1/M at each of the M eigenvalues."""
        x = np.sort(np.asarray(eigenvalues, dtype=np.float64))
        return cls(nodes=x, weights=np.full(x.size, 1.0 / x.size))

    def cdf(self, x: ArrayLike) -> np.ndarray:
        """F(x) = sum of the weights of nodes <= x (right-continuous)."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.weights)])
        return cumulative[np.searchsorted(self.nodes, np.asarray(x, dtype=np.float64), side="right")]

    def quantile(self, p: float) -> float:
        """Smallest node x with F(x) >= p."""
        index = int(np.searchsorted(np.cumsum(self.weights), p, side="left"))
        return float(self.nodes[min(index, self.nodes.size - 1)])


@dataclass(frozen=True)
class GridDensity:
    """A density tabulated at ascending points ``x``; its CDF integrates it by the trapezoid rule."""

    x: np.ndarray
    density: np.ndarray

    @property
    def mass(self) -> float:
        """Integral of the tabulated density (1 for an exact, fully covered density)."""
        return float(self.cdf(self.x[-1]))

    def cdf(self, x: ArrayLike) -> np.ndarray:
        """F(x) = integral of the density from x[0] to x (0 before the grid, the mass after it)."""
        steps = np.diff(self.x) * (self.density[1:] + self.density[:-1]) / 2.0
        cumulative = np.concatenate([[0.0], np.cumsum(steps)])
        return np.interp(np.asarray(x, dtype=np.float64), self.x, cumulative, left=0.0, right=cumulative[-1])


def cdf_distances(estimate: DiscreteDensity | GridDensity, exact: DiscreteDensity, points: int = 20001) -> tuple[float, float]:
    """(W1, KS) between the CDF of ``estimate`` and that of the exact ESD ``exact``.

    Both CDFs are evaluated on a fine grid over the union of the two supports, refined with every node
    of the discrete measures, so that W1 = integral |F - G| dx is exact between nodes for step functions
    and a Riemann sum of step ``width/points`` otherwise; KS is the largest difference at those points.
    """
    support = [exact.nodes]
    if isinstance(estimate, DiscreteDensity):
        support.append(estimate.nodes)
    else:
        support.append(estimate.x)
    lo = min(float(s[0]) for s in support)
    hi = max(float(s[-1]) for s in support)
    grid = np.unique(np.concatenate([np.linspace(lo, hi, points), *support]))
    diff = np.abs(estimate.cdf(grid) - exact.cdf(grid))
    w1 = float(np.sum(diff[:-1] * np.diff(grid)))
    return w1, float(np.max(diff))
