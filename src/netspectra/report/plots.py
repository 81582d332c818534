"""Figures of spectra and layer metrics, drawn with matplotlib's object API (Agg; pyplot is never used).

Every function takes plain arrays or data frames, so that analyze, compare, track and compress draw with
the same code and the same style, and returns a :class:`matplotlib.figure.Figure` (encode it with
:mod:`netspectra.report.figures`).  Functions that draw one panel accept ``ax=`` to draw into an
existing axes instead (as :func:`plot_layer` does for its three panels).

Eigenvalue convention: W is N x M with N >= M, and the eigenvalues are those of W^T W / N.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullLocator
from numpy.typing import ArrayLike

from netspectra.defaults import DEPTH_TW_LEVEL, OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA
from netspectra.report.figure_data import MIN_EIGENVALUES, bin_count, bulk_spacings, log_density, positive, spacing_sigma2
from netspectra.report.names import display_name
from netspectra.report.svg_figures import COLORS, DENSITY_LABEL, EIGENVALUE_LABEL
from netspectra.rmt import spacing
from netspectra.rmt.marchenko_pastur import mp_pdf

if TYPE_CHECKING:
    import pandas as pd

    from netspectra.diagnose.row import LayerReport

STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "legend.framealpha": 0.85,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "svg.fonttype": "none",
    "text.parse_math": False,  # names come from the model file: "$\\frac{$" is a name, not mathtext
}
#: One panel, in inches (400 x 290 px at the report's 100 dpi).
PANEL_SIZE = (4.0, 2.9)
#: At most this many lines in a trajectory plot before they are thinned (the mean is always drawn).
MAX_TRAJECTORIES = 60


def styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a plot function inside netspectra's matplotlib style (rc parameters)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


class InlineFigure(Figure):
    """A matplotlib figure that a notebook shows inline as a PNG (``_repr_png_``): pyplot, whose backend would
    register that display, is never imported here."""

    def _repr_png_(self) -> bytes:
        from netspectra.report.figures import figure_bytes

        return figure_bytes(self, "png")


def new_figure(ncols: int = 1, nrows: int = 1, *, layout: str | None = "constrained") -> tuple[Figure, list[Axes]]:
    """A figure with a grid of panels of :data:`PANEL_SIZE` (``layout=None``: fixed margins, faster), shown
    inline by a notebook (:class:`InlineFigure`)."""
    fig = InlineFigure(figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows), layout=layout)
    if layout is None:
        inch = 1.0 / fig.get_figwidth(), 1.0 / fig.get_figheight()
        fig.subplots_adjust(
            left=0.75 * inch[0],
            right=1.0 - 0.15 * inch[0],
            bottom=0.55 * inch[1],
            top=1.0 - 0.55 * inch[1],
            wspace=0.3,
            hspace=0.4,
        )
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.ravel())


def _target(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, (ax,) = new_figure(layout=None)  # fixed margins: a third faster to draw than constrained layout
    return fig, ax


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _pos: int | None = None) -> str:
    """Tick label 10⁻³ as plain text (mathtext labels are slow to lay out), empty between decades."""
    exponent = math.log10(value) if value > 0 else math.nan
    if not math.isfinite(exponent) or abs(exponent - round(exponent)) > 1e-6:
        return ""
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def _log_axes(ax: Axes) -> None:
    """Log scale on both axes; an axis spanning 2 decades or more gets plain-text 10ⁿ ticks and no minor
    ticks (several times faster to draw than matplotlib's default), a shorter one keeps the default."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if math.log10(hi / lo) >= 2.0:
            axis.set_major_formatter(FuncFormatter(_power_of_ten))
            axis.set_minor_locator(NullLocator())


def _label(ax: Axes, xlabel: str = EIGENVALUE_LABEL, ylabel: str = DENSITY_LABEL, *, legend: str = "upper right") -> None:
    """Name the axes (by default the eigenvalue and its density) and place the legend at ``legend``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc=legend)


def _no_data(ax: Axes, message: str) -> None:
    """Say in the panel, instead of a plot, why there is none."""
    ax.text(
        0.5,
        0.5,
        textwrap.fill(message, 32, break_long_words=False),
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="0.4",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


@styled
def plot_esd(
    eigenvalues: ArrayLike,
    *,
    alpha: float = math.nan,
    xmin: float = math.nan,
    xmax: float = math.nan,
    num_tail: int = 0,
    lambda_plus: float = math.nan,
    title: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Empirical spectral density on log-log axes with the power-law tail fit.

    The histogram uses log-spaced bins and is a density per unit lambda over all positive eigenvalues
    of W^T W / N (W is N x M, N >= M).  The fitted power law p(lambda) = (alpha - 1)/xmin
    (lambda/xmin)^(-alpha) (Clauset, Shalizi & Newman 2009) is scaled by the tail fraction
    ``num_tail / n`` so that it sits on the histogram, and drawn over [xmin, xmax]; xmin is a dashed
    vertical line and the Marchenko–Pastur edge ``lambda_plus`` a dotted one.
    """
    fig, ax = _target(ax)
    evals = positive(eigenvalues)
    ax.set_title(title or "spectral density (log-log)")
    if evals.size < MIN_EIGENVALUES:
        _no_data(ax, f"{evals.size} positive eigenvalues: too few to draw")
        return fig
    density, edges = log_density(evals)
    shown = density > 0
    floor, ceiling = density[shown].min() / 3.0, density.max() * 3.0
    ax.stairs(
        np.where(shown, density, floor),
        edges,
        baseline=floor,
        fill=True,
        color=COLORS["data"],
        alpha=0.55,
        label=f"ESD ({evals.size} eigenvalues)",
    )
    if math.isfinite(alpha) and math.isfinite(xmin) and num_tail > 0:
        top = xmax if math.isfinite(xmax) else evals[-1]
        x = np.geomspace(xmin, top, 50)
        line = num_tail / evals.size * (alpha - 1.0) / xmin * (x / xmin) ** (-alpha)
        ax.plot(x, line, color=COLORS["fit"], lw=2.0, label=f"power law α = {alpha:.2f} ({num_tail} in tail)")
        ax.axvline(xmin, color=COLORS["fit"], ls="--", lw=1.2, label=f"xmin = {xmin:.3g}")
    if math.isfinite(lambda_plus) and edges[0] < lambda_plus < edges[-1]:
        ax.axvline(lambda_plus, color=COLORS["edge"], ls=":", lw=1.2, label=f"MP edge λ₊ = {lambda_plus:.3g}")
    ax.set_ylim(floor, ceiling)
    _log_axes(ax)
    _label(ax)
    return fig


@styled
def plot_mp_fit(
    eigenvalues: ArrayLike,
    *,
    n: int,
    m: int,
    sigma2: float,
    lambda_plus: float = math.nan,
    lambda_plus_tw: float = math.nan,
    title: str = "",
    ax: Axes | None = None,
) -> Figure:
    """The bulk on linear axes with the Marchenko–Pastur density, its edge, the Tracy–Widom edge and spikes.

    Eigenvalues of W^T W / N with W N x M (N >= M, beta = M/N).  The histogram is a density over all
    eigenvalues, so it compares directly with MP(beta, sigma^2) (Marchenko & Pastur 1967).  The x axis
    ends a little beyond the TW edge; spikes (eigenvalues above ``lambda_plus_tw``) are red ticks on the
    axis, and those beyond the axis are counted in the legend.
    """
    fig, ax = _target(ax)
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())
    ax.set_title(title or "bulk and Marchenko–Pastur fit")
    if evals.size < MIN_EIGENVALUES or not (math.isfinite(sigma2) and sigma2 > 0):
        _no_data(ax, f"{evals.size} eigenvalues, σ² = {sigma2:.3g}: no Marchenko–Pastur fit to draw")
        return fig
    if n < m:
        n, m = m, n
    beta = m / n
    edge = lambda_plus_tw if math.isfinite(lambda_plus_tw) else lambda_plus
    right = 1.25 * edge if math.isfinite(edge) else evals[-1]
    bins = np.linspace(0.0, right, bin_count(evals.size) + 1)
    counts, _ = np.histogram(evals, bins=bins)
    density = counts / (evals.size * np.diff(bins))
    ax.stairs(density, bins, fill=True, color=COLORS["data"], alpha=0.55, label=f"ESD ({evals.size} eigenvalues)")
    x = np.linspace(0.0, right, 400)[1:]
    pdf = mp_pdf(x, beta, sigma2)
    ax.plot(x, pdf, color=COLORS["mp"], lw=1.8, label=f"MP(β = {beta:.2f}, σ² = {sigma2:.3g})")
    if math.isfinite(lambda_plus):
        ax.axvline(lambda_plus, color=COLORS["edge"], lw=1.2, label=f"λ₊ = {lambda_plus:.3g}")
    if math.isfinite(lambda_plus_tw):
        ax.axvline(lambda_plus_tw, color=COLORS["edge"], ls="--", lw=1.2, label=f"TW edge = {lambda_plus_tw:.3g}")
        spikes = evals[evals > lambda_plus_tw]
        inside = spikes[spikes <= right]
        beyond = spikes.size - inside.size
        label = f"{spikes.size} spikes" + (f" ({beyond} beyond axis, max {evals[-1]:.3g})" if beyond else "")
        ax.vlines(inside, 0.0, 0.07, color=COLORS["spike"], lw=1.3, transform=ax.get_xaxis_transform(), label=label)
    # Cap the y axis at what the histogram shows: MP diverges at 0 when beta = 1.
    top = max(density.max(), float(np.max(pdf[x > 0.03 * right], initial=0.0)))
    ax.set_ylim(0.0, 1.6 * top if top > 0 else 1.0)  # headroom for the legend
    ax.set_xlim(0.0, right)
    ax.ticklabel_format(style="sci", scilimits=(-2, 3))  # a common factor, not 0.00025-style labels
    _label(ax)
    return fig


@styled
def plot_level_spacing(
    eigenvalues: ArrayLike,
    *,
    n: int,
    m: int,
    sigma2: float,
    num_matrices: int = 1,
    title: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Histogram of unfolded bulk spacings against the Wigner surmise (GOE) and Poisson.

    Wigner surmise P(s) = (pi/2) s exp(-pi s^2/4), Poisson P(s) = exp(-s) (Mehta 2004, §1.5); the legend
    gives <r> (GOE 0.531, Poisson 0.386) and the KS distances of
    :func:`netspectra.rmt.spacing.level_spacing`.  A pooled spectrum of ``num_matrices`` > 1 conv
    slices has no single-matrix level statistics and is not drawn.
    """
    fig, ax = _target(ax)
    ax.set_title(title or "level spacing of the bulk")
    if num_matrices > 1:
        _no_data(ax, f"not drawn: the spectrum pools {num_matrices} matrices (conv slices)")
        return fig
    try:
        gaps = bulk_spacings(eigenvalues, n, m, sigma2)
        stats = spacing.level_spacing(eigenvalues, n, m, sigma2, level=DEPTH_TW_LEVEL)
    except ValueError as exc:
        _no_data(ax, str(exc))
        return fig
    bins = np.linspace(0.0, 4.0, 25)
    ax.hist(
        np.minimum(gaps, 4.0),
        bins=bins,
        density=True,
        color=COLORS["data"],
        alpha=0.55,
        label=f"bulk spacings ({gaps.size}), <r> = {stats.mean_ratio:.3f}",
    )
    s = np.linspace(0.0, 4.0, 200)
    ax.plot(
        s,
        np.pi / 2.0 * s * np.exp(-np.pi * s * s / 4.0),
        color=COLORS["wigner"],
        lw=1.8,
        label=f"Wigner surmise (GOE), KS = {stats.ks_goe:.3f}",
    )
    ax.plot(s, np.exp(-s), color=COLORS["poisson"], lw=1.5, ls="--", label=f"Poisson, KS = {stats.ks_poisson:.3f}")
    ax.set_xlim(0.0, 4.0)
    _label(ax, "unfolded spacing s (mean 1)", "density P(s)")
    return fig


def _columns(layer: LayerReport, *names: str) -> dict[str, Any]:
    return {name: getattr(layer, name) for name in names}


def layer_esd(layer: LayerReport, *, title: str = "", ax: Axes | None = None) -> Figure:
    """:func:`plot_esd` of one layer's eigenvalues and fit."""
    fit = _columns(layer, "alpha", "xmin", "xmax", "num_tail", "lambda_plus")
    return plot_esd(layer.eigenvalues, title=title, ax=ax, **fit)


def layer_mp_fit(layer: LayerReport, *, title: str = "", ax: Axes | None = None) -> Figure:
    """:func:`plot_mp_fit` of one layer's eigenvalues and Marchenko–Pastur fit."""
    edges = _columns(layer, "lambda_plus", "lambda_plus_tw")
    return plot_mp_fit(layer.eigenvalues, n=layer.N, m=layer.M, sigma2=layer.sigma2_mp, title=title, ax=ax, **edges)


def layer_level_spacing(layer: LayerReport, *, title: str = "", ax: Axes | None = None) -> Figure:
    """:func:`plot_level_spacing` of one layer's bulk."""
    sigma2, k = spacing_sigma2(layer), layer.num_matrices
    return plot_level_spacing(layer.eigenvalues, n=layer.N, m=layer.M, sigma2=sigma2, num_matrices=k, title=title, ax=ax)


#: The panels of a layer figure, left to right: name (as in ``--plots`` file names) -> (drawing, caption).
LAYER_PANELS: dict[str, tuple[Callable[..., Figure], str]] = {
    "esd": (layer_esd, "spectral density"),
    "mp": (layer_mp_fit, "bulk and MP fit"),
    "spacing": (layer_level_spacing, "level spacing"),
}


def plot_layer(layer: LayerReport) -> Figure:
    """The three panels of one layer (:data:`LAYER_PANELS`): log-log ESD with the tail fit, MP bulk fit, level spacing.

    Needs ``layer.eigenvalues`` (eigenvalues of W^T W / N); raises ValueError when they are missing.
    """
    if layer.eigenvalues is None or layer.eigenvalues.size == 0:
        raise ValueError(f"{layer.name}: no eigenvalues to plot")
    fig, axes = new_figure(ncols=3, layout=None)
    fig.suptitle(f"{display_name(layer.name)}  ({layer.N} x {layer.M}, {layer.kind})", fontsize=10)
    for ax, (draw, _) in zip(axes, LAYER_PANELS.values(), strict=True):
        draw(layer, ax=ax)
    return fig


def _category_colors(values: pd.Series, drawn: np.ndarray) -> tuple[list[str], dict[str, str]]:
    """A colour per row from a categorical column (tab10; missing and empty values are "none"), and the legend
    mapping of the rows ``drawn`` only (a label without a point gets no legend entry)."""
    cmap = matplotlib.colormaps["tab10"]
    labels = [str(v) or "none" for v in values.fillna("none")]
    shown = [label for label, keep in zip(labels, drawn) if keep]
    mapping = {label: to_hex(cmap(i % 10)) for i, label in enumerate(dict.fromkeys(shown))}
    return [mapping.get(label, "#999999") for label in labels], mapping


@styled
def plot_alpha_depth(frame: pd.DataFrame) -> Figure:
    """alpha and alpha_weighted of each layer against its position in the model.

    ``frame`` has one row per layer with ``layer_index``, ``alpha``, ``alpha_weighted`` and ``kind``
    (as :meth:`ModelReport.to_frame`).  Points are coloured by ``phase`` when the frame has that column
    with any value, else by ``kind``; the alpha panel shades WeightWatcher's over-trained (< 2) and
    under-trained (> 6) ranges.  The legend sits under the panels, listing the labels that have points.
    alpha_weighted = alpha log10(lambda_max_ww) uses unnormalised eigenvalues s_i^2.
    """
    fig, axes = new_figure(ncols=2)
    phases = frame["phase"].fillna("").astype(str) if "phase" in frame.columns else None
    by = "phase" if phases is not None and (phases != "").any() else "kind"
    drawn = np.isfinite(frame["alpha"].to_numpy(dtype=np.float64)) | np.isfinite(
        frame["alpha_weighted"].to_numpy(dtype=np.float64)
    )
    colors, mapping = _category_colors(frame[by], drawn)
    x = frame["layer_index"].to_numpy()
    for ax, col, label in (
        (axes[0], "alpha", "power-law exponent α"),
        (axes[1], "alpha_weighted", "α_w = α log₁₀ λₘₐₓ (λ in s² units)"),
    ):
        y = frame[col].to_numpy(dtype=np.float64)
        ok = np.isfinite(y)
        ax.scatter(x[ok], y[ok], c=[c for c, keep in zip(colors, ok) if keep], s=22, edgecolors="white", linewidths=0.5, zorder=3)
        ax.plot(x[ok], y[ok], color="0.75", lw=0.8, zorder=2)
        ax.set_xlabel("layer index (order in the model)")
        ax.set_ylabel(label)
        ax.set_title(f"{col} by depth ({int(ok.sum())} of {len(y)} layers fitted)")
    top = max(float(np.nanmax(frame["alpha"].to_numpy(dtype=np.float64), initial=0.0)) * 1.05, UNDER_TRAINED_ALPHA + 1.0)
    axes[0].axhspan(0.0, OVER_TRAINED_ALPHA, color=COLORS["band_over"], zorder=0, label="over-trained (< 2)")
    axes[0].axhspan(OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA, color=COLORS["band_ok"], zorder=0, label="2 to 6")
    axes[0].axhspan(UNDER_TRAINED_ALPHA, top, color=COLORS["band_under"], zorder=0, label="under-trained (> 6)")
    axes[0].set_ylim(0.0, top)
    bands = axes[0].get_legend_handles_labels()[0]
    handles = [Line2D([], [], ls="", marker="o", color=c, label=f"{by}: {k}") for k, c in mapping.items()]
    # outside the axes, so that no legend hides a point
    fig.legend(handles=[*bands, *handles], loc="outside lower center", ncols=min(len(bands) + len(handles), 5), frameon=False)
    return fig


@styled
def plot_trajectories(
    frame: pd.DataFrame,
    metric: str,
    *,
    x: str = "step",
    by: str = "name",
    title: str = "",
) -> Figure:
    """A metric of every layer over training: one line per layer, coloured by depth, and the mean.

    ``frame`` is long: one row per (``x``, ``by``) with a ``metric`` column (``layer_index`` colours the
    lines when present).  More than :data:`MAX_TRAJECTORIES` layers are thinned evenly; the mean over
    all layers at each ``x`` is always drawn in black.
    """
    fig, (ax,) = new_figure()
    data = frame[[c for c in dict.fromkeys((x, by, metric, "layer_index")) if c in frame.columns]].dropna(subset=[metric])
    groups = list(data.groupby(by, sort=False))
    depth = {key: (g["layer_index"].iloc[0] if "layer_index" in g else i) for i, (key, g) in enumerate(groups)}
    order = sorted(depth, key=depth.get)
    keep = set(order[:: max(1, math.ceil(len(order) / MAX_TRAJECTORIES))])
    cmap = matplotlib.colormaps["viridis"]
    span = max(max(depth.values(), default=0) - min(depth.values(), default=0), 1)
    low = min(depth.values(), default=0)
    for key, g in groups:
        if key in keep:
            g = g.sort_values(x)
            ax.plot(g[x], g[metric], color=cmap((depth[key] - low) / span), lw=0.9, alpha=0.7)
    mean = data.groupby(x)[metric].mean()
    ax.plot(mean.index, mean.to_numpy(), color="black", lw=2.2, label=f"mean over {len(groups)} layers")
    norm = Normalize(low, low + span)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="layer index")
    drawn = f" ({len(keep)} of {len(groups)} layers drawn)" if len(keep) < len(groups) else ""
    ax.set_title(title or f"{metric} over {x}{drawn}")
    _label(ax, x, metric, legend="best")
    return fig


@styled
def plot_spectra_overlay(spectra: Mapping[str, ArrayLike], *, title: str = "", ax: Axes | None = None) -> Figure:
    """Spectral densities of several matrices on shared log-spaced bins, log-log axes.

    ``spectra`` maps a label (a checkpoint, "before"/"after" compression) to eigenvalues of W^T W / N;
    each is a density over its own positive eigenvalues, drawn as a step line.
    """
    fig, ax = _target(ax)
    ax.set_title(title or "spectral densities")
    cleaned = {label: positive(v) for label, v in spectra.items()}
    pooled = np.concatenate([v for v in cleaned.values() if v.size] or [np.empty(0)])
    if pooled.size < 2 or pooled.min() == pooled.max():
        _no_data(ax, "fewer than 2 distinct positive eigenvalues")
        return fig
    edges = np.geomspace(pooled.min(), pooled.max(), bin_count(max(v.size for v in cleaned.values())) + 1)
    for label, evals in cleaned.items():
        if evals.size:
            density, _ = log_density(evals, edges)
            ax.stairs(np.where(density > 0, density, np.nan), edges, lw=1.6, label=f"{label} ({evals.size})")
    _log_axes(ax)
    _label(ax, legend="lower left")
    return fig
