"""The SGD noise temperature of a run: how much each layer's top eigenvalues fluctuate over its late checkpoints.

Stochastic gradient descent moves a weight matrix W by a drift (the mean gradient) plus a noise whose
variance is set by the learning rate eta and the batch size B.  The eigenvalues x_i of X = W^T W then follow
a Dyson Brownian motion, and near a fixed point x_i^s of the drift (a stationary state) their distribution
is Gaussian with variance

    sigma_i^2 = (eta / B) g_i^2 / Omega_i,

linear in eta / B, with g_i^2 the per-example gradient variance along the mode and Omega_i the curvature of
its potential (Aarts, Hajizadeh, Lucini & Park, arXiv 2411.13512; Aarts, Lucini & Park, PRE 111, 015303
(2025)): the learning rate over the batch size acts as a temperature.

Measured here, per layer, on the eigenvalues lambda_i of W^T W / N at the last ``late`` fraction of the
checkpoints (steps t_1 < ... < t_T, T >= ``MIN_LATE_CHECKPOINTS``): each of the ``top`` largest eigenvalues
(by rank: the largest, the second largest, ...) is detrended by a least-squares line in the step,
lambda_i(t) = a_i + b_i t + r_i(t), and

    v_i = sum_t r_i(t)^2 / (T - 2),    variance = mean_i v_i,    relative_variance = mean_i v_i / mean_t(lambda_i)^2.

The line removes a slow drift (a run still converging); what remains is the stationary fluctuation when the
run has reached one.  ``autocorrelation`` is the mean lag-1 autocorrelation of the r_i: near 1 the
checkpoints are closer together than the fluctuation's correlation time (the variance is then
underestimated, and a drift that is not linear is counted as fluctuation).  The top eigenvalues are used
because they are the learned modes, which have a restoring drift; an eigenvalue of the random bulk in a flat
direction has none and random-walks.  Tested on a planted matrix Ornstein–Uhlenbeck process (entries
x -> (1 - a) x + s xi), whose stationary entry variance s^2 / (1 - (1 - a)^2) gives the top eigenvalues'
variance 4 lambda_i s^2 / (N (1 - (1 - a)^2)) to first order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.errors import UsageError
from netspectra.tabular import RowsTable, TableRow

if TYPE_CHECKING:
    from netspectra.compare.track import Trajectory
    from netspectra.diagnose.row import LayerReport

#: Top eigenvalues a trajectory keeps per layer and step (for :func:`noise_temperature`).
TOP_KEPT = 32
#: Default number of top eigenvalues whose fluctuations are measured.
DEFAULT_TOP = 8
#: Default share of the checkpoints (the last ones) read as the stationary part of the run.
DEFAULT_LATE = 0.5
#: Fewest late checkpoints: a line takes two degrees of freedom, the variance needs two more.
MIN_LATE_CHECKPOINTS = 4


def top_eigenvalues(layer: LayerReport, count: int = TOP_KEPT) -> np.ndarray:
    """The ``count`` largest eigenvalues of W^T W / N of an analyzed layer, descending (empty without them)."""
    if layer.eigenvalues is None:
        return np.empty(0)
    return np.sort(np.asarray(layer.eigenvalues, dtype=np.float64))[::-1][:count].copy()


@dataclass(frozen=True)
class Fluctuation:
    """Detrended fluctuation of a (T, k) series of eigenvalues (module docstring)."""

    variance: float
    relative_variance: float
    autocorrelation: float


def fluctuation(steps: Sequence[float], eigenvalues: np.ndarray) -> Fluctuation:
    """Mean detrended variance of each column of ``eigenvalues`` (T steps x k eigenvalues) over ``steps``.

    Parameters
    ----------
    steps : sequence of T numbers
        The training steps, strictly increasing.
    eigenvalues : array (T, k)
        Column i: the i-th largest eigenvalue of W^T W / N at each step.

    Returns
    -------
    Fluctuation
        ``variance`` = mean_i v_i, v_i the residual variance (T - 2 degrees of freedom) of column i about its
        least-squares line in the step; ``relative_variance`` = mean_i v_i / mean(column i)^2;
        ``autocorrelation`` = mean lag-1 autocorrelation of the residuals (NaN where a column is constant).
    """
    t = np.asarray(steps, dtype=np.float64)
    x = np.asarray(eigenvalues, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != t.size or t.size < MIN_LATE_CHECKPOINTS:
        raise ValueError(f"need (T >= {MIN_LATE_CHECKPOINTS}, k) eigenvalues for T steps, got {x.shape} for {t.size}")
    centred = t - t.mean()  # orthogonal to the constant: the least-squares line in closed form
    slope = centred @ (x - x.mean(axis=0)) / (centred @ centred)
    residuals = x - x.mean(axis=0) - np.outer(centred, slope)
    per_column = np.sum(residuals**2, axis=0) / (t.size - 2)
    means = x.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = per_column / means**2
        lag1 = np.sum(residuals[1:] * residuals[:-1], axis=0) / np.sum(residuals**2, axis=0)
    finite_lag = lag1[np.isfinite(lag1)]
    return Fluctuation(
        variance=float(per_column.mean()),
        relative_variance=float(np.mean(relative)),
        autocorrelation=float(finite_lag.mean()) if finite_lag.size else math.nan,
    )


@dataclass(frozen=True)
class LayerTemperature(TableRow):
    """The fluctuation of one layer's top eigenvalues over the late checkpoints."""

    layer: str
    N: int
    M: int
    checkpoints: int
    first_step: int
    last_step: int
    top: int
    variance: float
    relative_variance: float
    autocorrelation: float


@dataclass(frozen=True)
class NoiseTemperature(RowsTable):
    """Per layer (``layers``): the eigenvalue fluctuation variance over the late checkpoints of a run."""

    late: float
    top: int
    layers: tuple[LayerTemperature, ...]
    row_type: ClassVar[type] = LayerTemperature

    def to_dict(self) -> dict[str, object]:
        return {"late": self.late, "top": self.top, "layers": self.finite_rows()}


def noise_temperature(trajectory: Trajectory, *, late: float = DEFAULT_LATE, top: int = DEFAULT_TOP) -> NoiseTemperature:
    """Each layer's eigenvalue fluctuation variance over the last ``late`` share of the trajectory's steps.

    Raises
    ------
    UsageError
        ``late`` outside (0, 1], ``top`` < 1, or fewer than ``MIN_LATE_CHECKPOINTS`` late checkpoints.
    """
    if not 0.0 < late <= 1.0:
        raise UsageError(f"late must lie in (0, 1], got {late}")
    if top < 1:
        raise UsageError(f"top must be a positive number of eigenvalues, got {top}")
    steps = trajectory.steps
    late_steps = steps[len(steps) - math.ceil(late * len(steps)) :]
    if len(late_steps) < MIN_LATE_CHECKPOINTS:
        raise UsageError(
            f"the SGD temperature needs at least {MIN_LATE_CHECKPOINTS} late checkpoints; the last {late:g} of "
            f"{len(steps)} checkpoints is {len(late_steps)}"
        )
    chosen = set(late_steps)
    series: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    shapes: dict[str, tuple[int, int]] = {}
    for point, values in zip(trajectory.points, trajectory.top_eigenvalues):
        if point.step in chosen:
            series[point.layer].append((point.step, values))
            shapes[point.layer] = (point.N, point.M)
    rows = []
    for layer, samples in series.items():
        samples.sort(key=lambda sample: sample[0])
        k = min(top, *(values.size for _, values in samples))
        n, m = shapes[layer]
        if len(samples) >= MIN_LATE_CHECKPOINTS and k >= 1:
            result = fluctuation([s for s, _ in samples], np.stack([values[:k] for _, values in samples]))
        else:
            result = Fluctuation(math.nan, math.nan, math.nan)
        rows.append(
            LayerTemperature(
                layer=layer,
                N=n,
                M=m,
                checkpoints=len(samples),
                first_step=samples[0][0],
                last_step=samples[-1][0],
                top=k,
                variance=result.variance,
                relative_variance=result.relative_variance,
                autocorrelation=result.autocorrelation,
            )
        )
    return NoiseTemperature(late=late, top=top, layers=tuple(rows))
