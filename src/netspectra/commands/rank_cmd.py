"""``netspectra rank``: models or checkpoints ranked by data-free metrics; with accuracies, how well each ranks."""

from __future__ import annotations

import argparse
import csv
import math
import os
from pathlib import Path

from netspectra.commands import common
from netspectra.errors import UsageError
from netspectra.report.export import check_output_path, write_results
from netspectra.report.terminal import plain

#: Most rows read from an accuracy CSV (one per model).
MAX_ACCURACY_ROWS = 100_000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from netspectra.act.ranking import DEFAULT_METRIC, RANKING_METRICS

    p = subparsers.add_parser(
        "rank",
        help="rank models or checkpoints by data-free metrics (with --accuracy: each metric's rank correlation)",
        description="Analyze every model and rank them by a summary metric (smaller = better trained: alpha, "
        "weighted alpha, log alpha-norm, ...). Models whose metrics differ by less than twice the uncertainty of the "
        "difference share a rank; models with most layers random-like or under-trained are ranked last. With "
        "--accuracy CSV (columns model,accuracy) each metric's Spearman rank correlation with the measured "
        "accuracies is printed, signed so that + means it ranks like accuracy, and a negative one for the ranking "
        "shown is a warning." + " " + common.INPUTS_HELP,
    )
    p.add_argument("models", nargs="+", help="model files or directories")
    p.add_argument("--metric", choices=RANKING_METRICS, default=DEFAULT_METRIC, help="rank by this (default %(default)s)")
    p.add_argument("--accuracy", metavar="CSV", help="measured accuracies: a CSV with columns model,accuracy")
    p.add_argument("-o", "--output", help="write the ranking to this .csv, .parquet or .json file")
    common.add_action_arguments(p, "rank", "the ranking")
    p.set_defaults(func=run)


def read_accuracies(path: str) -> dict[str, float]:
    """``{real path of model: accuracy}`` from a CSV with columns ``model`` and ``accuracy``."""
    from netspectra.io.structured import read_bounded

    label = os.fspath(path)
    text = read_bounded(Path(path), label, "accuracy CSV", UsageError, 16 << 20).decode("utf-8", "replace")
    rows = list(csv.DictReader(text.splitlines()))
    if len(rows) > MAX_ACCURACY_ROWS or not rows or not {"model", "accuracy"} <= set(rows[0]):
        raise UsageError(f"{label}: expected a CSV with columns model,accuracy (one row per model)")
    out: dict[str, float] = {}
    for i, row in enumerate(rows, start=2):
        try:
            value = float(row["accuracy"])
        except (TypeError, ValueError):
            raise UsageError(f"{label}: line {i}: accuracy {row['accuracy']!r:.40} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"{label}: line {i}: accuracy must be finite")
        out[os.path.realpath(row["model"] or "")] = value
    return out


def run(args: argparse.Namespace) -> int:
    from netspectra.act.ranking import TIE_Z
    from netspectra.actions import rank
    from netspectra.report.overwrite import check_outputs_against_inputs

    output = check_output_path(args.output) if args.output else None
    check_outputs_against_inputs([output], args.models, [args.accuracy])
    accuracies = read_accuracies(args.accuracy) if args.accuracy else None
    by_source = None
    if accuracies is not None:
        missing = [m for m in args.models if os.path.realpath(m) not in accuracies]
        if missing:
            raise UsageError(f"{args.accuracy}: no accuracy for {missing[0]} ({len(missing)} models without one)")
        by_source = {m: accuracies[os.path.realpath(m)] for m in args.models}
    with common.executor_of(args) as executor, common.progress_bar("analyzing", quiet=common.is_quiet(args)) as advance:
        ranking = rank(
            args.models,
            common.spec_of(args),
            metric=args.metric,
            accuracies=by_source,
            executor=executor,
            workers=args.workers,
            progress=advance,
        )
    if output is not None:
        write_results(output, ranking.columns(), ranking.rows, ranking.to_dict)
    if args.json:
        common.print_json(ranking.to_dict())
        return 0
    if args.quiet:
        return 0
    from rich.table import Table

    console = common.result_console()
    table = Table(title=plain(f"netspectra rank: by {args.metric} (smaller = better trained)"), header_style="bold")
    columns = ["rank", "model", args.metric, "+-", *(["accuracy"] if accuracies else []), "note"]
    for header in columns:
        table.add_column(header, justify="left" if header in ("model", "note") else "right")
    for row in ranking.layers:
        cells = [
            f"{row.rank}=" if row.tied else str(row.rank),
            row.source,
            common.format_number(row.value, ".4f"),
            common.format_number(row.uncertainty, ".4f"),
            *([common.format_number(row.accuracy, ".4f")] if accuracies else []),
            row.note,
        ]
        table.add_row(*(plain(c) for c in cells))
    console.print(table)
    if any(row.tied for row in ranking.layers):
        console.print(plain(f"n= : tied, the metrics differ by less than {TIE_Z:g} x the uncertainty of the difference"))
    console.print(
        plain(
            "what the spectra support: random-like (untrained) models apart from trained ones, and a coarse order; "
            "not the order of models that all train well (measured families: docs/act.md)"
        )
    )
    for metric, rho in ranking.correlations.items():
        console.print(plain(f"Spearman rho with accuracy, {metric}: {common.format_number(rho, '+.3f')}"))
    if ranking.correlations:
        rho = common.format_number(ranking.ranking_rho, "+.3f")
        console.print(plain(f"Spearman rho with accuracy, the ranking shown: {rho}"))
    for warning in ranking.warnings:
        console.print(plain(f"warning: {warning}"))
    if output is not None:
        console.print(plain(f"wrote {output}"))
    return 0
