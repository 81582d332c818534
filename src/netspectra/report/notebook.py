"""How results show at a prompt and in a notebook (Jupyter, VS Code, Colab): a short ``repr`` and an HTML view.

The ``__repr__`` of a result is one line: what it is about, its size and its reading (a model's verdict
sentence, a comparison's flagged count), not a dump of its rows.  The ``_repr_html_`` of a model report,
a layer, a comparison, a trajectory, a merge-check or a merge is a fragment made of the same parts as
the standalone HTML pages (:mod:`netspectra.report.html`, :mod:`netspectra.report.html_views`): the
summary, an SVG figure with hover values and zoom, and a sortable table.  Its stylesheet applies inside
the fragment only (every rule sits under ``.nsr``), its script sets up the fragments not yet set up, and
it loads nothing: without scripts (a notebook viewer) the figures still show their values as tooltips
(SVG ``<title>``) and the table is a plain table.

Eigenvalue convention: W is N x M with N >= M, and the eigenvalues are those of W^T W / N.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from netspectra.report import html_assets
from netspectra.report.columns import Column, columns
from netspectra.report.html import _badges, _number, _table, display_name, inline_svg, table_columns
from netspectra.report.html_views import (
    comparison_sections,
    compatibility_sections,
    figure_section,
    merge_sections,
    model_summary,
    trajectory_sections,
)
from netspectra.report.svg_figures import alpha_depth_svg, layer_svg
from netspectra.report.verdict import layer_labels, reading

if TYPE_CHECKING:  # the result classes call this module to show themselves: it imports none of them when it runs
    from netspectra.compare.result import ModelComparison
    from netspectra.compare.track import Trajectory
    from netspectra.diagnose.model import ModelReport
    from netspectra.diagnose.row import LayerReport
    from netspectra.merge.results import CompatibilityReport, MergeResult

#: Columns of a model's table in a notebook (role, block and expert where the names say them; then the optional
#: ones the layers have, and the warnings).
NOTEBOOK_COLUMNS = (
    "layer_index",
    "name",
    "role",
    "block",
    "expert",
    "kind",
    "N",
    "M",
    "alpha",
    "alpha_weighted",
    "num_tail",
    "num_spikes",
    "log_spectral_norm",
)
#: A layer's facts under its figure: column, label, format (``-`` for text).
LAYER_FACTS: tuple[Column, ...] = columns(
    """
    Q                  Q = N/M           .3g
    num_evals          eigenvalues       d
    alpha              α                 .3f
    alpha_se           α standard error  .3f
    xmin               xmin              .4g
    num_tail           tail size         d
    ks_distance        KS distance       .3f
    alpha_weighted     α_w               .3f
    sigma2_mp          σ² (MP)           .4g
    lambda_plus        MP edge λ₊        .4g
    num_spikes         spikes            d
    stable_rank        stable rank       .2f
    entropy            entropy           .3f
    log_spectral_norm  log10 ‖W‖₂        .3f
    phase              phase             -
    dtype              dtype             -
    """
)


# ----------------------------------------------------------------------------------------------- repr


def model_repr(report: ModelReport) -> str:
    """``<ModelReport 'path': 40 layers; <the verdict's headline and flags>>`` (the first two clauses of the
    verdict: the rest is in the summary and the HTML view)."""
    headline = "; ".join(reading(report.summary, report.layers).split("; ")[:2])
    return f"<ModelReport {report.source!r}: {len(report.layers)} layers; {headline}>"


def layer_repr(layer: LayerReport) -> str:
    """``<LayerReport #5 'name' 384x384 linear: alpha 2.46, 62 spikes; analyzed>``."""
    return (
        f"<LayerReport #{layer.layer_index} {layer.name!r} {layer.N}x{layer.M} {layer.kind}: "
        f"alpha {_number(layer.alpha, '.3f')}, {layer.num_spikes} spikes; {layer.message}>"
    )


def comparison_repr(comparison: ModelComparison) -> str:
    """``<ModelComparison 'a' -> 'b': 40 layers matched, 3 flagged, 0 without a counterpart>``."""
    return (
        f"<ModelComparison {comparison.source_a!r} -> {comparison.source_b!r}: {len(comparison.layers)} layers matched, "
        f"{len(comparison.flagged)} flagged, {len(comparison.unmatched)} without a counterpart>"
    )


def trajectory_repr(trajectory: Trajectory) -> str:
    """``<Trajectory: 5 checkpoints (steps 0 to 400), 40 layers>``."""
    steps = trajectory.steps
    span = f" (steps {steps[0]} to {steps[-1]})" if steps else ""
    return f"<Trajectory: {len(steps)} checkpoints{span}, {len({p.layer for p in trajectory.points})} layers>"


def compatibility_repr(report: CompatibilityReport) -> str:
    """``<CompatibilityReport of 2 models: caution; 40 layers: 30 compatible, 10 caution, 0 incompatible>``."""
    counts = Counter(layer.verdict for layer in report.layers)
    base = f", base {report.base!r}" if report.base else ""
    return (
        f"<CompatibilityReport of {len(report.models)} models{base}: {report.verdict}; {len(report.layers)} layers: "
        f"{counts['compatible']} compatible, {counts['caution']} caution, {counts['incompatible']} incompatible>"
    )


def merge_repr(result: MergeResult) -> str:
    """``<MergeResult ties into 'out': 120 tensors (ties 100, copy 20), 4 files>``."""
    rules = ", ".join(f"{rule} {n}" for rule, n in Counter(layer.rule for layer in result.layers).items())
    return (
        f"<MergeResult {result.method} into {result.output!r}: {len(result.layers)} tensors ({rules}), {len(result.files)} files>"
    )


# ----------------------------------------------------------------------------------------------- HTML


def fragment(title: str, meta: str, sections: Sequence[str]) -> str:
    """A view for a notebook's output: its own stylesheet and script, a title, a line of facts, the sections."""
    return (
        f'<div class="nsr nsr-notebook"><style>{html_assets.CSS}</style>'
        f'<div class="nsr-title"><b>{escape(title)}</b> <span class="meta">{escape(meta)}</span></div>'
        f"{''.join(sections)}<script>{html_assets.MAIN_SCRIPT}</script></div>"
    )


def model_html(report: ModelReport) -> str:
    """A model report in a notebook: the verdict and cards, alpha by depth, the sortable table of layers."""
    layers = report.layers
    sections = [model_summary(report)]
    if layers:
        svg = alpha_depth_svg(layers)
        sections.append(figure_section("Alpha by depth", svg, f"alpha and weighted alpha of the {len(layers)} layers"))
        sections.append(_table(layers, table_columns(layers, keep=NOTEBOOK_COLUMNS), links=False))
    meta = f"{report.source} · {len(layers)} weight matrices · report.layer(name) or report[name] for one"
    return fragment(f"netspectra report: {display_name(report.source)}", meta, sections)


def layer_html(layer: LayerReport) -> str:
    """One layer in a notebook: its warnings, the three panels of its spectrum and its main numbers."""
    labels = layer_labels(layer)
    if layer.eigenvalues is not None and layer.eigenvalues.size:
        alt = f"{layer.name}: log-log spectral density with the power-law fit, MP bulk fit, level spacing"
        figure = f'<div class="figure">{inline_svg(layer_svg(layer), alt)}</div>'
    else:
        figure = f"<p>No spectrum to plot ({escape(layer.warning or layer.status)}).</p>"
    facts = "".join(
        f"<div><dt>{escape(fact.header)}</dt><dd>{escape(_fact(getattr(layer, fact.key, None), fact.format))}</dd></div>"
        for fact in LAYER_FACTS
        if getattr(layer, fact.key, None) not in (None, "")
    )
    notes = "".join(f"<li>{escape(text)}</li>" for label, text in labels if text != label)
    meta = f"#{layer.layer_index} · {layer.N}×{layer.M} {layer.kind} · {layer.message}"
    body = (
        f'<section class="layer-view"><p>{_badges(labels)}</p>{figure}{f"<ul>{notes}</ul>" if notes else ""}'
        f'<dl class="metrics">{facts}</dl></section>'
    )
    return fragment(layer.name, meta, [body])


def _fact(value: object, fmt: str | None) -> str:
    if not fmt or isinstance(value, str):
        return str(value)
    return _number(value, fmt) if not (isinstance(value, float) and math.isnan(value)) else "–"


def comparison_html(comparison: ModelComparison) -> str:
    """A comparison in a notebook: summary, alpha of A and B and the change by layer, the sortable table."""
    title = f"netspectra compare: {display_name(comparison.source_a)} → {display_name(comparison.source_b)}"
    return fragment(title, f"A {comparison.source_a} · B {comparison.source_b}", comparison_sections(comparison))


def trajectory_html(trajectory: Trajectory) -> str:
    """A trajectory in a notebook: summary, the tracked quantities over the steps, the tables by step and layer."""
    return fragment("netspectra track", f"{len(trajectory.steps)} checkpoints", trajectory_sections(trajectory))


def compatibility_html(report: CompatibilityReport) -> str:
    """A merge-check in a notebook: the verdicts, distance and interference by layer, the table."""
    return fragment("netspectra merge-check", ", ".join(report.models), compatibility_sections(report))


def merge_html(result: MergeResult) -> str:
    """A merge in a notebook: what was done to every tensor."""
    return fragment(f"netspectra merge ({result.method})", result.output, merge_sections(result))
