"""``netspectra compare A B``: what changed between two checkpoints, layer by layer."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netspectra.compare import ChangeThresholds, LayerComparison, ModelComparison, compare_models
from netspectra.diagnose.layer import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.report.export import atomic_write, check_output_path
from netspectra.report.table import short_name

_RULES = (
    "A matched layer is flagged when ||W_B - W_A||_F / ||W_A||_F > rel_frobenius (weights), "
    "|alpha_B - alpha_A| > alpha_z * sqrt(se_A^2 + se_B^2) (alpha), |spikes_B - spikes_A| >= spikes (spikes), "
    "the phase label changes (phase, when layer rows have one) or the row status changes (status). "
    "Identical weights are never flagged."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    defaults = ChangeThresholds()
    p = subparsers.add_parser(
        "compare",
        help="compare two checkpoints layer by layer (did fine-tuning change or damage a layer?)",
        description="Match the weight matrices of A and B by name (else by shape, in order), report the deltas "
        "B - A of alpha, alpha_weighted, log spectral norm, effective rank and spike count, and the spectrum of "
        "W_B - W_A: numerical rank, Frobenius and spectral norm relative to W_A, power-law alpha. " + _RULES,
    )
    p.add_argument("a", help="reference model (file or directory)")
    p.add_argument("b", help="changed model (file or directory)")
    p.add_argument("-o", "--output", help="write the per-layer comparison to this .csv, .parquet or .json file")
    p.add_argument(
        "--threshold", action="append", default=[], metavar="NAME=VALUE",
        help=f"change a flag threshold (repeatable): rel_frobenius (default {defaults.rel_frobenius:g}), "
        f"alpha_z (default {defaults.alpha_z:g}), spikes (default {defaults.spikes})",
    )
    p.add_argument("--include", help="regular expression: compare only tensors whose name matches")
    p.add_argument("--exclude", help="regular expression: skip tensors whose name matches")
    p.add_argument("--min-dim", type=int, default=1, help="skip matrices whose smaller dimension is below this")
    p.add_argument("--max-dim", type=int, default=None, help="skip matrices whose larger dimension is above this")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON on stdout")
    p.set_defaults(func=run)


def parse_thresholds(items: list[str]) -> ChangeThresholds:
    """``["rel_frobenius=1e-2", "spikes=2"]`` -> ChangeThresholds with those values replaced."""
    types = {f.name: f.type for f in fields(ChangeThresholds)}
    changes: dict[str, float | int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in types:
            raise UsageError(f"--threshold {item!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        try:
            changes[name] = int(value) if types[name] == "int" else float(value)
        except ValueError:
            raise UsageError(f"--threshold {item!r}: {value!r} is not a number") from None
    return replace(ChangeThresholds(), **changes)


def run(args: argparse.Namespace) -> int:
    output = check_output_path(args.output) if args.output else None
    thresholds = parse_thresholds(args.threshold)
    with progress_bar() as advance:
        comparison = compare_models(
            args.a, args.b, thresholds=thresholds, include=args.include, exclude=args.exclude,
            min_dim=args.min_dim, max_dim=args.max_dim, options=AnalysisOptions(), progress=advance,
        )
    if output is not None:
        write_comparison(comparison, output)
    if args.json:
        json.dump(comparison.to_dict(), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    console = Console()
    console.print(comparison_table(comparison, width=console.width))
    by_name = sum(layer.matched_by == "name" for layer in comparison.layers)
    console.print(
        f"{len(comparison.layers)} layers matched ({by_name} by name, {len(comparison.layers) - by_name} by shape); "
        f"{len(comparison.flagged)} flagged"
    )
    for u in comparison.unmatched:
        console.print(f"unmatched in {u.side.upper()}: {u.name} ({u.reason})", style="yellow")
    if output is not None:
        console.print(f"wrote {output}")
    return 0


@contextmanager
def progress_bar() -> Iterator[Callable[[int, int, str], None]]:
    """A transient progress bar on stderr (only on a terminal); yields the ``progress(done, total, name)``."""
    with Progress(TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("", total=None)
        yield lambda done, total, name: bar.update(task, completed=done, total=total, description=name[-48:])


def write_comparison(comparison: ModelComparison, path: Path) -> None:
    """Write the per-layer table as CSV or Parquet, or everything as JSON, by extension, atomically."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(comparison.to_dict(), indent=1, allow_nan=False)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return
    frame = comparison.to_frame()
    if suffix == ".csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise UsageError("Parquet output needs pyarrow: pip install 'netspectra[parquet]'") from exc
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


#: (header, cell) of the terminal table, most important first; narrow terminals drop the later ones.
_TABLE_COLUMNS: tuple[tuple[str, Callable[[LayerComparison], str]], ...] = (
    ("by", lambda c: c.matched_by),
    ("flag", lambda c: c.reasons),
    ("‖ΔW‖F/‖W‖F", lambda c: _num(c.diff_rel_frobenius, ".1e")),
    ("Δalpha", lambda c: _num(c.delta_alpha, "+.3f")),
    ("z", lambda c: _num(c.alpha_z, ".1f")),
    ("Δspikes", lambda c: f"{c.delta_num_spikes:+d}"),
    ("rank ΔW", lambda c: "-" if c.diff_rank < 0 else str(c.diff_rank)),
    ("‖ΔW‖₂/‖W‖₂", lambda c: _num(c.diff_rel_spectral, ".1e")),
    ("alpha ΔW", lambda c: _num(c.diff_alpha, ".2f")),
    ("Δalpha_w", lambda c: _num(c.delta_alpha_weighted, "+.3f")),
    ("Δlog‖W‖₂", lambda c: _num(c.delta_log_spectral_norm, "+.4f")),
    ("Δeff.rank", lambda c: _num(c.delta_effective_rank, "+.2f")),
)
_NAME_WIDTH = 28


def comparison_table(comparison: ModelComparison, width: int = 120) -> Table:
    """Rich table, one row per matched layer (flagged rows in yellow), as many columns as fit ``width``."""
    table = Table(title=f"netspectra compare: {Path(comparison.source_a).name} -> {Path(comparison.source_b).name}",
                  header_style="bold")
    names = [_pair_name(c) for c in comparison.layers]
    name_width = max([len("layer"), *map(len, names)])
    table.add_column("layer", no_wrap=True, max_width=name_width)
    chosen, used = [], name_width + 4
    for header, cell in _TABLE_COLUMNS:
        need = max([len(header), *(len(cell(c)) for c in comparison.layers)]) + 3
        if used + need <= width:
            chosen.append(cell)
            table.add_column(header, justify="left" if header in ("by", "flag") else "right", no_wrap=True)
            used += need
    for name, c in zip(names, comparison.layers):
        table.add_row(name, *(cell(c) for cell in chosen), style="yellow" if c.flagged else None)
    return table


def _pair_name(c: LayerComparison) -> str:
    name = short_name(c.name_a, _NAME_WIDTH)
    return name if c.name_b == c.name_a else f"{name} ↔ {short_name(c.name_b, _NAME_WIDTH)}"


def _num(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "-"
