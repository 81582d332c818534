"""Terminal output: a rich table of layers and a model summary panel."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from netspectra.diagnose.model import ModelReport, ModelSummary

#: (column, header, format) shown in the terminal table; every column is in the CSV/JSON output.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("layer_index", "#", "d"),
    ("name", "layer", "s"),
    ("kind", "kind", "s"),
    ("N", "N", "d"),
    ("M", "M", "d"),
    ("alpha", "alpha", ".2f"),
    ("alpha_weighted", "alpha_w", ".2f"),
    ("ks_distance", "KS", ".3f"),
    ("num_spikes", "spikes", "d"),
    ("stable_rank", "stable rk", ".1f"),
    ("log_spectral_norm", "log10 ||W||2", ".2f"),
    ("warning", "warning", "s"),
)


def _cell(value: object, fmt: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, fmt) if fmt != "s" else str(value)


def layer_table(report: ModelReport, max_rows: int | None = None) -> Table:
    """Rich table of the layers (all rows, or the first ``max_rows``); wraps on narrow terminals."""
    table = Table(title=f"netspectra: {report.source}", header_style="bold", expand=False)
    for _, header, fmt in TABLE_COLUMNS:
        numeric = fmt != "s"
        table.add_column(header, justify="right" if numeric else "left", overflow="fold",
                         no_wrap=numeric)
    rows = report.layers if max_rows is None else report.layers[:max_rows]
    for layer in rows:
        style = "red" if layer.status == "error" else ("yellow" if layer.warning else None)
        table.add_row(*(_cell(getattr(layer, col), fmt) for col, _, fmt in TABLE_COLUMNS), style=style)
    return table


def summary_table(summary: ModelSummary) -> Table:
    """Two-column table of the model summary."""
    table = Table(title="model summary", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for key, value in summary.to_dict().items():
        if key == "source":
            continue
        table.add_row(key, _cell(value, ".3f" if isinstance(value, float) else "d"))
    return table


def print_report(report: ModelReport, console: Console | None = None) -> None:
    """Print the layer table and the summary."""
    console = console or Console()
    console.print(layer_table(report))
    console.print(summary_table(report.summary))
