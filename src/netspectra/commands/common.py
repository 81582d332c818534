"""What the sub-commands share: the layer-selection arguments, the progress bar, JSON on stdout, the
result console, and the ``--report``/``--plots`` outputs.  No command imports another."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra.diagnose.options import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.io.selection import LayerSelection
from netspectra.report.export import PLOT_FORMATS

if TYPE_CHECKING:
    from rich.console import Console

    from netspectra.diagnose.model import ModelReport
    from netspectra.spec import AnalysisSpec

#: Console width when stdout is not a terminal (a file or a pipe): tables keep their natural width.
PIPE_WIDTH = 200
#: Rich style of each merge verdict.
VERDICT_STYLES = {"compatible": "green", "caution": "yellow", "incompatible": "red"}

#: A progress callback ``(done, total, name)``.
Advance = Callable[[int, int, str], None]


def add_selection_arguments(
    p: argparse.ArgumentParser,
    verb: str,
    *,
    min_dim: int = LayerSelection.min_dim,
    min_dim_help: str | None = None,
    max_dim: bool = True,
) -> None:
    """``--include``, ``--exclude``, ``--min-dim`` and (unless ``max_dim`` is false) ``--max-dim``."""
    p.add_argument("--include", help=f"regular expression: {verb} only tensors whose name matches")
    p.add_argument("--exclude", help="regular expression: skip tensors whose name matches")
    p.add_argument(
        "--min-dim",
        type=int,
        default=min_dim,
        help=min_dim_help or "skip matrices whose smaller dimension is below this (default %(default)s)",
    )
    if max_dim:
        p.add_argument("--max-dim", type=int, default=None, help="skip matrices whose larger dimension is above this")


def selection(args: argparse.Namespace) -> LayerSelection:
    """The :class:`LayerSelection` of :func:`add_selection_arguments`' arguments."""
    return LayerSelection(
        include=args.include, exclude=args.exclude, min_dim=args.min_dim, max_dim=getattr(args, "max_dim", None)
    )


def spec_of(args: argparse.Namespace, options: AnalysisOptions = AnalysisOptions(), **spectrum: object) -> AnalysisSpec:
    """The :class:`AnalysisSpec` of a command's selection arguments, fit options and spectrum options."""
    from netspectra.spec import AnalysisSpec

    base = AnalysisSpec.of(options=options, **spectrum)  # type: ignore[arg-type]
    return AnalysisSpec(selection=selection(args), fit=base.fit, spectrum=base.spectrum)


@contextmanager
def progress_bar(description: str = "", *, quiet: bool = False) -> Iterator[Advance | None]:
    """A transient progress bar on stderr, shown on a terminal only; yields the ``progress(done, total, name)``
    callback (None when ``quiet``)."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from netspectra.report.terminal import progress_label, safe_console

    with Progress(
        TextColumn("{task.description:<48}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=safe_console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total, name: bar.update(task, completed=done, total=total, description=progress_label(name, 48))


def print_json(obj: object) -> None:
    """``obj`` as indented JSON on stdout (non-finite floats must already be None)."""
    json.dump(obj, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


def result_console() -> Console:
    """The console of a command's tables: the terminal's width, or :data:`PIPE_WIDTH` when piped."""
    from netspectra.report.terminal import safe_console

    return safe_console(width=None if sys.stdout.isatty() else PIPE_WIDTH)


def format_number(x: float, fmt: str = ".3g") -> str:
    """``x`` in format ``fmt`` (default three significant digits), ``-`` when it is not finite."""
    return format(x, fmt) if math.isfinite(x) else "-"


# ------------------------------------------------------------------------- HTML report and plot outputs


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--report FILE.html`` and the :func:`add_plot_arguments` (for ``netspectra analyze``)."""
    p.add_argument(
        "--report", metavar="FILE.html", help="write a self-contained HTML report (summary, sortable table, per-layer plots)"
    )
    add_plot_arguments(p)


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--plots DIR`` and ``--plot-format``."""
    p.add_argument("--plots", metavar="DIR", help="write every figure to DIR (created if missing)")
    p.add_argument("--plot-format", choices=PLOT_FORMATS, default="png", help="format of --plots files (default %(default)s)")


def check_outputs(html: str | None, plots: str | None) -> None:
    """Refuse, before any work, an HTML path or a plot directory that cannot be written."""
    if html:
        from netspectra.report.html import check_html_path

        check_html_path(html)
    if plots:
        directory = Path(plots)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"{directory}: exists and is not a directory")
        if not directory.parent.is_dir():
            raise UsageError(f"{directory}: parent directory {directory.parent} does not exist")


def write_outputs(report: ModelReport, html: str | None, plots: str | None, fmt: str, *, quiet: bool) -> list[str]:
    """Write the HTML report (SVG figures, milliseconds per layer) and the plot files asked for (matplotlib,
    drawn by one process per idle CPU for large models, with a status line on stderr unless ``quiet``);
    return what was written, for the user."""
    written = []
    if html:
        from netspectra.report.html import write_html

        written.append(str(write_html(report, html)))
    if plots:
        from netspectra.report.render import figure_workers, write_plots
        from netspectra.report.terminal import safe_console

        with safe_console(stderr=True, quiet=quiet).status(f"drawing plots of {len(report.layers)} layers"):
            files = write_plots(report, plots, fmt, workers=figure_workers(len(report.layers)))
        written.append(f"{len(files)} {fmt.upper()} files in {plots}")
    return written
