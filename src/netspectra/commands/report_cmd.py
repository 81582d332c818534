"""``netspectra report``: the HTML report and plots of a run in the results store, or two runs side by side."""

from __future__ import annotations

import argparse

from netspectra.commands import common
from netspectra.defaults import DEFAULT_STORE
from netspectra.errors import UsageError


def arguments(p: argparse.ArgumentParser) -> None:

    p.add_argument(
        "run_ids", type=int, nargs="+", metavar="RUN_ID", help="one run, or two to put side by side (see 'netspectra runs')"
    )
    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH", help="the store (default ./%(default)s)")
    p.add_argument("-o", "--output", metavar="FILE.html", help="write the HTML report to this file")
    common.add_plot_arguments(p)
    common.add_quiet_arguments(p, 'the files written ({"written": [...]})')


def run(args: argparse.Namespace) -> int:
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain, safe_console
    from netspectra.store.db import Store

    if len(args.run_ids) > 2:
        raise UsageError(f"give one run, or two to put side by side, not {len(args.run_ids)}")
    if len(args.run_ids) == 2 and (args.plots or not args.output):
        raise UsageError("two runs make one page side by side: give -o FILE.html (and no --plots)")
    if not (args.output or args.plots):
        raise UsageError("nothing to write: give -o FILE.html and/or --plots DIR")
    common.check_outputs(args.output, args.plots)
    check_outputs_against_inputs([args.output], files=[args.store])
    with Store(args.store, create=False) as store:
        runs = [store.read_run(run_id) for run_id in args.run_ids]
    console = safe_console(stderr=True, quiet=common.is_quiet(args))
    for stored in runs:
        if stored.warning:  # said even when quiet
            safe_console(stderr=True).print(plain(stored.warning), soft_wrap=True)
        if stored.info.status != "complete":
            shown = f"the report shows the {len(stored.report.layers)} layers stored so far"
            console.print(plain(f"run {stored.info.id} is {stored.info.status}: {shown}"), soft_wrap=True)
    if len(runs) == 2:
        from netspectra.compare.pair import compare_reports
        from netspectra.report.html_views import render_runs_html, write_page

        a, b = runs
        page = render_runs_html(a.report, b.report, compare_reports(a.report, b.report), (f"run {a.info.id}", f"run {b.info.id}"))
        written = [str(write_page(page, args.output))]
    else:
        written = common.write_outputs(runs[0].report, args.output, args.plots, args.plot_format, quiet=common.is_quiet(args))
    if args.json:
        common.print_json({"written": written})
    for line in written:
        console.print(plain(f"wrote {line}"), soft_wrap=True)
    return 0


COMMAND = common.Command(
    "report",
    help="HTML report and plots of a stored run, or two runs side by side",
    description="Render the self-contained HTML report (and/or the individual plots) of a run stored by "
    "'netspectra analyze --store' from its stored layers and spectra, without re-analyzing the model. "
    "With two runs, one page puts them side by side: each model's summary, then their layers paired by name "
    "(alpha of both, the deltas, the layers a flag rule picks out). List the runs with 'netspectra runs'.",
    arguments=arguments,
    run=run,
    reads_models=False,
)
