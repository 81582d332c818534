"""SVG figures of the compare, track and merge views (:mod:`netspectra.report.html_views`), drawn with
:mod:`netspectra.report.svg` like the model report's: every point says what it is when hovered, every
plotting area zooms, no legend covers a point.

* :func:`comparison_svg`: alpha of A and B against the layer's position in A, and the relative change of
  the weights ||W_B - W_A||_F / ||W_A||_F (or, where no weights were diffed, delta alpha);
* :func:`trajectory_svg`: each tracked quantity against the step, a thin line per layer (coloured by depth)
  and the mean over layers;
* :func:`layer_values_svg`: one or two columns of a merge's or merge-check's layers against their position,
  coloured by verdict.

Eigenvalue convention: W is N x M with N >= M, and the eigenvalues are those of W^T W / N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from netspectra.defaults import OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA
from netspectra.report.svg import Panel, figure
from netspectra.report.svg_figures import COLORS

if TYPE_CHECKING:
    from netspectra.compare.dynamics import TrackPoint
    from netspectra.compare.result import LayerComparison

#: Colours of the two models of a comparison, and of flagged layers.
SIDE_COLORS = {"A": "#4c72b0", "B": "#dd8452", "flagged": "#c44e52", "kept": "#4c72b0"}
#: Colour of each merge verdict (and of no verdict).
VERDICT_COLORS = {"compatible": "#55a868", "caution": "#dd8452", "incompatible": "#c44e52", "": "#4c72b0"}
#: Each tracked quantity (:data:`netspectra.compare.dynamics.TRACKED_METRICS`, a field of its points) and its title.
METRIC_TITLES = {
    "alpha": "power-law exponent α",
    "sigma2": "MP bulk width σ²",
    "area": "MP bulk area A",
    "tail_weight": "tail weight 1 − A",
    "num_spikes": "spikes above the TW edge",
    "spacing_ratio": "mean spacing ratio ⟨r⟩",
}


def _span(values: np.ndarray, *, pad: float = 0.08, floor: float | None = None) -> tuple[float, float]:
    """Limits around the finite ``values`` with ``pad`` of their range on each side (at least ``floor`` below)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    margin = pad * (hi - lo) or max(abs(hi) * pad, 0.5)
    lo, hi = lo - margin, hi + margin
    return (max(lo, floor) if floor is not None else lo, hi)


def _by_matched_layer(
    left: float,
    span: tuple[float, float],
    ylim: tuple[float, float],
    ident: str,
    labels: tuple[str, str, str],
    *,
    ylog: bool = False,
) -> Panel:
    """A panel of :func:`comparison_svg`, one quantity of the matched layers in A's order; ``labels``: the
    quantity's name in the hover read-out, the panel's title and the y-axis label."""
    yname, title, ylabel = labels
    return Panel(
        left,
        40,
        500,
        230,
        xlim=span,
        ylim=ylim,
        ylog=ylog,
        ident=ident,
        xname="layer",
        yname=yname,
        title=title,
        xlabel="matched layer (order in A)",
        ylabel=ylabel,
    )


def comparison_svg(layers: Sequence[LayerComparison]) -> str:
    """Two panels over the matched layers in A's order: alpha of A and of B (WeightWatcher's ranges shaded),
    and ||W_B - W_A||_F / ||W_A||_F on a log axis, flagged layers in red (delta alpha instead when no
    weights were diffed, as for two stored runs)."""
    x = np.arange(len(layers), dtype=np.float64)
    names = [c.name_a if c.name_a == c.name_b else f"{c.name_a} ↔ {c.name_b}" for c in layers]
    alpha_a = np.array([c.alpha_a for c in layers], dtype=np.float64)
    alpha_b = np.array([c.alpha_b for c in layers], dtype=np.float64)
    both = np.concatenate([alpha_a, alpha_b])
    top = max(float(np.max(both[np.isfinite(both)], initial=0.0)) * 1.05, UNDER_TRAINED_ALPHA + 1.0)
    span = (-1.0, float(len(layers))) if layers else (0.0, 1.0)
    left = _by_matched_layer(70, span, (0.0, top), "alpha", ("α", "α of A and B", "power-law exponent α"))
    left.hband(0.0, OVER_TRAINED_ALPHA, color=COLORS["band_over"])
    left.hband(UNDER_TRAINED_ALPHA, math.inf, color=COLORS["band_under"])
    for side, values in (("A", alpha_a), ("B", alpha_b)):
        ok = np.isfinite(values)
        tips = [
            f"#{i} {name}\nα {side} = {value:.3f} (A {c.alpha_a:.3f} → B {c.alpha_b:.3f}, Δα = {c.delta_alpha:+.3f})"
            for i, (name, value, c) in enumerate(zip(names, values, layers))
        ]
        radius = 4.6 if side == "A" else 2.8  # B's dot inside A's, both seen where they agree
        left.points(
            x[ok], values[ok], [SIDE_COLORS[side]] * int(ok.sum()), radius=radius, titles=[t for t, keep in zip(tips, ok) if keep]
        )
    change = np.array([c.diff_rel_frobenius for c in layers], dtype=np.float64)
    flagged = [SIDE_COLORS["flagged" if c.flagged else "kept"] for c in layers]
    shown = np.isfinite(change) & (change > 0)
    if shown.any():
        lo, hi = float(change[shown].min()), float(change[shown].max())
        labels = ("‖ΔW‖F/‖W‖F", "relative change of the weights", "‖W_B − W_A‖_F / ‖W_A‖_F")
        right = _by_matched_layer(670, span, (lo / 3.0, hi * 3.0), "change", labels, ylog=True)
        values = change
    else:
        values = np.array([c.delta_alpha for c in layers], dtype=np.float64)
        shown = np.isfinite(values)
        right = _by_matched_layer(670, span, _span(values), "change", ("Δα", "Δα = α_B − α_A (no weights diffed)", "Δα"))
    tips = [
        f"#{i} {name}\n‖ΔW‖F/‖W‖F = {c.diff_rel_frobenius:.3g}, Δα = {c.delta_alpha:+.3f}"
        + (f"\nflagged: {c.reasons}" if c.flagged else "")
        for i, (name, c) in enumerate(zip(names, layers))
    ]
    keep = np.flatnonzero(shown)
    right.points(x[shown], values[shown], [flagged[i] for i in keep], titles=[tips[i] for i in keep])
    key = [("α of A", SIDE_COLORS["A"]), ("α of B", SIDE_COLORS["B"]), ("flagged", SIDE_COLORS["flagged"])]
    return figure(1200, 330, [left, right], key=key)


def _finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite ``values``, NaN when none is."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    return float(finite.mean()) if finite.size else math.nan


def _depth_color(fraction: float) -> str:
    """A colour from blue (first layer) to yellow-green (last), for lines by depth."""
    start, end = np.array([0x44, 0x01, 0x54]), np.array([0xB5, 0xDE, 0x2B])
    r, g, b = (start + (end - start) * min(max(fraction, 0.0), 1.0)).round().astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def trajectory_svg(points: Sequence[TrackPoint]) -> str:
    """Each tracked quantity that has a value (:data:`METRIC_TITLES`) against
    the step, three panels a row: a thin line per layer coloured by depth (hover: the layer), and the mean
    over the layers in black with a point per step (hover: step and mean)."""
    metrics = [m for m in METRIC_TITLES if any(math.isfinite(getattr(p, m)) for p in points)]
    steps = sorted({p.step for p in points})
    layers = sorted({(p.layer_index, p.layer) for p in points})
    depth = {name: i / max(len(layers) - 1, 1) for i, (_, name) in enumerate(layers)}
    by_layer: dict[str, list[TrackPoint]] = {}
    for p in points:
        by_layer.setdefault(p.layer, []).append(p)
    span = (steps[0] - 0.05 * (steps[-1] - steps[0] or 1), steps[-1] + 0.05 * (steps[-1] - steps[0] or 1)) if steps else (0, 1)
    panels = []
    for i, metric in enumerate(metrics):
        values = np.array([getattr(p, metric) for p in points], dtype=np.float64)
        row, column = divmod(i, 3)
        panel = Panel(
            70 + 400 * column,
            40 + 270 * row,
            300,
            190,
            xlim=span,
            ylim=_span(values),
            ident=metric,
            xname="step",
            yname=metric,
            title=METRIC_TITLES[metric],
            xlabel="step",
            ylabel=metric,
        )
        for name, track in by_layer.items():
            track = sorted(track, key=lambda p: p.step)
            panel.line(
                [p.step for p in track],
                [getattr(p, metric) for p in track],
                color=_depth_color(depth[name]),
                width=0.8,
                title=name,
            )
        means = [_finite_mean([getattr(p, metric) for p in points if p.step == s]) for s in steps]
        panel.line(steps, means, color="#000000", width=2.2, label=f"mean over {len(layers)} layers")
        tips = [f"step {s}: mean {metric} = {m:.4g}" for s, m in zip(steps, means)]
        panel.points(steps, means, ["#000000"] * len(steps), radius=3.0, titles=tips)
        panels.append(panel)
    rows = max(1, math.ceil(len(metrics) / 3))
    key = [("first layer", _depth_color(0.0)), ("last layer", _depth_color(1.0))]
    return figure(1200, 270 * rows + 30, panels, key=key)


def layer_values_svg(
    names: Sequence[str], columns: Sequence[tuple[str, str, Sequence[float], bool]], verdicts: Sequence[str]
) -> str:
    """Up to two panels of per-layer values against the layer's position, coloured by verdict: ``columns``
    are ``(title, axis label, values, log scale)``."""
    x = np.arange(len(names), dtype=np.float64)
    span = (-1.0, float(len(names))) if names else (0.0, 1.0)
    panels = []
    for i, (title, label, raw, log) in enumerate(columns[:2]):
        values = np.array(raw, dtype=np.float64)
        ok = np.isfinite(values) & ((values > 0) if log else True)
        if log and ok.any():
            lo, hi = float(values[ok].min()), float(values[ok].max())
            limits = (lo / 3.0, hi * 3.0)
        else:
            limits = _span(values)
        panel = Panel(
            70 + 600 * i,
            40,
            500,
            230,
            xlim=span,
            ylim=limits,
            ylog=log and bool(ok.any()),
            ident=f"values{i}",
            xname="layer",
            yname=label,
            title=title,
            xlabel="layer (order in the model)",
            ylabel=label,
        )
        keep = np.flatnonzero(ok)
        tips = [f"#{j} {names[j]}\n{label} = {values[j]:.4g}" + (f" · {verdicts[j]}" if verdicts[j] else "") for j in keep]
        panel.points(x[ok], values[ok], [VERDICT_COLORS.get(verdicts[j], VERDICT_COLORS[""]) for j in keep], titles=tips)
        panels.append(panel)
    used = [v for v in dict.fromkeys(verdicts) if v]
    return figure(1200, 330, panels, key=[(v, VERDICT_COLORS.get(v, VERDICT_COLORS[""])) for v in used])
