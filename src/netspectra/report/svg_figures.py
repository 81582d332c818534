"""The HTML report's figures as SVG (:mod:`.svg`): each layer's three panels and the alpha-by-depth overview.

The same content as the matplotlib figures of :mod:`netspectra.report.plots` (which ``--plots`` writes as
PNG or SVG files): the log-log ESD with the power-law fit, the bulk against the Marchenko–Pastur law with
its edges and spikes, the unfolded level spacings against the Wigner surmise and Poisson.  Drawn in about
a millisecond each, so that the report adds little to an analysis.

Eigenvalue convention: W is N x M with N >= M, and the eigenvalues are those of W^T W / N.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from netspectra.defaults import DEPTH_TW_LEVEL, OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA
from netspectra.io.roles import TRANSFORMER_ROLES
from netspectra.report.figure_data import MIN_EIGENVALUES, bin_count, bulk_spacings, log_density, positive, spacing_sigma2
from netspectra.report.names import display_name
from netspectra.report.svg import Panel, figure
from netspectra.rmt import spacing
from netspectra.rmt.marchenko_pastur import mp_pdf

if TYPE_CHECKING:
    from netspectra.diagnose.row import LayerReport

#: Colours of every figure (the matplotlib ones of :mod:`netspectra.report.plots` too): data, fits and reference
#: laws, edges and spikes, the alpha bands.
COLORS = {
    "data": "#4c72b0",
    "fit": "#dd8452",
    "mp": "#c44e52",
    "edge": "#55a868",
    "spike": "#c44e52",
    "wigner": "#c44e52",
    "poisson": "#8172b3",
    "band_over": "#f4cccc",
    "band_ok": "#d9ead3",
    "band_under": "#fce5cd",
}
#: Ten categorical colours (matplotlib's tab10).
CATEGORY_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
#: x-axis label of every spectrum figure: the eigenvalue convention, in words.
EIGENVALUE_LABEL = "eigenvalue λ of WᵀW/N"
#: y-axis label of the spectral densities.
DENSITY_LABEL = "density p(λ)"
#: Symbols of the columns plotted against depth, in tooltips.
SYMBOLS = {"alpha": "α", "alpha_weighted": "α_w"}
#: Size of a layer figure (three panels) and of the overview (two panels), in pixels.
LAYER_SIZE = (1200, 290)
OVERVIEW_SIZE = (1200, 340)
#: Size of one panel drawn as a figure of its own (:func:`panel_svgs`), in pixels, and the most characters of
#: its title (the layer name) that fit across it.
PANEL_FIGURE_SIZE = (400, 290)
PANEL_TITLE_CHARS = 56
_PANEL = (300, 200)


def layer_svg(layer: LayerReport) -> str:
    """The three panels of one layer; ValueError without eigenvalues."""
    _check_spectrum(layer)
    width, height = LAYER_SIZE
    panels = [draw(layer, 70 + 400 * i, 45) for i, draw in enumerate(LAYER_PANELS.values())]
    return figure(width, height, panels, title=f"{layer.name}  ({layer.N} x {layer.M}, {layer.kind})")


def panel_svgs(layer: LayerReport) -> dict[str, str]:
    """Each panel of :func:`layer_svg` as a figure of its own (:data:`PANEL_FIGURE_SIZE`), keyed by its name in
    :data:`LAYER_PANELS`: the files of ``--plots DIR --plot-format svg``; ValueError without eigenvalues."""
    _check_spectrum(layer)
    width, height = PANEL_FIGURE_SIZE
    title = display_name(layer.name, PANEL_TITLE_CHARS)
    return {name: figure(width, height, [draw(layer, 70, 45)], title=title) for name, draw in LAYER_PANELS.items()}


def _check_spectrum(layer: LayerReport) -> None:
    if layer.eigenvalues is None or layer.eigenvalues.size == 0:
        raise ValueError(f"{layer.name}: no eigenvalues to plot")


def _panel(left: float, top: float, ident: str, title: str, **axes: object) -> Panel:
    names = {"xname": "s", "yname": "P(s)"} if ident == "sp" else {"xname": "λ", "yname": "p(λ)"}
    return Panel(left, top, *_PANEL, ident=ident, title=title, **names, **axes)  # type: ignore[arg-type]


def _note(left: float, top: float, ident: str, title: str, message: str, *, xmax: float = 1.0) -> Panel:
    """A panel with nothing drawn but ``message`` (why not), on axes 0..``xmax`` x 0..1."""
    return _panel(left, top, ident, title, xlim=(0.0, xmax), ylim=(0.0, 1.0), message=message)


def _esd(layer: LayerReport, left: float, top: float) -> Panel:
    evals = positive(layer.eigenvalues)
    if evals.size < MIN_EIGENVALUES:
        return _note(left, top, "esd", "spectral density (log-log)", f"{evals.size} positive eigenvalues: too few to draw")
    density, edges = log_density(evals)
    shown = density > 0
    floor, ceiling = float(density[shown].min()) / 3.0, float(density.max()) * 3.0
    panel = _panel(
        left,
        top,
        "esd",
        "spectral density (log-log)",
        xlim=(float(edges[0]), float(edges[-1])),
        ylim=(floor, ceiling),
        xlog=True,
        ylog=True,
        xlabel=EIGENVALUE_LABEL,
        ylabel=DENSITY_LABEL,
    )
    panel.stairs(
        np.where(shown, density, floor), edges, baseline=floor, color=COLORS["data"], label=f"ESD ({evals.size} eigenvalues)"
    )
    alpha, xmin, num_tail = layer.alpha, layer.xmin, layer.num_tail
    if math.isfinite(alpha) and math.isfinite(xmin) and num_tail > 0:
        top_x = layer.xmax if math.isfinite(layer.xmax) else float(evals[-1])
        x = np.geomspace(xmin, top_x, 50)
        line = num_tail / evals.size * (alpha - 1.0) / xmin * (x / xmin) ** (-alpha)
        fit = f"power law α = {alpha:.2f} ({num_tail} in tail)"
        panel.line(x, line, color=COLORS["fit"], width=2.0, label=fit, title=fit)
        panel.vline(xmin, color=COLORS["fit"], dash="5,3", label=f"xmin = {xmin:.3g}")
    if math.isfinite(layer.lambda_plus) and edges[0] < layer.lambda_plus < edges[-1]:
        panel.vline(layer.lambda_plus, color=COLORS["edge"], dash="1.5,2.5", label=f"MP edge λ₊ = {layer.lambda_plus:.3g}")
    return panel


def _mp(layer: LayerReport, left: float, top: float) -> Panel:
    evals = np.sort(np.asarray(layer.eigenvalues, dtype=np.float64))
    sigma2 = layer.sigma2_mp
    title = "bulk and Marchenko–Pastur fit"
    if evals.size < MIN_EIGENVALUES or not (math.isfinite(sigma2) and sigma2 > 0):
        return _note(left, top, "mp", title, f"{evals.size} eigenvalues: no Marchenko–Pastur fit to draw")
    beta = layer.M / layer.N
    edge = layer.lambda_plus_tw if math.isfinite(layer.lambda_plus_tw) else layer.lambda_plus
    right = 1.25 * edge if math.isfinite(edge) else float(evals[-1])
    bins = np.linspace(0.0, right, bin_count(evals.size) + 1)
    counts, _ = np.histogram(evals, bins=bins)
    density = counts / (evals.size * np.diff(bins))
    x = np.linspace(0.0, right, 400)[1:]
    pdf = mp_pdf(x, beta, sigma2)
    ceiling = max(float(density.max()), float(np.max(pdf[x > 0.03 * right], initial=0.0)))
    panel = _panel(
        left,
        top,
        "mp",
        title,
        xlim=(0.0, right),
        ylim=(0.0, 1.6 * ceiling if ceiling > 0 else 1.0),
        xlabel=EIGENVALUE_LABEL,
        ylabel=DENSITY_LABEL,
    )
    panel.stairs(density, bins, baseline=0.0, color=COLORS["data"], label=f"ESD ({evals.size} eigenvalues)")
    panel.line(x, pdf, color=COLORS["mp"], label=f"MP(β = {beta:.2f}, σ² = {sigma2:.3g})")
    if math.isfinite(layer.lambda_plus):
        panel.vline(layer.lambda_plus, color=COLORS["edge"], label=f"λ₊ = {layer.lambda_plus:.3g}")
    if math.isfinite(layer.lambda_plus_tw):
        panel.vline(layer.lambda_plus_tw, color=COLORS["edge"], dash="5,3", label=f"TW edge = {layer.lambda_plus_tw:.3g}")
        spikes = evals[evals > layer.lambda_plus_tw]
        inside = spikes[spikes <= right]
        for value in inside:
            panel.vline(float(value), color=COLORS["spike"], width=1.3, fraction=0.07, title=f"spike λ = {value:.4g}")
        beyond = spikes.size - inside.size
        label = f"{spikes.size} spikes" + (f" ({beyond} beyond axis, max {evals[-1]:.3g})" if beyond else "")
        panel.legend_entries.append(("line", COLORS["spike"], "", label))
    return panel


def _spacing(layer: LayerReport, left: float, top: float) -> Panel:
    title = "level spacing of the bulk"
    if layer.num_matrices > 1:
        return _note(left, top, "sp", title, f"not drawn: the spectrum pools {layer.num_matrices} matrices", xmax=4.0)
    sigma2 = spacing_sigma2(layer)
    try:
        gaps = bulk_spacings(layer.eigenvalues, layer.N, layer.M, sigma2)
        stats = spacing.level_spacing(layer.eigenvalues, layer.N, layer.M, sigma2, level=DEPTH_TW_LEVEL)
    except ValueError as exc:
        return _note(left, top, "sp", title, str(exc)[:60], xmax=4.0)
    bins = np.linspace(0.0, 4.0, 25)
    counts, _ = np.histogram(np.minimum(gaps, 4.0), bins=bins)
    density = counts / (gaps.size * np.diff(bins))
    s = np.linspace(0.0, 4.0, 200)
    wigner = np.pi / 2.0 * s * np.exp(-np.pi * s * s / 4.0)
    ceiling = max(float(density.max()), 1.0) * 1.15
    panel = _panel(
        left, top, "sp", title, xlim=(0.0, 4.0), ylim=(0.0, ceiling), xlabel="unfolded spacing s (mean 1)", ylabel="density P(s)"
    )
    panel.stairs(
        density, bins, baseline=0.0, color=COLORS["data"], label=f"bulk spacings ({gaps.size}), <r> = {stats.mean_ratio:.3f}"
    )
    panel.line(s, wigner, color=COLORS["wigner"], label=f"Wigner surmise (GOE), KS = {stats.ks_goe:.3f}")
    panel.line(s, np.exp(-s), color=COLORS["poisson"], width=1.5, dash="5,3", label=f"Poisson, KS = {stats.ks_poisson:.3f}")
    return panel


#: The panels of a layer figure, left to right: name (as in ``--plots`` file names) -> drawing at (left, top).
LAYER_PANELS = {"esd": _esd, "mp": _mp, "spacing": _spacing}


def point_title(layer: LayerReport, column: str, group: str = "") -> str:
    """Tooltip of a layer's point: its index, name, the value plotted and (``group``) what colours it."""
    value = getattr(layer, column)
    tail = f" · {group}" if group else ""
    return f"#{layer.layer_index} {layer.name}\n{SYMBOLS.get(column, column)} = {value:.3f}{tail}"


#: The two panels of the alpha figures: (left edge in pixels, column, y-axis label).
_ALPHA_PANELS = ((70, "alpha", "power-law exponent α"), (670, "alpha_weighted", "α_w = α log₁₀ λₘₐₓ (λ in s² units)"))


def _alpha_panels(
    layers: Sequence[LayerReport], x: np.ndarray, x_margin: float, title: str, xname: str, xlabel: str
) -> Iterator[tuple[str, Panel, np.ndarray, np.ndarray]]:
    """The panels of the alpha figures, before their marks: for each column, the panel, the column's values ``y``
    of ``layers`` (drawn at ``x``) and where they are finite.  ``y`` sets the limits (alpha from 0 to past the
    under-trained bound, with WeightWatcher's over-trained (< 2) and under-trained (> 6) ranges shaded), ``x``
    widened by ``x_margin`` on each side; ``title`` is formatted with ``column``, the ``fitted`` count and the
    ``total``; ``xname`` and ``xlabel`` name the x axis (:class:`Panel`)."""
    for left, column, ylabel in _ALPHA_PANELS:
        y = np.array([getattr(layer, column) for layer in layers], dtype=np.float64)
        ok = np.isfinite(y)
        if column == "alpha":
            lo, hi = 0.0, max(float(np.max(y[ok], initial=0.0)) * 1.05, UNDER_TRAINED_ALPHA + 1.0)
        else:
            lo, hi = (float(y[ok].min()), float(y[ok].max())) if ok.any() else (0.0, 1.0)
            pad = 0.08 * (hi - lo) or 1.0
            lo, hi = lo - pad, hi + pad
        span = (float(x.min()) - x_margin, float(x.max()) + x_margin) if x.size else (0.0, 1.0)
        heading = title.format(column=column, fitted=int(ok.sum()), total=y.size)
        axes = {"title": heading, "xname": xname, "yname": column, "xlabel": xlabel, "ylabel": ylabel}
        panel = Panel(left, 40, 500, 230, xlim=span, ylim=(lo, hi), ident=column, **axes)  # type: ignore[arg-type]
        if column == "alpha":
            panel.hband(0.0, OVER_TRAINED_ALPHA, color=COLORS["band_over"], label="over-trained (< 2)")
            panel.hband(OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA, color=COLORS["band_ok"], label="2 to 6")
            panel.hband(UNDER_TRAINED_ALPHA, math.inf, color=COLORS["band_under"], label="under-trained (> 6)")
        yield column, panel, y, ok


def alpha_depth_svg(layers: Sequence[LayerReport]) -> str:
    """alpha and alpha_weighted by depth, with WeightWatcher's over-trained (< 2) and under-trained (> 6)
    ranges shaded: per role against the transformer block for a transformer (blocks with attention, MLP or
    expert roles: :func:`alpha_block_svg`), else each layer against its position in the model, coloured by
    phase (or kind)."""
    if any(layer.block >= 0 and layer.role in TRANSFORMER_ROLES for layer in layers):
        return alpha_block_svg(layers)
    by = "phase" if any(layer.phase for layer in layers) else "kind"
    labels = [str(getattr(layer, by)) or "none" for layer in layers]
    drawn = [label for layer, label in zip(layers, labels) if math.isfinite(layer.alpha) or math.isfinite(layer.alpha_weighted)]
    mapping = {label: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, label in enumerate(dict.fromkeys(drawn))}
    colors = [mapping.get(label, "#999999") for label in labels]  # the key lists only what is drawn
    x = np.array([layer.layer_index for layer in layers], dtype=np.float64)
    width, height = OVERVIEW_SIZE
    panels = []
    title = "{column} by depth ({fitted} of {total} layers fitted)"
    for column, panel, y, ok in _alpha_panels(layers, x, 1.0, title, xname="layer", xlabel="layer index (order in the model)"):
        panel.line(x[ok], y[ok], color="#bfbfbf", width=0.8)
        tips = [point_title(layer, column, f"{by}: {label}") for layer, label in zip(layers, labels)]
        keep = np.flatnonzero(ok)
        panel.points(x[ok], y[ok], [colors[i] for i in keep], titles=[tips[i] for i in keep])
        panels.append(panel)
    return figure(width, height, panels, key=[(f"{by}: {label}", color) for label, color in mapping.items()])


def block_positions(layers: Sequence[LayerReport]) -> tuple[dict[tuple[str, int], float], str]:
    """x of each (stack, block) and the axis label: the block index for a model of one stack, else the block's
    position in model order (encoder blocks, then decoder blocks)."""
    keys = list(dict.fromkeys((layer.stack, layer.block) for layer in layers if layer.block >= 0))
    stacks = list(dict.fromkeys(stack for stack, _ in keys))
    if len(stacks) <= 1:
        return {key: float(key[1]) for key in keys}, "transformer block"
    return {key: float(i) for i, key in enumerate(keys)}, f"block in model order ({', then '.join(s or 'main' for s in stacks)})"


def alpha_block_svg(layers: Sequence[LayerReport]) -> str:
    """alpha and alpha_weighted of the layers inside transformer blocks against their block, one colour and one
    line per role (through the median of the role's layers in each block: the experts of a block are a column
    of points), with WeightWatcher's over-trained (< 2) and under-trained (> 6) ranges shaded."""
    inside = [layer for layer in layers if layer.block >= 0]
    positions, xlabel = block_positions(inside)
    roles = list(dict.fromkeys(layer.role for layer in inside))
    mapping = {role: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, role in enumerate(roles)}
    x = np.array([positions[(layer.stack, layer.block)] for layer in inside], dtype=np.float64)
    width, height = OVERVIEW_SIZE
    outside = len(layers) - len(inside)
    not_drawn = f"; {outside} outside the blocks not drawn" if outside else ""
    panels = []
    title = "{column} by block and role ({fitted} of {total} fitted" + not_drawn + ")"
    for column, panel, y, ok in _alpha_panels(inside, x, 0.5, title, xname="block", xlabel=xlabel):
        for role in roles:
            mine = ok & np.array([layer.role == role for layer in inside])
            if mine.any():
                xs = np.unique(x[mine])
                medians = [float(np.median(y[mine & (x == value)])) for value in xs]
                panel.line(xs, medians, color=mapping[role], width=1.0)
        drawn = [layer for layer, keep in zip(inside, ok) if keep]
        panel.points(
            x[ok],
            y[ok],
            [mapping[layer.role] for layer in drawn],
            titles=[point_title(layer, column, f"role: {layer.role}") for layer in drawn],
        )
        panels.append(panel)
    return figure(width, height, panels, key=list(mapping.items()))
