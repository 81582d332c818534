"""The quantities tracked per layer over training (Aarts, Hajizadeh, Lucini & Park, arXiv 2411.13512).

Each is a column of the layer's row, computed once by the analysis (so a trajectory and a report of the
same checkpoint agree; nothing is refitted here):

* ``alpha``: power-law tail exponent (``alpha``);
* ``sigma2``, ``area``: width sigma^2 and area A of the trimmed Marchenko–Pastur bulk fit
  (``mp_width``, ``mp_area``: :func:`netspectra.rmt.mp_bulk.fit_mp_bulk` at ``depth_tw_level``; A = share
  of the trace inside the bulk); SGD acting as Dyson Brownian motion widens the bulk (sigma^2 grows)
  while spectral weight moves into a tail;
* ``tail_weight``: 1 - A, the share of the trace outside the bulk (``tail_weight``; 0 up to fluctuations
  at a Gaussian initialisation);
* ``num_spikes``: eigenvalues above the Tracy–Widom edge at ``tw_level`` (``num_spikes``);
* ``spacing_ratio``: mean ratio <r> of consecutive level spacings in the bulk (``spacing_ratio``:
  :func:`netspectra.rmt.spacing.level_spacing`, unfolded with the MP law where the bulk fits it, by a
  polynomial otherwise; GOE 0.5307, Poisson 0.3863).  NaN for a conv kernel (its pooled spectra are a
  superposition with Poisson-like statistics).

The bulk and spacing columns are RMT-depth columns: NaN for a layer with fewer than ``min_fit_evals``
eigenvalues (a 10-class head's 10 eigenvalues say nothing about a bulk), a layer whose bulk fit fails, or
an analysis run without depth.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from netspectra.diagnose.row import LayerReport
from netspectra.tabular import TableRow

#: The tracked quantities, in column order.
TRACKED_METRICS = ("alpha", "sigma2", "area", "tail_weight", "num_spikes", "spacing_ratio")


@dataclass(frozen=True)
class TrackPoint(TableRow):
    """The tracked quantities of one layer at one step (a row of the long-format track table)."""

    step: int
    checkpoint: str
    layer: str
    layer_index: int
    N: int
    M: int
    alpha: float
    sigma2: float
    area: float
    tail_weight: float
    num_spikes: int | None
    spacing_ratio: float


#: The fields of a point after its step and checkpoint are columns of the layer's row: of the same name but these.
ROW_COLUMNS = {"layer": "name", "sigma2": "mp_width", "area": "mp_area"}


def track_point(layer: LayerReport, step: int, checkpoint: str) -> TrackPoint:
    """The tracked quantities of one analyzed layer of ``checkpoint`` at ``step``: its row's columns (module
    docstring)."""
    columns = {f.name: getattr(layer, ROW_COLUMNS.get(f.name, f.name)) for f in fields(TrackPoint)[2:]}
    return TrackPoint(step=step, checkpoint=checkpoint, **columns)
