"""One self-contained HTML file per model: summary, sortable layer table, per-layer plots.

Everything is inline (CSS, JavaScript, figures as SVG elements drawn by :mod:`netspectra.report.svg_figures`
in milliseconds, with hover values and zoom: :mod:`netspectra.report.html_assets`) and a
Content-Security-Policy forbids any other source, so the file opens from disk, offline, and fetches
nothing.  Each layer's plot sits in a ``<template>`` inside a closed ``<details>`` element and is only laid
out when opened, so a report of hundreds of layers opens at once.  The parts (summary, figures, table)
also make the notebook views of :mod:`netspectra.report.notebook` and the compare, track and merge pages
of :mod:`netspectra.report.html_views`.

Eigenvalue convention: W is N x M with N >= M, eigenvalues of W^T W / N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra import __version__
from netspectra.atomic import atomic_write, check_parent
from netspectra.defaults import EXPERT_OUTLIER_Z, OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA
from netspectra.errors import UsageError
from netspectra.report import html_assets
from netspectra.report.columns import ALPHA_STATS_PAGE, Column, columns
from netspectra.report.svg_figures import alpha_depth_svg, layer_svg
from netspectra.report.verdict import layer_labels, phase_counts, reading

if TYPE_CHECKING:  # results are only read here: the report layer imports no result module when it runs
    from netspectra.diagnose.model import ModelReport, ModelSummary
    from netspectra.diagnose.rollups import AlphaStats
    from netspectra.diagnose.row import LayerReport

#: The layer table: column, header, format (``-`` for text) and help.
TABLE_COLUMNS: tuple[Column, ...] = columns(
    """
    layer_index        #          d    order of the matrix in the model
    name               layer      -    tensor name
    role               role       -    what the matrix does: attn_q/k/v/o, mlp_gate/up/down, router, expert_up, embedding, lm_head, ...
    block              block      d    transformer block (-1 outside the blocks)
    expert             expert     d    expert of its mixture-of-experts block (-1 for other matrices)
    kind               kind       -    linear, embedding, conv, attention_q/k/v
    N                  N          d    rows after orientation (N >= M)
    M                  M          d    columns after orientation
    alpha              α          .2f  power-law exponent of the eigenvalue tail (2 to 6 is typical of trained layers)
    alpha_weighted     α_w        .2f  alpha log10(lambda_max), WeightWatcher's eigenvalue units s²
    ks_distance        KS         .3f  KS distance of the tail to the fitted power law
    num_tail           tail       d    eigenvalues in the power-law tail
    num_spikes         spikes     d    eigenvalues above the Tracy–Widom edge of the MP bulk
    sigma2_mp          σ²         .3g  Marchenko–Pastur noise level (median estimator)
    stable_rank        stable rk  .1f  sum lambda / lambda_max
    entropy            entropy    .3f  normalised spectral entropy in [0, 1]
    log_spectral_norm  log‖W‖₂    .2f  log10 of the spectral norm
    """  # noqa: E501 (a help is one cell: the role's runs past the width)
)
#: Columns from the RMT-depth analysis, shown when some layer has a value in them.
OPTIONAL_COLUMNS: tuple[Column, ...] = columns(
    """
    phase          phase    -    5+1 phase of Martin & Mahoney (2021)
    spacing_ratio  ⟨r⟩      .3f  mean spacing ratio of the bulk: GOE 0.531, Poisson 0.386
    kappa_htmp     κ        .3g  HTMP repulsion kappa (inf: MP wins)
    mp_area        MP area  .3f  share of the spectral weight inside the MP bulk
    """
)
#: Placement columns and the value that says nothing: shown when some layer has another.
PLACEMENT_UNKNOWN: dict[str, object] = {"role": "other", "block": -1, "expert": -1}
DTYPE_COLUMN = Column("dtype", "dtype", None, "stored dtype (F32, BF16, F8_E4M3, Q4_K, ...)")
WARNING_COLUMN = Column("warning", "warning", None, "warning labels; details below")
HTML_SUFFIXES = (".html", ".htm")
#: File and directory names that say nothing about the model.
GENERIC_NAMES = {"model", "models", "pytorch_model", "weights", "checkpoint", "checkpoints", "snapshots"}
#: Explanation and colour of each warning label's summary card (labels not listed get none and amber).
LABEL_HINTS = {
    "under-trained": f"α > {UNDER_TRAINED_ALPHA:g}",
    "over-trained": f"α < {OVER_TRAINED_ALPHA:g}",
    "rank-collapse": "> 10% zero eigenvalues",
    "fit-failed": "no power-law fit",
    "large-entries": "single entries make an outlier",
}
LABEL_TONES = {"over-trained": "bad", "fit-failed": ""}
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def check_html_path(path: str | Path) -> Path:
    """Refuse, before any work, a report path that is not .html/.htm or whose folder cannot be made."""
    path = Path(path)
    if path.suffix.lower() not in HTML_SUFFIXES:
        raise UsageError(f"{path}: an HTML report must end in .html")
    check_parent(path)
    return path


def display_name(source: str) -> str:
    """The model's name for a title: the file name, after the nearest informative directory when the
    file name is generic (``.../all-MiniLM-L6-v2/model/model.safetensors`` -> ``all-MiniLM-L6-v2/model.safetensors``)."""
    path = Path(source)
    stem = path.name.split(".")[0].split("-0")[0]
    if stem.lower() not in GENERIC_NAMES:
        return path.name or source
    parent = next((p for p in reversed(path.parent.parts) if p.lower() not in GENERIC_NAMES and p not in ("/", ".")), "")
    return f"{parent}/{path.name}" if parent else path.name


def write_html(report: ModelReport, path: str | Path) -> Path:
    """Render :func:`render_html` and write it to ``path`` atomically."""
    path = check_html_path(path)
    text = render_html(report)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def render_html(report: ModelReport) -> str:
    """The whole report as one HTML document (a string); layers with eigenvalues get plots, rows without
    (unanalyzable layers, rows read back from CSV) get their reason."""
    layers = report.layers
    columns = table_columns(layers)
    images = [layer_svg(layer) if layer.eigenvalues is not None and layer.eigenvalues.size else None for layer in layers]
    overview = alpha_depth_svg(layers) if layers else None
    summary = report.summary  # computed on each access: once here
    name = display_name(report.source)
    body = [
        _summary(report, summary),
        _overview(overview, len(layers)),
        _groups(summary),
        _table(layers, columns),
        _details(layers, images),
    ]
    return document(f"netspectra · {name}", _header(report, name), body, _footer())


def table_columns(layers: Sequence[LayerReport], keep: Sequence[str] | None = None) -> list[Column]:
    """The layer table's columns: :data:`TABLE_COLUMNS` (those in ``keep``, if given; the placement columns
    role, block and expert where some layer has one), the optional ones some layer has a value in, the
    stored dtype (if kept) and the warning labels."""
    fixed = [
        c
        for c in TABLE_COLUMNS
        if (keep is None or c[0] in keep) and (c[0] not in PLACEMENT_UNKNOWN or any(_placed(layer, c[0]) for layer in layers))
    ]
    optional = [c for c in OPTIONAL_COLUMNS if any(_has_value(layer, c[0]) for layer in layers)]
    dtype = [DTYPE_COLUMN] if keep is None or DTYPE_COLUMN[0] in keep else []
    return [*fixed, *optional, *dtype, WARNING_COLUMN]


def document(title: str, header: str, body: Sequence[str], footer: str) -> str:
    """A standalone page: the stylesheet, the scripts, the Content-Security-Policy, ``header``, the ``body``
    sections in ``<main>`` and ``footer``."""
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{html_assets.PAGE_CSS}{html_assets.CSS}</style>",
            f"<script>{html_assets.ERROR_SCRIPT}</script>",
            '</head><body class="nsr">',
            '<div id="js-errors" role="alert" hidden></div>',
            header,
            "<main>",
            *body,
            "</main>",
            footer,
            f"<script>{html_assets.MAIN_SCRIPT}</script>",
            "</body></html>",
        ]
    )


def _header(report: ModelReport, name: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<header><h1>netspectra report: {escape(name)}</h1>"
        f'<p class="meta">source <code>{escape(report.source)}</code> · {len(report.layers)} weight matrices · '
        f"generated {when} by netspectra {escape(__version__)} · eigenvalues λ of WᵀW/N, W is N×M with N ≥ M</p>"
        "</header>"
    )


def _card(value: str, label: str, hint: str, tone: str = "") -> str:
    return (
        f'<div class="card {tone}"><div class="value">{escape(value)}</div><div class="label">{escape(label)}</div>'
        f'<div class="hint">{escape(hint)}</div></div>'
    )


def _summary(report: ModelReport, summary: ModelSummary) -> str:
    counts = summary.warning_counts
    fitted = summary.num_ok
    cards = [
        _card(str(summary.num_layers), "weight matrices", f"{fitted} with a power-law fit"),
        _card(_number(summary.alpha_mean, ".2f"), "mean α", f"median {_number(summary.alpha_median, '.2f')}"),
        _card(_number(summary.alpha_weighted_mean, ".2f"), "mean α_w", "weighted alpha"),
        *(
            _card(str(n), label.replace("-", " "), LABEL_HINTS.get(label, ""), (LABEL_TONES.get(label, "warn") if n else ""))
            for label, n in counts.items()
        ),
        _card(str(summary.num_errors), "not analyzable", "NaN/Inf, zero, 1 × N", "bad" if summary.num_errors else ""),
    ]
    if summary.experts:
        cards.append(
            _card(
                str(summary.num_expert_outliers),
                "experts standing out",
                f"of {sum(group.num_experts for group in summary.experts)} expert matrices",
                "warn" if summary.num_expert_outliers else "",
            )
        )
    if math.isfinite(summary.wall_seconds):
        cards.append(_card(f"{summary.wall_seconds:.1f} s", "run time", "wall time of the analysis"))
    if math.isfinite(summary.peak_rss_mib):
        cards.append(_card(f"{summary.peak_rss_mib:,.0f} MiB", "peak memory", "peak resident set size of the process"))
    phases = phase_counts(report.layers)
    phase_line = (
        '<p class="phases">Phases: ' + " · ".join(f"{escape(p)} {n}" for p, n in phases.most_common()) + "</p>" if phases else ""
    )
    flagged = [(pos, layer, labels) for pos, layer in enumerate(report.layers) if (labels := layer_labels(layer))]
    items = "".join(
        f'<li><a href="#layer-{pos}">{escape(layer.name)}</a> {_badges(labels)} α = {_number(layer.alpha, ".2f")}</li>'
        for pos, layer, labels in flagged
    )
    warnings = (
        f'<h3>Warnings ({len(flagged)} of {len(report.layers)} layers)</h3><ul class="warnings">{items}</ul>'
        if flagged
        else "<h3>Warnings</h3><p>No layer carries a warning.</p>"
    )
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<p class="verdict">{escape(reading(summary, report.layers))}</p>'
        f'<div class="cards">{"".join(cards)}</div>{phase_line}{warnings}</section>'
    )


def _overview(svg: str | None, num_layers: int) -> str:
    if svg is None:
        return ""
    return (
        '<section id="overview"><h2>Alpha by depth</h2><div class="figure">'
        f"{inline_svg(svg, f'alpha and weighted alpha of the {num_layers} layers by depth (per role against the block, if any)')}"
        "</div></section>"
    )


def _groups(summary: ModelSummary) -> str:
    """The layers by role, by block and the experts of each block against each other (when the names say them)."""
    parts = []
    if any(group.role != "other" for group in summary.by_role):
        rows = [([group.role], group.stats) for group in summary.by_role]
        parts.append(_stats_table("by-role", "By role", ["role"], rows))
    if summary.by_block:
        stacked = any(group.stack for group in summary.by_block)
        rows = [([group.stack, str(group.block)] if stacked else [str(group.block)], group.stats) for group in summary.by_block]
        parts.append(_stats_table("by-block", "By block", ["stack", "block"] if stacked else ["block"], rows))
    if summary.experts:
        parts.append(_experts_table(summary))
    return "".join(parts)


def _stats_table(ident: str, title: str, heads: list[str], rows: list[tuple[list[str], AlphaStats]]) -> str:
    head = "".join(f'<th scope="col" class="text">{escape(h)}</th>' for h in heads) + "".join(
        f'<th scope="col" class="num">{escape(c.header)}</th>' for c in ALPHA_STATS_PAGE
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="text">{escape(k)}</td>' for k in keys)
        + "".join(f'<td class="num">{escape(_number(getattr(stats, c.key), c.format))}</td>' for c in ALPHA_STATS_PAGE)
        + "</tr>"
        for keys, stats in rows
    )
    return (
        f'<section id="{ident}"><h2>{escape(title)}</h2><div class="table-wrap"><table class="groups">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


#: Left-aligned columns of the experts table (as their cells).
TEXT_HEADS = ("stack", "role", "standing out")


def _experts_table(summary: ModelSummary) -> str:
    rows = []
    for group in summary.experts:
        standing = ", ".join(
            f"expert {o.expert}: α {_number(o.alpha, '.2f')} (z {_number(o.robust_z, '.1f')})" for o in group.outliers
        )
        tone = ' class="flag-outlier"' if group.outliers else ""
        rows.append(
            f'<tr{tone}><td class="text">{escape(group.stack)}</td><td class="num">{group.block}</td>'
            f'<td class="text">{escape(group.role)}</td><td class="num">{group.num_experts}</td>'
            f'<td class="num">{group.num_fitted}</td>'
            + "".join(
                f'<td class="num">{escape(_number(getattr(group, f), ".2f"))}</td>'
                for f in ("alpha_median", "alpha_mad", "alpha_min", "alpha_max")
            )
            + f'<td class="text">{escape(standing)}</td></tr>'
        )
    heads = ["stack", "block", "role", "experts", "fitted", "median α", "MAD", "min α", "max α", "standing out"]
    head = "".join(f'<th scope="col" class="{"text" if h in TEXT_HEADS else "num"}">{escape(h)}</th>' for h in heads)
    return (
        '<section id="experts"><h2>Experts</h2>'
        f'<p class="hint">The experts of each block and role against each other: an expert stands out when '
        f"|α − median| &gt; {EXPERT_OUTLIER_Z:g} × 1.4826 MAD of its siblings (modified z-score, Iglewicz &amp; Hoaglin "
        f"1993); {summary.num_expert_outliers} do.</p>"
        f'<div class="table-wrap"><table class="groups"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div></section>"
    )


def _table(layers: Sequence[LayerReport], columns: list[tuple[str, str, str | None, str]], *, links: bool = True) -> str:
    """The sortable layer table; ``links``: each name links to its layer's plots below."""
    head = "".join(
        f'<th scope="col" data-key="{col}" data-type="{"num" if fmt else "text"}" class="{"num" if fmt else "text"}" '
        f'title="{escape(help_)}"><button type="button">{escape(header)}</button></th>'
        for col, header, fmt, help_ in columns
    )
    rows = []
    for pos, layer in enumerate(layers):
        labels = layer_labels(layer)
        flag = next((label for label, _ in labels if label != "note"), "")
        cells = "".join(_cell(pos, layer, col, fmt, links) for col, _, fmt, _ in columns)
        rows.append(f'<tr data-pos="{pos}" data-name="{escape(layer.name)}" class="flag-{flag or "none"}">{cells}</tr>')
    return (
        '<section id="table-section"><h2>Layers</h2><div class="toolbar">'
        '<input id="layer-filter" class="row-filter" type="search" placeholder="filter layers by name" '
        'aria-label="filter layers by name"><span id="filter-count" class="hint filter-count"></span>'
        f'<span class="hint">Click a column header to sort (again to reverse){"; click a layer for its plots" if links else ""}.'
        "</span></div>"
        f'<div class="table-wrap"><table id="layer-table" class="sortable layers"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _cell(pos: int, layer: LayerReport, col: str, fmt: str | None, links: bool = True) -> str:
    value = getattr(layer, col, None)
    if col == "name":
        # a long name wraps at its dots and underscores
        shown = escape(layer.name.removesuffix(".weight")).replace(".", ".<wbr>").replace("_", "_<wbr>")
        link = f'<a href="#layer-{pos}">{shown}</a>' if links else shown
        return f'<td class="text name" data-v="{escape(layer.name)}" title="{escape(layer.name)}">{link}</td>'
    if col == "warning":
        labels = layer_labels(layer)
        return f'<td class="text labels" data-v="{escape(" ".join(label for label, _ in labels))}">{_badges(labels)}</td>'
    if fmt is None:
        text = "" if value is None else str(value)
        shown = escape(text).replace("_", "_<wbr>")  # attn_q, token_type_embedding, attention_q wrap at their underscores
        return f'<td class="text" data-v="{escape(text)}">{shown}</td>'
    tone = "num"
    if col == "alpha" and isinstance(value, float) and math.isfinite(value):
        tone = "alpha-over" if value < OVER_TRAINED_ALPHA else ("alpha-under" if value > UNDER_TRAINED_ALPHA else tone)
    return f'<td class="{tone}" data-v="{_sort_key(value)}">{escape(_number(value, fmt))}</td>'


def _details(layers: Sequence[LayerReport], images: Sequence[str | None]) -> str:
    blocks = []
    for pos, (layer, svg) in enumerate(zip(layers, images)):
        labels = layer_labels(layer)
        if svg is not None:
            alt = f"{layer.name}: log-log spectral density with the power-law fit, MP bulk fit, level spacing"
            figure = f'<div class="figure"><template>{inline_svg(svg, alt)}</template></div>'
        else:
            figure = f"<p>No spectrum to plot ({escape(layer.warning or layer.status)}).</p>"
        notes = "".join(f"<li>{escape(text)}</li>" for label, text in labels if text != label)
        if _has_value(layer, "phase"):
            reason = getattr(layer, "phase_reason", "")
            notes += f"<li>phase <b>{escape(str(layer.phase))}</b>{': ' + escape(reason) if reason else ''}</li>"
        metrics = "".join(
            f"<div><dt>{escape(key)}</dt><dd>{escape(_number(value, '.4g'))}</dd></div>"
            for key, value in layer.to_dict().items()
            if key not in ("name", "warning", "phase_reason")
        )
        blocks.append(
            f'<details class="layer" id="layer-{pos}" data-pos="{pos}"><summary><span class="idx">{layer.layer_index}</span> '
            f'{escape(layer.name)} {_badges(labels)} <span class="hint">{layer.N}×{layer.M} · '
            f'α = {_number(layer.alpha, ".2f")}</span></summary><div class="body">{figure}'
            f'{f"<ul>{notes}</ul>" if notes else ""}<dl class="metrics">{metrics}</dl></div></details>'
        )
    return (
        '<section id="details"><h2>Per-layer detail</h2>'
        '<p class="hint">Open a layer for its log-log spectral density with the power-law fit (xmin dashed), '
        "the bulk against the Marchenko–Pastur law with its edge, Tracy–Widom edge and spikes, and the "
        "level-spacing distribution against the Wigner surmise and Poisson; and every column.</p>"
        f"{''.join(blocks)}</section>"
    )


def _footer() -> str:
    return (
        "<footer>Columns are described in the netspectra README (section “Columns”). α thresholds 2 and 6 are "
        "WeightWatcher's; eigenvalues λ are those of WᵀW/N except in columns ending in _ww, alpha_weighted and "
        "log_alpha_norm, which use s² = Nλ. This file is self-contained and makes no network requests.</footer>"
    )


def _badges(labels: Sequence[tuple[str, str]]) -> str:
    return "".join(f'<span class="badge {label}" title="{escape(text)}">{escape(label)}</span>' for label, text in labels)


def inline_svg(svg: str, alt: str) -> str:
    """An SVG figure of :mod:`netspectra.report.svg` as an element of the page, labelled ``alt`` for screen
    readers (every text in it is escaped, it holds no script or link, and the page's policy lets it load nothing)."""
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(alt)}" ', 1)


def _number(value: object, fmt: str) -> str:
    """A cell's text: "–" for missing or NaN, ``fmt`` for numbers, ``str`` otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return format(value, fmt) if isinstance(value, float) or fmt.endswith("d") else format(value, "d")


def _placed(layer: LayerReport, column: str) -> bool:
    """Whether the row's placement ``column`` (role, block, expert) says something (not other / -1)."""
    return getattr(layer, column) != PLACEMENT_UNKNOWN[column]


def _has_value(layer: LayerReport, column: str) -> bool:
    """Whether the row has ``column`` with a value: not missing, not NaN, not an empty string."""
    value = getattr(layer, column, None)
    return not (value is None or value == "" or (isinstance(value, float) and math.isnan(value)))


def _sort_key(value: object) -> str:
    """``data-v`` of a numeric cell: full precision for JavaScript's Number(); empty when missing."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return "Infinity" if value == math.inf else ("-Infinity" if value == -math.inf else repr(value))
    return ""
