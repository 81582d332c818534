"""``netspectra report``: the HTML report and plots of a run in the results store.

Also the ``--report``/``--plots``/``--plot-format`` options that ``netspectra analyze`` shares.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from netspectra.diagnose.model import ModelReport
from netspectra.errors import UsageError
from netspectra.report.figures import FORMATS
from netspectra.report.html import check_html_path, write_html
from netspectra.report.render import default_workers, write_plots
from netspectra.store import DEFAULT_STORE, Store


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
    add_plot_arguments(p)
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=run)


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--report FILE.html`` and the :func:`add_plot_arguments` (for ``netspectra analyze``)."""
    p.add_argument("--report", metavar="FILE.html",
                   help="write a self-contained HTML report (summary, sortable table, per-layer plots)")
    add_plot_arguments(p)


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--plots DIR`` and ``--plot-format``."""
    p.add_argument("--plots", metavar="DIR", help="write every figure to DIR (created if missing)")
    p.add_argument("--plot-format", choices=FORMATS, default="png", help="format of --plots files (default %(default)s)")


def check_outputs(html: str | None, plots: str | None) -> None:
    """Refuse, before any work, an HTML path or a plot directory that cannot be written."""
    if html:
        check_html_path(html)
    if plots:
        directory = Path(plots)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"{directory}: exists and is not a directory")
        if not directory.parent.is_dir():
            raise UsageError(f"{directory}: parent directory {directory.parent} does not exist")


def write_outputs(report: ModelReport, html: str | None, plots: str | None, fmt: str, *, quiet: bool) -> list[str]:
    """Write the HTML report and the plot files asked for; return what was written, for the user.

    Layer figures are drawn by one process per CPU for large models; a status line shows on stderr
    meanwhile unless ``quiet``.
    """
    if not (html or plots):
        return []
    workers = default_workers(len(report.layers))
    written = []
    with Console(stderr=True, quiet=quiet).status(f"drawing plots of {len(report.layers)} layers"):
        if html:
            written.append(str(write_html(report, html, workers=workers)))
        if plots:
            files = write_plots(report, plots, fmt, workers=workers)
            written.append(f"{len(files)} {fmt.upper()} files in {plots}")
    return written


def run(args: argparse.Namespace) -> int:
    if not (args.output or args.plots):
        raise UsageError("nothing to write: give -o FILE.html and/or --plots DIR")
    check_outputs(args.output, args.plots)
    with Store(args.store, create=False) as store:
        info = store.get_run(args.run_id)
        report = store.load_report(args.run_id)
    console = Console(stderr=True, quiet=args.quiet)
    if info.status != "complete":
        console.print(f"run {info.id} is {info.status}: the report shows the {len(report.layers)} layers stored so far",
                      soft_wrap=True)
    for line in write_outputs(report, args.output, args.plots, args.plot_format, quiet=args.quiet):
        console.print(f"wrote {line}", soft_wrap=True)
    return 0
