"""Render the figures of many layers, in worker processes when there are many, and write plot files.

Drawing a three-panel layer figure costs matplotlib about half a second of CPU, so a model with
hundreds of layers is better rendered by a pool of processes: the analysis's own
:class:`~netspectra.scale.ProcessExecutor` (``spawn``, Ctrl-C ends every worker at once with no
traceback).  ``spawn`` re-imports the caller's main module in each worker: library callers opt in
with ``workers=`` (from a script guarded by ``if __name__ == "__main__":``); the command line uses
:func:`figure_workers`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from matplotlib.figure import Figure

from netspectra.atomic import atomic_write
from netspectra.diagnose.model import ModelReport
from netspectra.diagnose.row import LayerReport
from netspectra.errors import UsageError
from netspectra.report import plots
from netspectra.report.figures import FORMATS, figure_bytes
from netspectra.report.names import display_name
from netspectra.report.svg_figures import alpha_depth_svg, panel_svgs
from netspectra.scale.process_pool import ProcessExecutor
from netspectra.scale.workers import cpu_count

T = TypeVar("T")

#: Below this many layers, figures are drawn in this process (starting workers costs more).
PARALLEL_MIN_LAYERS = 16


def has_spectrum(layer: LayerReport) -> bool:
    """Whether the layer carries eigenvalues to plot (rows loaded from CSV/JSON do not)."""
    return layer.eigenvalues is not None and layer.eigenvalues.size > 0


def layer_png(layer: LayerReport) -> bytes | None:
    """The three-panel figure of one layer (:func:`plots.plot_layer`) as PNG bytes; None without a spectrum."""
    return figure_bytes(plots.plot_layer(layer)) if has_spectrum(layer) else None


def layer_panel_files(layer: LayerReport, fmt: str) -> dict[str, bytes]:
    """Each panel of one layer as ``fmt`` bytes, keyed by panel name; empty without a spectrum.  PNGs are the
    matplotlib figures of :func:`panel_figures`; SVGs the HTML report's panels (:func:`~.svg_figures.panel_svgs`),
    drawn without matplotlib in about a millisecond each."""
    if not has_spectrum(layer):
        return {}
    if fmt == "svg":
        return {panel: text.encode("utf-8") for panel, text in panel_svgs(layer).items()}
    return {panel: figure_bytes(fig, fmt) for panel, fig in panel_figures(layer).items()}


def panel_figures(layer: LayerReport) -> dict[str, Figure]:
    """Each panel of :data:`~.plots.LAYER_PANELS` of one layer as a matplotlib figure of its own, titled by the
    layer's name and the panel's caption on two lines (one line ran off a 4-inch figure)."""
    return {
        panel: draw(layer, title=f"{display_name(layer.name)}\n{caption}")
        for panel, (draw, caption) in plots.LAYER_PANELS.items()
    }


def figure_workers(num_layers: int) -> int:
    """1 below :data:`PARALLEL_MIN_LAYERS` layers, else one per idle CPU (at most 8, at least 8 layers each).

    Idle CPUs are the CPUs this process may use minus the 1-minute load average: on a machine already
    busy, extra processes only add their start-up cost (measured: 40 MiniLM layers took 44 s with 2
    workers and 31 s with 1 on 2 CPUs at load 4-6).
    """
    if num_layers < PARALLEL_MIN_LAYERS:
        return 1
    idle = cpu_count() - (os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0)
    return max(1, min(int(idle + 0.5), 8, num_layers // 8))


def map_layers(func: Callable[[LayerReport], T], layers: Sequence[LayerReport], *, workers: int = 1) -> list[T]:
    """``[func(layer) for layer in layers]``, by a :class:`ProcessExecutor` of ``workers`` processes.

    ``func`` must pickle (a module-level function, or a ``functools.partial`` of one).
    """
    with ProcessExecutor(min(workers, len(layers)) if layers else 1) as pool:
        return list(pool.map(func, layers))


#: Most characters a layer name contributes to a file name (file systems allow 255 bytes in all).
FILENAME_CHARS = 120


def safe_filename(name: str) -> str:
    """A layer name as a file name: characters other than letters, digits, ``.-_`` become ``_``.

    A name longer than :data:`FILENAME_CHARS` keeps its start and gets the first 12 hex digits of its
    SHA-256, so that two long names sharing a prefix still get two files.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.removesuffix(".weight")).strip("._") or "layer"
    if len(stem) <= FILENAME_CHARS:
        return stem
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{stem[: FILENAME_CHARS - 13]}-{digest}"


def write_plots(report: ModelReport, directory: str | Path, fmt: str = "png", *, workers: int = 1) -> list[Path]:
    """Write every figure of ``report`` to ``directory`` (created if missing); return the paths written.

    ``alpha_depth.<fmt>`` (alpha and alpha_weighted by depth) and, for each layer with eigenvalues,
    ``<index>_<name>_{esd,mp,spacing}.<fmt>``: PNGs drawn by matplotlib in ``workers`` processes, SVGs
    those of the HTML report, drawn here (:func:`layer_panel_files`).  Each file is written atomically.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}; use one of {', '.join(FORMATS)}")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: --plots needs a directory, and this is a file")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "svg":  # a millisecond a figure: worker processes would only add their start-up
        overview, workers = alpha_depth_svg(report.layers).encode("utf-8"), 1
    else:
        overview = figure_bytes(plots.plot_alpha_depth(report.to_frame()), fmt)
    files = {f"alpha_depth.{fmt}": overview}
    width = len(str(max((layer.layer_index for layer in report.layers), default=0)))
    for layer, panels in zip(report.layers, map_layers(partial(layer_panel_files, fmt=fmt), report.layers, workers=workers)):
        stem = f"{layer.layer_index:0{width}d}_{safe_filename(layer.name)}"
        files.update({f"{stem}_{panel}.{fmt}": data for panel, data in panels.items()})
    written: list[Path] = []
    try:
        for name, data in files.items():
            atomic_write(directory / name, lambda tmp, data=data: tmp.write_bytes(data))
            written.append(directory / name)
    except BaseException:  # a full disk or Ctrl-C: no partial set of figures is left behind
        for path in written:
            path.unlink(missing_ok=True)
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return written
