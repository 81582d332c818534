"""``netspectra runs``: list the runs of a results store, or show one run's layers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.defaults import DEFAULT_STORE
from netspectra.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.store.db import RunInfo

#: Runs ``netspectra runs`` lists unless told otherwise (a store may hold hundreds of thousands).
RUNS_LISTED = 50


def arguments(p: argparse.ArgumentParser) -> None:

    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH", help="the store (default ./%(default)s)")
    p.add_argument("--show", type=int, metavar="RUN_ID", help="print this run's layers instead of the list of runs")
    p.add_argument(
        "--limit",
        type=int,
        default=RUNS_LISTED,
        metavar="N",
        help="list the newest N runs (default %(default)s; 0: every run)",
    )
    p.add_argument("-o", "--output", help="with --show: write the layers to this .csv, .parquet or .json file")
    common.add_quiet_arguments(p, "the runs (with --show, the run's report)")


def run(args: argparse.Namespace) -> int:
    from netspectra.report.export import check_output_path, write_report
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.table import print_report
    from netspectra.report.terminal import plain, safe_console
    from netspectra.store.db import Store

    if args.output:
        check_output_path(args.output)
    check_outputs_against_inputs([args.output], files=[args.store])
    if args.limit < 0:
        raise UsageError(f"--limit {args.limit}: give a number of runs, or 0 for every run")
    with Store(args.store, create=False) as store:
        if args.show is None:
            runs = store.list_runs(limit=args.limit or None)
            if console := common.answer(args, lambda: [r.to_dict() for r in runs]):
                console.print(runs_table(runs, args.store, store.count_runs()))
            return 0
        stored = store.read_run(args.show)
    if stored.warning:
        safe_console(stderr=True).print(plain(stored.warning), soft_wrap=True)
    report = stored.report
    if args.output:
        write_report(report, args.output)
    if common.answer(args, report.to_dict):
        print_report(report)
    return 0


def runs_table(runs: list[RunInfo], title: str, total: int) -> Table:
    """Rich table of runs, oldest first (interrupted runs in yellow); its caption says when ``total`` is more."""
    from rich.table import Table

    from netspectra.report.terminal import plain

    caption = f"the newest {len(runs)} of {total} runs: --limit N for more, 0 for all" if total > len(runs) else None
    table = Table(title=plain(f"netspectra runs: {title}"), caption=caption, header_style="bold")
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


COMMAND = common.Command(
    "runs",
    help="list the runs of a results store",
    description="List the runs stored by 'netspectra analyze --store' and 'netspectra track --store': id, "
    "status (running = interrupted or still going; resume it with 'analyze --resume'), times, layers stored, "
    "source, content hash, training step. --show ID prints one run's layer table.",
    arguments=arguments,
    run=run,
    reads_models=False,
)
