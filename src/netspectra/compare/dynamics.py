"""The quantities tracked per layer over training (Aarts, Hajizadeh, Lucini & Park, arXiv 2411.13512).

From a layer's eigenvalues (of W^T W / N, W is N x M with N >= M), with no new decomposition:

* ``alpha``: power-law tail exponent (the layer row's ``alpha``);
* ``sigma2``, ``area``: width sigma^2 and area A of the Marchenko–Pastur bulk fitted by
  :func:`netspectra.rmt.mp_bulk.fit_mp_bulk` (A = share of the trace inside the bulk); SGD acting as
  Dyson Brownian motion widens the bulk (sigma^2 grows) while spectral weight moves into a tail;
* ``tail_weight``: 1 - A, the share of the trace outside the bulk (0 up to fluctuations at a Gaussian
  initialisation);
* ``num_spikes``: eigenvalues above the Tracy–Widom edge (the layer row's ``num_spikes``);
* ``spacing_ratio``: mean ratio <r> of consecutive level spacings in the bulk
  (:func:`netspectra.rmt.spacing.level_spacing`; GOE 0.5307, Poisson 0.3863).  NaN for a conv
  kernel (its pooled spectra are a superposition with Poisson-like statistics) and for fewer than 10
  bulk levels.

A layer without a spectrum, with fewer than ``min_evals`` eigenvalues (default 20, the fewest the
power-law fit accepts: a 10-class head's 10 eigenvalues say nothing about a bulk), or whose bulk fit
fails, gets NaN for the bulk quantities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from netspectra.diagnose.row import LayerReport
from netspectra.rmt.mp_bulk import fit_mp_bulk
from netspectra.rmt.spacing import level_spacing
from netspectra.tabular import TableRow

#: The tracked quantities, in column order.
TRACKED_METRICS = ("alpha", "sigma2", "area", "tail_weight", "num_spikes", "spacing_ratio")


@dataclass(frozen=True)
class TrackPoint(TableRow):
    """The tracked quantities of one layer at one step (a row of the long-format track table)."""

    step: int
    layer: str
    layer_index: int
    N: int
    M: int
    alpha: float
    sigma2: float
    area: float
    tail_weight: float
    num_spikes: int
    spacing_ratio: float


def track_point(layer: LayerReport, step: int, *, level: float = 0.95, min_evals: int = 20) -> TrackPoint:
    """The tracked quantities of one analyzed layer.

    Parameters
    ----------
    layer : LayerReport
        A layer row with its eigenvalues (of W^T W / N).
    step : int
        Training step the row belongs to.
    level : float
        Tracy–Widom quantile of the bulk edge (the ``tw_level`` the layer was analyzed with).
    min_evals : int
        Fewest eigenvalues for the bulk quantities (the ``min_fit_evals`` the layer was analyzed with).
    """
    sigma2 = area = spacing = math.nan
    evals = layer.eigenvalues
    if evals is not None and evals.size >= min_evals:
        try:
            bulk = fit_mp_bulk(evals, layer.N, layer.M, level=level)
            sigma2, area = bulk.sigma2, bulk.area
        except ValueError:
            pass  # no MP bulk (e.g. most eigenvalues zero): the bulk quantities stay NaN
        if layer.num_matrices == 1 and math.isfinite(sigma2):
            try:
                spacing = level_spacing(evals, layer.N, layer.M, sigma2, level=level).mean_ratio
            except ValueError:
                pass  # fewer than 10 bulk levels
    return TrackPoint(
        step=step,
        layer=layer.name,
        layer_index=layer.layer_index,
        N=layer.N,
        M=layer.M,
        alpha=layer.alpha,
        sigma2=sigma2,
        area=area,
        tail_weight=1.0 - area,
        num_spikes=layer.num_spikes,
        spacing_ratio=spacing,
    )
