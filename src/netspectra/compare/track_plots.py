"""PNG figures of a trajectory: one per tracked quantity, against the training step.

Up to ``max_lines`` layers are drawn as one line each; with more layers the figure shows the mean
over layers and a band from the smallest to the largest value.  Drawn with matplotlib's Agg canvas
(no display, no pyplot state); files are written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from netspectra.atomic import atomic_write
from netspectra.compare.dynamics import TRACKED_METRICS
from netspectra.compare.track import Trajectory
from netspectra.report.table import short_name
from netspectra.rmt.spacing import GOE_MEAN_RATIO, POISSON_MEAN_RATIO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Axis label of each tracked quantity.
METRIC_LABELS = {
    "alpha": "power-law exponent α",
    "sigma2": "MP bulk width σ²",
    "area": "MP bulk area A",
    "tail_weight": "tail weight 1 − A",
    "num_spikes": "spikes above the TW edge",
    "spacing_ratio": r"mean spacing ratio $\langle r \rangle$",
}


def plot_trajectory(trajectory: Trajectory, directory: str | Path, *, prefix: str = "track", max_lines: int = 10) -> list[Path]:
    """Write ``<prefix>_<metric>.png`` for every tracked quantity into ``directory``; return the paths."""
    from matplotlib.figure import Figure

    directory = Path(directory)
    frame = trajectory.to_frame()
    written = []
    for metric in TRACKED_METRICS:
        fig = Figure(figsize=(7.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
        draw_metric(ax, frame, metric, max_lines=max_lines)
        path = directory / f"{prefix}_{metric}.png"
        atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=110))
        written.append(path)
    return written


def draw_metric(ax: Axes, frame: pd.DataFrame, metric: str, *, max_lines: int = 10) -> None:
    """Draw one quantity against step on a matplotlib Axes (lines per layer, or mean and range)."""
    wide = frame.pivot_table(index="step", columns="layer_index", values=metric, aggfunc="first").sort_index()
    names = frame.drop_duplicates("layer_index").set_index("layer_index")["layer"]
    if wide.shape[1] <= max_lines:
        for index in wide.columns:
            ax.plot(wide.index, wide[index], marker="o", markersize=3, label=short_name(str(names[index]), 28))
        ax.legend(fontsize=7, loc="best")
    else:
        mean = wide.mean(axis=1)
        ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), alpha=0.25, label="range over layers")
        ax.plot(mean.index, mean, marker="o", markersize=3, label=f"mean over {wide.shape[1]} layers")
        ax.legend(fontsize=8, loc="best")
    if metric == "spacing_ratio":
        ax.axhline(GOE_MEAN_RATIO, color="gray", linestyle="--", linewidth=0.8)
        ax.axhline(POISSON_MEAN_RATIO, color="gray", linestyle=":", linewidth=0.8)
        ax.text(ax.get_xlim()[0], GOE_MEAN_RATIO, " GOE", va="bottom", fontsize=7, color="gray")
        ax.text(ax.get_xlim()[0], POISSON_MEAN_RATIO, " Poisson", va="bottom", fontsize=7, color="gray")
    if metric == "sigma2":
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(METRIC_LABELS[metric])
    ax.grid(alpha=0.3)
