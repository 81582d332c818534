"""``netspectra report``: the HTML report and plots of a run in the results store."""

from __future__ import annotations

import argparse

from netspectra.commands import common
from netspectra.errors import UsageError
from netspectra.report.terminal import plain, safe_console
from netspectra.store.db import DEFAULT_STORE, Store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML report and plots of a stored run",
        description="Render the self-contained HTML report (and/or the individual plots) of a run stored by "
        "'netspectra analyze --store' from its stored layers and spectra, without re-analyzing the model. "
        "List the runs with 'netspectra runs'.",
    )
    p.add_argument("run_id", type=int, metavar="RUN_ID", help="the run (see 'netspectra runs')")
    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH", help="the store (default ./%(default)s)")
    p.add_argument("-o", "--output", metavar="FILE.html", help="write the HTML report to this file")
    common.add_plot_arguments(p)
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspectra.report.overwrite import check_outputs_against_inputs

    if not (args.output or args.plots):
        raise UsageError("nothing to write: give -o FILE.html and/or --plots DIR")
    common.check_outputs(args.output, args.plots)
    check_outputs_against_inputs([args.output], files=[args.store])
    with Store(args.store, create=False) as store:
        stored = store.read_run(args.run_id)
    info, report = stored.info, stored.report
    if stored.warning:  # said even when quiet
        safe_console(stderr=True).print(plain(stored.warning), soft_wrap=True)
    console = safe_console(stderr=True, quiet=args.quiet)
    if info.status != "complete":
        console.print(
            plain(f"run {info.id} is {info.status}: the report shows the {len(report.layers)} layers stored so far"),
            soft_wrap=True,
        )
    for line in common.write_outputs(report, args.output, args.plots, args.plot_format, quiet=args.quiet):
        console.print(plain(f"wrote {line}"), soft_wrap=True)
    return 0
