"""``netspectra rank``: models or checkpoints ranked by data-free metrics; with accuracies, how well each ranks."""

from __future__ import annotations

import argparse
import csv
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.act.ranking import Ranking

#: Most rows read from an accuracy CSV (one per model).
MAX_ACCURACY_ROWS = 100_000


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.act.ranking import DEFAULT_METRIC, RANKING_METRICS

    p.add_argument("models", nargs="+", help="model files or directories")
    p.add_argument("--metric", choices=RANKING_METRICS, default=DEFAULT_METRIC, help="rank by this (default %(default)s)")
    p.add_argument("--accuracy", metavar="CSV", help="measured accuracies: a CSV with columns model,accuracy")
    p.add_argument("-o", "--output", help="write the ranking to this .csv, .parquet or .json file")
    common.add_action_arguments(p, "rank", "the ranking")


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
    from netspectra.actions import rank
    from netspectra.report.export import check_output_path, write_results
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain

    output = check_output_path(args.output) if args.output else None
    check_outputs_against_inputs([output], args.models, [args.accuracy])
    accuracies = read_accuracies(args.accuracy) if args.accuracy else None
    by_source = None
    if accuracies is not None:
        missing = [m for m in args.models if os.path.realpath(m) not in accuracies]
        if missing:
            raise UsageError(f"{args.accuracy}: no accuracy for {missing[0]} ({len(missing)} models without one)")
        by_source = {m: accuracies[os.path.realpath(m)] for m in args.models}
    with common.running(args, "analyzing") as running:
        ranking = rank(args.models, common.spec_of(args), metric=args.metric, accuracies=by_source, **running)
    if output is not None:
        write_results(output, ranking.columns(), ranking.rows, ranking.to_dict)
    if console := common.answer(args, ranking.to_dict):
        console.print(ranking_table(ranking, args.metric, with_accuracy=bool(accuracies)))
        for line in ranking_notes(ranking):
            console.print(plain(line))
        common.print_written(console, [output])
    return 0


def ranking_table(ranking: Ranking, metric: str, *, with_accuracy: bool) -> Table:
    """One row per model, best first: rank (``n=`` when tied), ``metric`` and its uncertainty, the accuracy
    given for it, and why it is ranked last where it is."""
    from netspectra.report.terminal import plain

    columns = ["rank", "model", metric, "+-", *(["accuracy"] if with_accuracy else []), "note"]
    table = common.result_table(f"netspectra rank: by {metric} (smaller = better trained)", columns, left=("model", "note"))
    for row in ranking.layers:
        cells = [
            f"{row.rank}=" if row.tied else str(row.rank),
            row.source,
            common.format_number(row.value, ".4f"),
            common.format_number(row.uncertainty, ".4f"),
            *([common.format_number(row.accuracy, ".4f")] if with_accuracy else []),
            row.note,
        ]
        table.add_row(*(plain(c) for c in cells))
    return table


def ranking_notes(ranking: Ranking) -> Iterator[str]:
    """The lines under the ranking: what a tie means, what the spectra can rank, each metric's rank correlation
    with the accuracies, and the warnings."""
    from netspectra.act.ranking import TIE_Z

    if any(row.tied for row in ranking.layers):
        yield f"n= : tied, the metrics differ by less than {TIE_Z:g} x the uncertainty of the difference"
    yield (
        "what the spectra support: random-like (untrained) models apart from trained ones, and a coarse order; "
        "not the order of models that all train well (measured families: docs/act.md)"
    )
    for metric, rho in ranking.correlations.items():
        yield f"Spearman rho with accuracy, {metric}: {common.format_number(rho, '+.3f')}"
    if ranking.correlations:
        yield f"Spearman rho with accuracy, the ranking shown: {common.format_number(ranking.ranking_rho, '+.3f')}"
    for warning in ranking.warnings:
        yield f"warning: {warning}"


COMMAND = common.Command(
    "rank",
    help="rank models or checkpoints by data-free metrics (with --accuracy: each metric's rank correlation)",
    description="Analyze every model and rank them by a summary metric (smaller = better trained: alpha, "
    "weighted alpha, log alpha-norm, ...). Models whose metrics differ by less than twice the uncertainty of the "
    "difference share a rank; models with most layers random-like or under-trained are ranked last. With "
    "--accuracy CSV (columns model,accuracy) each metric's Spearman rank correlation with the measured "
    "accuracies is printed, signed so that + means it ranks like accuracy, and a negative one for the ranking "
    "shown is a warning.",
    arguments=arguments,
    run=run,
)
