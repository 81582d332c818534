"""HTML views of the other results: a comparison of two checkpoints, two stored runs side by side, a
training trajectory, a merge and a merge-check; each a self-contained page like the model report
(:func:`netspectra.report.html.document`: inline CSS, script and SVG figures with hover values and zoom,
a policy that forbids loading anything) or, for a notebook, a fragment of the same parts
(:mod:`netspectra.report.notebook`).

Each view is a list of sections: a summary (one sentence and cards), a figure (:mod:`.view_figures`) and
a sortable table of the result's rows (click a header to sort, again to reverse, missing values last).

Eigenvalue convention: W is N x M with N >= M, and the eigenvalues are those of W^T W / N.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra import __version__
from netspectra.atomic import atomic_write
from netspectra.report.columns import Column, columns
from netspectra.report.html import (
    LABEL_HINTS,
    LABEL_TONES,
    _badges,
    _card,
    _number,
    _sort_key,
    check_html_path,
    display_name,
    document,
    inline_svg,
)
from netspectra.report.verdict import reading
from netspectra.report.view_figures import comparison_svg, layer_values_svg, trajectory_svg

if TYPE_CHECKING:  # results are only read here (they show themselves through this module)
    from netspectra.compare.result import LayerComparison, ModelComparison
    from netspectra.compare.track import Trajectory
    from netspectra.diagnose.model import ModelReport
    from netspectra.merge.results import CompatibilityReport, MergeResult

# The tables' columns: key of the row's dict, header, number format (``-`` for text, ``labels`` for badges), help.
COMPARISON_COLUMNS: tuple[Column, ...] = columns(
    """
    name                     layer       -       the layer's name in A (↔ its name in B when they differ)
    matched_by               by          -       how the pair was matched: same name, or same shape in order
    alpha_a                  α A         .2f     power-law exponent in A
    alpha_b                  α B         .2f     power-law exponent in B
    delta_alpha              Δα          +.3f    α_B − α_A
    alpha_z                  z           .1f     |Δα| over the standard error of the difference
    delta_num_spikes         Δspikes     +d      change in the eigenvalues above the Tracy–Widom edge
    diff_rel_frobenius       ‖ΔW‖F/‖W‖F  .2e     ‖W_B − W_A‖_F / ‖W_A‖_F
    diff_rel_spectral        ‖ΔW‖₂/‖W‖₂  .2e     ‖W_B − W_A‖₂ / ‖W_A‖₂
    diff_rank                rank ΔW     d       numerical rank of W_B − W_A
    diff_alpha               α ΔW        .2f     power-law exponent of the spectrum of W_B − W_A
    delta_alpha_weighted     Δα_w        +.3f    change in alpha_weighted
    delta_log_spectral_norm  Δlog‖W‖₂    +.4f    change in log10 of the spectral norm
    phase_a                  phase A     -       phase of the layer in A
    phase_b                  phase B     -       phase of the layer in B
    reasons                  flagged     labels  the rules the layer trips: weights, alpha, spikes, phase, status
    """
)
TRACK_STEP_COLUMNS: tuple[Column, ...] = columns(
    """
    step           step        d    training step of the checkpoint
    checkpoint     checkpoint  -    the checkpoint's file or folder
    alpha          α           .3f  mean power-law exponent over the layers
    sigma2         σ²          .4g  mean MP bulk width over the layers
    area           A           .3f  mean MP bulk area over the layers
    tail_weight    1 − A       .3f  mean tail weight over the layers
    num_spikes     spikes      d    eigenvalues above the Tracy–Widom edge, all layers
    spacing_ratio  ⟨r⟩         .3f  mean spacing ratio over the layers (GOE 0.531, Poisson 0.386)
    """
)
TRACK_LAYER_COLUMNS: tuple[Column, ...] = columns(
    """
    layer_index   #             d     order of the matrix in the model
    name          layer         -     tensor name
    alpha_first   α first       .3f   α at the first step
    alpha_last    α last        .3f   α at the last step
    delta_alpha   Δα            +.3f  α last − α first
    spikes_first  spikes first  d     spikes at the first step
    spikes_last   spikes last   d     spikes at the last step
    area_last     A last        .3f   MP bulk area at the last step
    """
)
MERGE_COLUMNS: tuple[Column, ...] = columns(
    """
    name          tensor        -       tensor name
    shape         shape         -       stored shape
    dtype         dtype         -       dtype written
    shard         shard         -       output file
    rule          rule          -       what was applied
    reason        why           -       why that rule
    details       details       -       the rule's parameters and outcome
    verdict       verdict       labels  compatibility verdict (spectral-auto only)
    interference  interference  .3f     task-vector interference (spectral-auto only)
    """
)
COMPATIBILITY_COLUMNS: tuple[Column, ...] = columns(
    """
    name                 layer         -       tensor name
    shape                shape         -       stored shape
    verdict              verdict       labels  compatible, caution or incompatible: the worst criterion
    erank_spread         erank spread  .3f     (largest − smallest effective rank) / largest
    spectral_norm_ratio  ‖W‖₂ ratio    .3g     largest / smallest spectral norm
    sigma2_ratio         σ² ratio      .3g     largest / smallest Marchenko–Pastur noise level
    spikes               spikes        -       fewest – most eigenvalues above the Tracy–Widom edge
    rel_distance         distance      .3g     max ‖M_i − R‖_F / ‖R‖_F
    task_ranks           task ranks    -       signal rank of each task vector
    interference         interference  .3f     overlap of the task vectors' signal subspaces beyond chance
    reasons              reasons       -       the criteria past a threshold
    """
)


# ----------------------------------------------------------------------------------------------- parts


def rows_table(
    records: Sequence[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    title: str,
    flag: Callable[[Mapping[str, object]], str] = lambda _: "",
    drop_empty: bool = True,
) -> str:
    """A sortable table of ``records`` (dicts) in ``columns``, with a filter box when the records have names; a
    column no record has a value in is left out when ``drop_empty``; ``flag(record)`` tints its row
    (``flag-<label>``)."""
    kept = [c for c in columns if not drop_empty or any(_present(r.get(c[0])) for r in records)]
    head = "".join(
        f'<th scope="col" data-key="{key}" data-type="{"num" if fmt not in (None, "labels") else "text"}" '
        f'class="{"num" if fmt not in (None, "labels") else "text"}" title="{escape(help_)}">'
        f'<button type="button">{escape(header)}</button></th>'
        for key, header, fmt, help_ in kept
    )
    rows = []
    for pos, record in enumerate(records):
        cells = "".join(_record_cell(record.get(key), fmt, key) for key, _, fmt, _ in kept)
        name = escape(str(record.get("name", "")))
        rows.append(f'<tr data-pos="{pos}" data-name="{name}" class="flag-{escape(flag(record)) or "none"}">{cells}</tr>')
    named = any(record.get("name") for record in records)
    search = (
        '<input class="row-filter" type="search" placeholder="filter by name" aria-label="filter rows by name">'
        '<span class="hint filter-count"></span>'
        if named
        else ""
    )
    return (
        f'<section class="rows"><h2>{escape(title)}</h2><div class="toolbar">{search}'
        '<span class="hint">Click a column header to sort (again to reverse).</span>'
        f'</div><div class="table-wrap"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _present(value: object) -> bool:
    return not (value is None or value == "" or (isinstance(value, float) and math.isnan(value)))


def _record_cell(value: object, fmt: str | None, key: str) -> str:
    if fmt == "labels":
        labels = [label for label in str(value or "").split("; ") if label]
        return f'<td class="text labels" data-v="{escape(" ".join(labels))}">{_badges([(x, x) for x in labels])}</td>'
    if fmt is None:
        text = "" if value is None else str(value)
        css = "text name" if key == "name" else "text"
        return f'<td class="{css}" data-v="{escape(text)}" title="{escape(text)}">{escape(text)}</td>'
    return f'<td class="num" data-v="{_sort_key(value)}">{escape(_signed(value, fmt))}</td>'


def _signed(value: object, fmt: str) -> str:
    """:func:`netspectra.report.html._number`, keeping a sign format (``+.3f``, ``+d``)."""
    if fmt.startswith("+") and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return format(value, fmt)
    return _number(value, fmt.lstrip("+"))


def summary_section(title: str, sentence: str, cards: Sequence[str], extra: str = "", *, ident: str = "summary") -> str:
    """A summary: one sentence, then cards (:func:`netspectra.report.html._card`)."""
    return (
        f'<section id="{ident}" class="summary"><h2>{escape(title)}</h2><p class="verdict">{escape(sentence)}</p>'
        f'<div class="cards">{"".join(cards)}</div>{extra}</section>'
    )


def model_summary(report: ModelReport, *, title: str = "Summary", ident: str = "summary") -> str:
    """The reading of a model and its main cards: layers, mean and median alpha, each warning label's count."""
    summary = report.summary
    cards = [
        _card(str(summary.num_layers), "weight matrices", f"{summary.num_ok} with a power-law fit"),
        _card(_number(summary.alpha_mean, ".2f"), "mean α", f"median {_number(summary.alpha_median, '.2f')}"),
        _card(_number(summary.alpha_weighted_mean, ".2f"), "mean α_w", "weighted alpha"),
        *(
            _card(str(n), label.replace("-", " "), LABEL_HINTS.get(label, ""), LABEL_TONES.get(label, "warn"))
            for label, n in summary.warning_counts.items()
            if n
        ),
    ]
    if summary.num_errors:
        cards.append(_card(str(summary.num_errors), "not analyzable", "NaN/Inf, zero, 1 × N", "bad"))
    return summary_section(title, reading(summary, report.layers), cards, ident=ident)


def figure_section(title: str, svg: str, alt: str) -> str:
    """A titled figure (an SVG of :mod:`netspectra.report.svg`) with how to read it."""
    hint = "Hover a point for its layer and value; drag a box to zoom, double-click to zoom out."
    figure = f'<div class="figure">{inline_svg(svg, alt)}</div>'
    return f'<section class="figures"><h2>{escape(title)}</h2><p class="hint">{hint}</p>{figure}</section>'


def page_header(title: str, lines: Sequence[str]) -> str:
    """A page's title and a line of facts (and when and by what it was made)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = " · ".join([*(escape(line) for line in lines), f"generated {when} by netspectra {escape(__version__)}"])
    return f'<header><h1>{escape(title)}</h1><p class="meta">{meta}</p></header>'


def _footer(text: str) -> str:
    return f"<footer>{escape(text)} This file is self-contained and makes no network requests.</footer>"


# ----------------------------------------------------------------------------------------------- compare


def comparison_sections(comparison: ModelComparison, *, title: str = "Summary") -> list[str]:
    """Summary, figure, table of matched layers and the unmatched matrices of a comparison."""
    layers = comparison.layers
    by_name = sum(c.matched_by == "name" for c in layers)
    reasons = Counter(r for c in layers for r in c.reasons.split("; ") if r)
    flagged = f"{len(comparison.flagged)} flagged" + (
        " (" + ", ".join(f"{n} {r}" for r, n in reasons.most_common()) + ")" if reasons else ""
    )
    sentence = (
        f"{len(layers)} layers matched ({by_name} by name, {len(layers) - by_name} by shape); {flagged}; "
        f"{len(comparison.unmatched)} without a counterpart."
    )
    changes = [c.diff_rel_frobenius for c in layers if math.isfinite(c.diff_rel_frobenius)]
    shifts = [abs(c.delta_alpha) for c in layers if math.isfinite(c.delta_alpha)]
    cards = [
        _card(str(len(layers)), "matched layers", f"{by_name} by name"),
        _card(str(len(comparison.flagged)), "flagged", "a rule tripped", "warn" if comparison.flagged else ""),
        _card(_number(statistics.median(changes), ".2e") if changes else "–", "median ‖ΔW‖/‖W‖", "relative change"),
        _card(_number(max(shifts), ".3f") if shifts else "–", "largest |Δα|", "α_B − α_A"),
        _card(str(len(comparison.unmatched)), "unmatched", "no counterpart", "warn" if comparison.unmatched else ""),
    ]
    extra = f'<p class="verdict">warning: {escape(comparison.warning)}</p>' if comparison.warning else ""
    records = [_comparison_record(c) for c in layers]
    sections = [
        summary_section(title, sentence, cards, extra, ident="comparison"),
        figure_section("α and change by layer", comparison_svg(layers), "alpha of A and B and the change of each layer"),
        rows_table(records, COMPARISON_COLUMNS, title="Matched layers", flag=lambda r: "flagged" if r["reasons"] else ""),
    ]
    if comparison.unmatched:
        items = "".join(f"<li>{escape(u.side.upper())}: {escape(u.name)} ({escape(u.reason)})</li>" for u in comparison.unmatched)
        sections.append(f'<section class="unmatched"><h2>Without a counterpart</h2><ul>{items}</ul></section>')
    return sections


def _comparison_record(c: LayerComparison) -> dict[str, object]:
    record: dict[str, object] = c.to_dict()
    record["name"] = c.name_a if c.name_a == c.name_b else f"{c.name_a} ↔ {c.name_b}"
    record["diff_rank"] = c.diff_rank if c.diff_rank >= 0 else None
    return record


def render_comparison_html(comparison: ModelComparison) -> str:
    """The page of :func:`netspectra.compare_models`' result: what changed from A to B, layer by layer."""
    a, b = display_name(comparison.source_a), display_name(comparison.source_b)
    header = page_header(f"netspectra compare: {a} → {b}", [f"A {comparison.source_a}", f"B {comparison.source_b}"])
    rules = "Flag rules and thresholds: " + ", ".join(f"{k} {v:g}" for k, v in comparison.thresholds.to_dict().items()) + "."
    return document(f"netspectra · {a} → {b}", header, comparison_sections(comparison), _footer(rules))


def render_runs_html(a: ModelReport, b: ModelReport, comparison: ModelComparison, labels: tuple[str, str] = ("A", "B")) -> str:
    """Two analyses side by side (``netspectra report RUN_A RUN_B``): each model's summary in its column, then
    their layers paired by name (``comparison``, :func:`netspectra.compare.pair.compare_reports`) with their
    alphas, deltas and flags."""
    names = display_name(a.source), display_name(b.source)
    columns = "".join(
        model_summary(report, title=f"{label}: {name}", ident=f"summary-{label.lower()}")
        for report, label, name in zip((a, b), ("A", "B"), names)
    )
    header = page_header(
        f"netspectra: {names[0]} beside {names[1]}",
        [f"A = {labels[0]}: {a.source}, {len(a.layers)} matrices", f"B = {labels[1]}: {b.source}, {len(b.layers)} matrices"],
    )
    body = [f'<div class="side-by-side">{columns}</div>', *comparison_sections(comparison, title="Layer by layer")]
    footer = _footer("Layers are paired by name; the rows are those stored, so no spectrum of W_B − W_A is shown.")
    return document(f"netspectra · {names[0]} beside {names[1]}", header, body, footer)


# ----------------------------------------------------------------------------------------------- track


def trajectory_sections(trajectory: Trajectory) -> list[str]:
    """Summary, figure of every tracked quantity over the steps, the per-step means and the per-layer change."""
    points = trajectory.points
    steps = trajectory.steps
    step_records = []
    for step in steps:
        here = [p for p in points if p.step == step]
        record: dict[str, object] = {"step": step, "checkpoint": Path(here[0].checkpoint).name}
        for metric in ("alpha", "sigma2", "area", "tail_weight", "spacing_ratio"):
            values = [getattr(p, metric) for p in here if math.isfinite(getattr(p, metric))]
            record[metric] = sum(values) / len(values) if values else math.nan
        record["num_spikes"] = sum(p.num_spikes for p in here)
        step_records.append(record)
    first = {p.layer: p for p in points if p.step == steps[0]} if steps else {}
    last = {p.layer: p for p in points if p.step == steps[-1]} if steps else {}
    layer_records = [
        {
            "layer_index": end.layer_index,
            "name": name,
            "alpha_first": first[name].alpha if name in first else math.nan,
            "alpha_last": end.alpha,
            "delta_alpha": end.alpha - first[name].alpha if name in first else math.nan,
            "spikes_first": first[name].num_spikes if name in first else None,
            "spikes_last": end.num_spikes,
            "area_last": end.area,
        }
        for name, end in sorted(last.items(), key=lambda item: item[1].layer_index)
    ]
    layers = len({p.layer for p in points})
    alpha_0, alpha_1 = (step_records[0]["alpha"], step_records[-1]["alpha"]) if step_records else (math.nan, math.nan)
    sentence = (
        f"{len(steps)} checkpoints (steps {steps[0]} to {steps[-1]}), {layers} layers; mean α "
        f"{_number(alpha_0, '.3f')} → {_number(alpha_1, '.3f')}."
        if steps
        else "No checkpoint."
    )
    cards = [
        _card(str(len(steps)), "checkpoints", f"steps {steps[0]}–{steps[-1]}" if steps else ""),
        _card(str(layers), "layers", "tracked at every step"),
        _card(_number(alpha_0, ".2f"), "mean α first", "over the layers"),
        _card(_number(alpha_1, ".2f"), "mean α last", "over the layers"),
    ]
    sections = [summary_section("Summary", sentence, cards, ident="trajectory")]
    if points:
        sections.append(figure_section("Over training", trajectory_svg(points), "tracked quantities against the step"))
    sections.append(rows_table(step_records, TRACK_STEP_COLUMNS, title="By step"))
    sections.append(rows_table(layer_records, TRACK_LAYER_COLUMNS, title="By layer: first and last step"))
    return sections


def render_track_html(trajectory: Trajectory) -> str:
    """The page of :func:`netspectra.track`'s result: spectra over training."""
    checkpoints = sorted({(p.step, p.checkpoint) for p in trajectory.points})
    where = display_name(checkpoints[-1][1]) if checkpoints else "no checkpoint"
    header = page_header(f"netspectra track: {len(checkpoints)} checkpoints", [f"last {where}"])
    footer = _footer(
        "σ² and A are the width and area of the trimmed Marchenko–Pastur bulk fit, ⟨r⟩ the mean spacing ratio "
        "of the bulk (Aarts et al., arXiv 2411.13512)."
    )
    return document("netspectra · track", header, trajectory_sections(trajectory), footer)


# ----------------------------------------------------------------------------------------------- merge


def compatibility_sections(report: CompatibilityReport) -> list[str]:
    """Summary, figure of distance and interference per layer, and the table of a merge-check."""
    s = report.summary()
    sentence = (
        f"Model verdict {s['verdict']}: {s['num_layers']} matrices, {s['num_compatible']} compatible, {s['num_caution']} "
        f"caution, {s['num_incompatible']} incompatible ({s['num_other']} other tensors not compared)"
        + ("." if report.base else "; no base: task-vector interference not measured.")
    )
    tone = {"compatible": "", "caution": "warn", "incompatible": "bad"}
    cards = [
        _card(str(s["verdict"]), "model verdict", "the worst layer's", tone[str(s["verdict"])]),
        *(_card(str(s[f"num_{v}"]), v, "layers", tone[v] if s[f"num_{v}"] else "") for v in tone),
        _card(_number(s["max_rel_distance"], ".3g"), "max distance", "‖M_i − R‖_F / ‖R‖_F"),
        _card(_number(s["max_interference"], ".3f"), "max interference", "task vectors"),
    ]
    records = [
        {
            **layer.to_dict(),
            "shape": f"{layer.rows}×{layer.cols}",
            "spikes": f"{layer.spikes_min}–{layer.spikes_max}",
            "task_ranks": " ".join(map(str, layer.task_ranks)),
        }
        for layer in report.layers
    ]
    names = [layer.name for layer in report.layers]
    verdicts = [layer.verdict for layer in report.layers]
    columns = [("distance between the models", "‖M_i − R‖_F / ‖R‖_F", [x.rel_distance for x in report.layers], True)]
    if any(math.isfinite(x.interference) for x in report.layers):
        columns.append(("task-vector interference", "interference", [x.interference for x in report.layers], False))
    return [
        summary_section("Summary", sentence, cards, ident="compatibility"),
        figure_section("By layer", layer_values_svg(names, columns, verdicts), "distance and interference of each layer"),
        rows_table(records, COMPATIBILITY_COLUMNS, title="Layers", flag=lambda r: str(r["verdict"])),
    ]


def render_compatibility_html(report: CompatibilityReport) -> str:
    """The page of :func:`netspectra.merge_check`'s result."""
    base = [f"base {report.base}"] if report.base else []
    header = page_header(f"netspectra merge-check: {len(report.models)} models", [*report.models, *base])
    footer = _footer("Criteria and thresholds: docs/merge.md.")
    return document("netspectra · merge-check", header, compatibility_sections(report), footer)


def merge_sections(result: MergeResult) -> list[str]:
    """Summary, figure of the interference (spectral-auto) and the table of every tensor written."""
    s = result.summary()
    rules = ", ".join(f"{n} {rule}" for rule, n in s["rules"].items())
    sentence = f"{s['num_tensors']} tensors merged with {result.method}: {rules}; written to {result.output}."
    cards = [
        _card(str(s["num_tensors"]), "tensors", result.method),
        *(_card(str(n), rule, "tensors") for rule, n in s["rules"].items()),
        *(_card(str(n), v, "verdict", "bad" if v == "incompatible" else "") for v, n in s["verdicts"].items()),
        _card(str(len(result.files)), "files", "written"),
    ]
    records = [{**layer.to_dict(), "shape": "×".join(map(str, layer.shape)) or "scalar"} for layer in result.layers]
    sections = [summary_section("Summary", sentence, cards, ident="merge")]
    if any(math.isfinite(x.interference) for x in result.layers):
        columns = [("task-vector interference", "interference", [x.interference for x in result.layers], False)]
        svg = layer_values_svg([x.name for x in result.layers], columns, [x.verdict for x in result.layers])
        sections.append(figure_section("By tensor", svg, "interference of each tensor"))
    sections.append(rows_table(records, MERGE_COLUMNS, title="Tensors", flag=lambda r: str(r["verdict"])))
    return sections


def render_merge_html(result: MergeResult) -> str:
    """The page of :func:`netspectra.merge.merge_models`' result: what was done to every tensor."""
    weights = ", ".join(f"{m} ({w:g})" for m, w in zip(result.models, result.weights))
    base = [f"base {result.base}"] if result.base else []
    header = page_header(f"netspectra merge ({result.method}) into {display_name(result.output)}", [weights, *base])
    return document("netspectra · merge", header, merge_sections(result), _footer("Methods and their parameters: docs/merge.md."))


# ----------------------------------------------------------------------------------------------- writing


def write_page(text: str, path: str | Path) -> Path:
    """Write a rendered page to ``path`` (.html, its folder made) atomically."""
    path = check_html_path(path)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
