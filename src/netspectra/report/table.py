"""Terminal output: a rich table of layers, the tensors skipped, the model summary, the one-sentence verdict and
the phases."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from netspectra.defaults import EXPERT_OUTLIER_Z
from netspectra.diagnose.model import ModelReport, ModelSummary
from netspectra.diagnose.row import LayerReport
from netspectra.report.columns import ALPHA_STATS_TERMINAL, Column, columns
from netspectra.report.terminal import plain, safe_console
from netspectra.report.verdict import PHASE_MEANINGS, phase_counts, reading

#: The terminal table (column, header, format: ``-`` for text), most important first; narrow terminals drop the
#: later ones.  Every column is in the CSV/Parquet/JSON output.
TABLE_COLUMNS: tuple[Column, ...] = columns(
    """
    layer_index        #             d
    name               layer         -
    alpha              alpha         .2f
    warning            warning       -
    phase              phase         -
    role               role          -
    block              block         d
    expert             expert        d
    alpha_weighted     alpha_w       .2f
    num_spikes         spikes        d
    N                  N             d
    M                  M             d
    ks_distance        KS            .3f
    stable_rank        stable rk     .1f
    log_spectral_norm  log10 ||W||2  .2f
    kind               kind          -
    """
)
#: The value of a placement column that says nothing (a CNN's layers have no role, block or expert).
_PLACEMENT_UNKNOWN: dict[str, object] = {"role": "other", "block": -1, "expert": -1}
_MIN_NAME_WIDTH = 30
#: On a narrow terminal the name column may shrink to this, to leave room for alpha and the warning.
_NARROW_NAME_WIDTH = 16
_MAX_WARNING_WIDTH = 24
#: Most layers in the terminal table: rich lays a row out in about a millisecond, so a model of 200k
#: matrices would print for minutes; the CSV/Parquet/JSON outputs hold every layer.
MAX_TABLE_ROWS = 1000


def _cell(value: object, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return str(value) if fmt is None else format(value, fmt)


def warning_labels(warning: str) -> str:
    """The labels of a warning cell without their details: ``fit-failed: 2 non-zero ...`` -> ``fit-failed``."""
    return ", ".join(part.split(":")[0] for part in warning.split("; ") if part)


def _table_cell(layer: object, column: Column) -> str:
    value = getattr(layer, column.key)
    return warning_labels(value) if column.key == "warning" else _cell(value, column.format)


def short_name(name: str, width: int) -> str:
    """Drop a trailing ``.weight`` and keep the informative end of a long name: ``…layer.3.output.dense``."""
    name = name.removesuffix(".weight")
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _fit_columns(layers: Sequence[LayerReport], width: int) -> tuple[list[Column], int]:
    """Columns that fit in ``width`` characters (in priority order) and the width left for names.

    Names get at least a third of a narrow terminal (and 30 characters on a wide one), so that on 60
    columns the warning labels still show.  The first column that does not fit ends the table: a less
    important column never takes the place of a more important one.
    """
    min_name = max(_NARROW_NAME_WIDTH, min(_MIN_NAME_WIDTH, width // 3))
    chosen: list[Column] = []
    used = min_name + 4
    for column in TABLE_COLUMNS:
        col = column.key
        if col == "name":
            chosen.append(column)
            continue
        if col in _PLACEMENT_UNKNOWN and all(getattr(layer, col) == _PLACEMENT_UNKNOWN[col] for layer in layers):
            continue  # a model whose names say no role, block or expert: nothing to show
        cells = [_table_cell(layer, column) for layer in layers]
        if col == "warning":  # folds between labels: the longest label is enough
            cells = [label for cell in cells for label in cell.split(", ")]
        need = min(max([len(column.header), *map(len, cells)]), _MAX_WARNING_WIDTH) + 3
        if used + need > width:
            break
        chosen.append(column)
        used += need
    longest = max((len(layer.name.removesuffix(".weight")) for layer in layers), default=10)
    return chosen, max(min_name, min(longest, width - used + min_name))


def layer_table(report: ModelReport, width: int = 120) -> Table:
    """Rich table of the layers (the first :data:`MAX_TABLE_ROWS`, the caption says so when there are more),
    with as many columns as fit in ``width`` characters."""
    layers = report.layers[:MAX_TABLE_ROWS]
    shown, name_width = _fit_columns(layers, width)
    table = Table(title=plain(f"netspectra: {Path(report.source).name}"), header_style="bold")
    if len(report.layers) > len(layers):
        table.caption = plain(
            f"the first {len(layers):,} of {len(report.layers):,} layers; -o FILE.csv or --json gives every layer"
        )
    for column in shown:
        if column.key == "name":
            table.add_column(column.header, no_wrap=True, min_width=min(name_width, _NARROW_NAME_WIDTH), max_width=name_width)
        elif column.key == "warning":
            table.add_column(column.header, overflow="fold", max_width=_MAX_WARNING_WIDTH)
        else:
            table.add_column(column.header, justify="left" if column.format is None else "right", no_wrap=True)
    for layer in layers:
        style = "red" if layer.status == "error" else ("yellow" if layer.warning else None)
        cells = [
            plain(short_name(layer.name, name_width) if column.key == "name" else _table_cell(layer, column)) for column in shown
        ]
        table.add_row(*cells, style=style)
    return table


def summary_table(summary: ModelSummary) -> Table:
    """Two-column table of the model summary's numbers (:meth:`ModelSummary.scalars`)."""
    table = Table(title="model summary", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for key, value in summary.scalars().items():
        if key == "source":
            continue
        table.add_row(plain(key), _cell(value, ".3f" if isinstance(value, float) else "d"))
    return table


def skipped_line(summary: ModelSummary) -> str:
    """How many tensors have no row and why, by category: ``skipped 262 tensors: 246 1-D or scalar (bias,
    norm, counter), 16 depthwise conv (in-channels 1)``; '' when none is."""
    if not summary.num_skipped:
        return ""
    noun = "tensor" if summary.num_skipped == 1 else "tensors"
    reasons = ", ".join(f"{count} {category}" for category, count in summary.skipped_counts.items())
    return f"skipped {summary.num_skipped} {noun}: {reasons}"


def role_table(summary: ModelSummary) -> Table | None:
    """The layers by role (alpha statistics of each), or None for a model whose names say no role."""
    if all(group.role == "other" for group in summary.by_role):
        return None
    table = Table(title="by role", header_style="bold")
    table.add_column("role")
    for column in ALPHA_STATS_TERMINAL:
        table.add_column(column.header, justify="right", no_wrap=True)
    for group in summary.by_role:
        table.add_row(plain(group.role), *(_cell(getattr(group.stats, c.key), c.format) for c in ALPHA_STATS_TERMINAL))
    return table


def expert_lines(summary: ModelSummary) -> list[str]:
    """The experts in a sentence, and one line per expert that stands out from its siblings."""
    if not summary.experts:
        return []
    sizes = sorted({group.num_experts for group in summary.experts})
    lines = [
        f"experts: {len(summary.experts)} groups (block and role) of {'/'.join(map(str, sizes))} experts; "
        f"{summary.num_expert_outliers} stand out from their siblings (|alpha - median| > {EXPERT_OUTLIER_Z:g} x 1.4826 MAD)"
    ]
    for group in summary.experts:
        where = f"{group.stack} block {group.block}" if group.stack else f"block {group.block}"
        for out in group.outliers:
            lines.append(
                f"  {where} {group.role}: expert {out.expert} alpha {out.alpha:.2f} against median {group.alpha_median:.2f} "
                f"(MAD {group.alpha_mad:.2f}, z {out.robust_z:.1f})"
            )
    return lines


def print_report(report: ModelReport, console: Console | None = None) -> None:
    """Print the layer table, the tensors skipped (by reason), the summary, the phases present with what each
    means, and the verdict."""
    console = console or safe_console()
    summary = report.summary  # computed on each access: once here (200 ms per 10k layers)
    console.print(layer_table(report, width=console.width))
    if line := skipped_line(summary):
        console.print(plain(line))
    console.print(summary_table(summary))
    roles = role_table(summary)
    if roles is not None:
        console.print(roles)
    for line in expert_lines(summary):
        console.print(plain(line))
    phases = phase_counts(report.layers)
    if phases:
        console.print(plain("phases (Martin & Mahoney 2021):", style="bold"))
        for phase, count in phases.most_common():
            console.print(plain(f"  {phase} ({count}): {PHASE_MEANINGS.get(phase, '')}"))
    console.print(plain(f"verdict: {reading(summary, report.layers)}", style="bold"))
