"""``netspectra runs``: list the runs of a results store, or show one run's layers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.report.export import check_output_path, write_report
from netspectra.report.terminal import plain
from netspectra.store.db import DEFAULT_STORE, RunInfo, Store

if TYPE_CHECKING:
    from rich.table import Table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "runs",
        help="list the runs of a results store",
        description="List the runs stored by 'netspectra analyze --store' and 'netspectra track --store': id, "
        "status (running = interrupted or still going; resume it with 'analyze --resume'), times, layers stored, "
        "source, content hash, training step. --show ID prints one run's layer table.",
    )
    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH", help="the store (default ./%(default)s)")
    p.add_argument("--show", type=int, metavar="RUN_ID", help="print this run's layers instead of the list of runs")
    p.add_argument("-o", "--output", help="with --show: write the layers to this .csv, .parquet or .json file")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.table import print_report

    if args.output:
        check_output_path(args.output)
    check_outputs_against_inputs([args.output], files=[args.store])
    with Store(args.store, create=False) as store:
        if args.show is None:
            runs = store.list_runs()
            if args.json:
                common.print_json([r.to_dict() for r in runs])
            else:
                common.result_console().print(runs_table(runs, args.store))
            return 0
        report = store.load_report(args.show)
    if args.output:
        write_report(report, args.output)
    if args.json:
        common.print_json(report.to_dict())
    else:
        print_report(report)
    return 0


def runs_table(runs: list[RunInfo], title: str) -> Table:
    """Rich table of runs, oldest first (interrupted runs in yellow)."""
    from rich.table import Table

    table = Table(title=plain(f"netspectra runs: {title}"), header_style="bold")
    for header in ("id", "status", "started (UTC)", "layers", "step", "hash", "source"):
        table.add_column(
            header,
            justify="right" if header in ("id", "layers", "step") else "left",
            no_wrap=header != "source",
            overflow="fold" if header == "source" else "ellipsis",
        )
    for r in runs:
        table.add_row(
            str(r.id),
            r.status,
            r.started[:16].replace("T", " "),
            str(r.num_layers),
            "-" if r.step is None else str(r.step),
            (r.content_hash or "-")[:8],
            plain(r.source),
            style="yellow" if r.status != "complete" else None,
        )
    return table
