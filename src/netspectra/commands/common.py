"""What the sub-commands share: the layer-selection, fit and executor arguments (the same flags on every
command that reads weights), the progress bar, ``--quiet``/``--json``, the result console, and the
``--report``/``--plots`` outputs.  No command imports another."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspectra.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from netspectra.diagnose.model import ModelReport
    from netspectra.diagnose.options import AnalysisOptions
    from netspectra.io.selection import LayerSelection
    from netspectra.pipeline import ProgressCallback, RunKeywords
    from netspectra.spec import AnalysisSpec

#: What a MODEL argument may be, for every command's help.
INPUTS_HELP = (
    "A MODEL is a .safetensors file, a sharded safetensors folder or its *.index.json, a Hugging Face model "
    "folder, a Hub id read from the local cache (org/name, org/name@rev, org/name:file.gguf), a PyTorch "
    ".pt/.pth/.bin/.ckpt state dict (read without running code), .npz/.npy, .onnx, .gguf (split files too), "
    "a PEFT LoRA adapter folder, a quantized checkpoint (GPTQ, AWQ, FP8, bitsandbytes, compressed-tensors, MLX), "
    "a Keras .keras/.weights.h5/.h5 file, or a file written by 'netspectra compress'."
)

#: Console width when stdout is not a terminal (a file or a pipe): tables keep their natural width.
PIPE_WIDTH = 200
#: Rich style of each merge verdict.
VERDICT_STYLES = {"compatible": "green", "caution": "yellow", "incompatible": "red"}


def add_selection_arguments(p: argparse.ArgumentParser, verb: str, *, min_dim: int | None = None) -> None:
    """``--include``, ``--exclude``, ``--min-dim`` (default ``min_dim``, else :class:`LayerSelection`'s) and
    ``--max-dim``: the layer selection of every command."""
    from netspectra.io.selection import LayerSelection

    if min_dim is None:
        min_dim = LayerSelection.min_dim
    g = p.add_argument_group("layer selection")
    g.add_argument("--include", metavar="REGEX", help=f"{verb} only tensors whose name matches this regular expression")
    g.add_argument("--exclude", metavar="REGEX", help="skip tensors whose name matches this regular expression")
    g.add_argument(
        "--min-dim", type=int, default=min_dim, help="skip matrices whose smaller dimension is below this (default %(default)s)"
    )
    g.add_argument("--max-dim", type=int, default=None, help="skip matrices whose larger dimension is above this")
    g.add_argument(
        "--min-evals", type=int, metavar="K", help="skip matrices with fewer eigenvalues (M, times k for a conv stack)"
    )
    g.add_argument("--max-evals", type=int, metavar="K", help="skip matrices with more eigenvalues")
    g.add_argument(
        "--layers",
        type=_integers,
        metavar="I,J,...",
        help="only the matrices at these positions (0, 1, ...: 'netspectra describe')",
    )
    g.add_argument(
        "--kinds", type=_words, metavar="KIND,...", help="only matrices of these kinds (linear, embedding, conv2d, ...)"
    )
    g.add_argument(
        "--no-pool", action="store_true", help="a conv kernel's k matrices one by one, not pooled (WeightWatcher's pool=False)"
    )


def _integers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give positions as I,J,... (integers)") from None


def _words(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    """The fit options of the rows a command computes: ``--min-tail``, ``--tw-level``, ``--estimator``, ``--no-depth``."""
    from netspectra.defaults import TW1_QUANTILES
    from netspectra.diagnose.options import ESTIMATORS, FIX_FINGERS, TAIL_FITS

    g = p.add_argument_group("fits")
    _option(g, "min_tail", type=int, help="fewest eigenvalues in a power-law tail (default %(default)s)")
    _option(
        g,
        "tw_level",
        type=float,
        choices=sorted(TW1_QUANTILES),
        help="Tracy-Widom level of the bulk edge used to count spikes (default %(default)s)",
    )
    _option(
        g,
        "estimator",
        choices=ESTIMATORS,
        help="fit alpha on the full spectrum or on square submatrices pooled (FARMS, ICML 2025)",
    )
    g.add_argument(
        "--no-depth",
        action="store_true",
        help="skip the RMT-depth columns (HTMP, spacing, tail tests, MP area, traps, phase): faster",
    )
    w = p.add_argument_group("WeightWatcher", "WeightWatcher's options and conventions (docs/from-weightwatcher.md)")
    w.add_argument(
        "--ww-compat",
        action="store_true",
        help="alphas and summary as WeightWatcher 0.7.7 computes them: its tail fit (any tail length) and, unless "
        "given, its layer filters (--min-evals 8 --max-evals 15000 --max-dim 50000)",
    )
    w.add_argument("--fix-fingers", choices=FIX_FINGERS, help="xmin_peak: xmin near the ESD's peak; clip_xmax: clip the largest")
    _option(w, "fit", choices=TAIL_FITS, help="also fit the truncated power law (TPL, E_TPL: the _tpl columns)")
    w.add_argument("--vectors", action="store_true", help="localization of the singular vectors (one SVD per matrix)")


def _option(group: argparse._ArgumentGroup, field: str, **kwargs: Any) -> None:
    """The flag of an :class:`AnalysisOptions` field: ``--min-tail`` for ``min_tail``, its default the field's."""
    from netspectra.diagnose.options import AnalysisOptions

    group.add_argument(f"--{field.replace('_', '-')}", default=getattr(AnalysisOptions, field), **kwargs)


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """``--workers``, ``--executor`` and ``--scheduler``: where every command runs its layers (docs/scale.md)."""
    from netspectra.scale.executor import EXECUTORS

    g = p.add_argument_group("scale", "parallel and distributed runs (docs/scale.md)")
    g.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: 1 for small models, else one per CPU within memory)"
    )
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="local: this process; process: a pool of --workers processes (default); "
        "dask: a local Dask cluster, or the one at --scheduler (pip install 'netspectra[distributed]')",
    )
    g.add_argument("--scheduler", metavar="ADDR", help="address of a running Dask scheduler (implies --executor dask)")


def add_action_arguments(
    p: argparse.ArgumentParser, verb: str, what: str, *, fit: bool = True, min_dim: int | None = None
) -> None:
    """The flags every command that reads weights shares: ``--quiet``/``--json`` (``what`` on stdout), the layer
    selection (:func:`add_selection_arguments`), the fit options (unless ``fit`` is false) and the executor."""
    add_quiet_arguments(p, what)
    add_selection_arguments(p, verb, min_dim=min_dim)
    if fit:
        add_fit_arguments(p)
    add_executor_arguments(p)


def add_quiet_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """``--quiet`` (no progress bar, no table) and ``--json`` (``what`` as JSON on stdout, implies --quiet)."""
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout (implies --quiet)")


def is_quiet(args: argparse.Namespace) -> bool:
    """Whether a command prints nothing but what was asked for (``--quiet`` or ``--json``)."""
    return bool(args.quiet or args.json)


def selection(args: argparse.Namespace) -> LayerSelection:
    """The :class:`LayerSelection` of :func:`add_selection_arguments`' arguments (WeightWatcher's filters where
    ``--ww-compat`` is given and they are not)."""
    from netspectra.io.selection import LayerSelection
    from netspectra.spec import WW_SELECTION

    given = {
        "min_evals": args.min_evals,
        "max_evals": args.max_evals,
        "max_dim": args.max_dim,
        "layers": args.layers,
        "kinds": args.kinds,
    }
    defaults = WW_SELECTION if getattr(args, "ww_compat", False) else {}
    chosen = {**defaults, **{k: v for k, v in given.items() if v is not None}}
    return LayerSelection(include=args.include, exclude=args.exclude, min_dim=args.min_dim, pool=not args.no_pool, **chosen)


def fit_options(args: argparse.Namespace) -> AnalysisOptions:
    """The :class:`AnalysisOptions` of :func:`add_fit_arguments`' arguments (the defaults without them)."""
    from netspectra.diagnose.options import AnalysisOptions

    if not hasattr(args, "min_tail"):
        return AnalysisOptions()
    return AnalysisOptions(
        min_tail=args.min_tail,
        tw_level=args.tw_level,
        depth=not args.no_depth,
        estimator=args.estimator,
        ww_compat=args.ww_compat,
        fix_fingers=args.fix_fingers,
        fit=args.fit,
        vectors=args.vectors,
    )


def spec_of(args: argparse.Namespace, **spectrum: object) -> AnalysisSpec:
    """The :class:`AnalysisSpec` of a command's selection and fit arguments and ``spectrum`` options
    (``backend``, ``tail_only``)."""
    from netspectra.spec import AnalysisSpec

    base = AnalysisSpec.of(options=fit_options(args), **spectrum)  # type: ignore[arg-type]
    return AnalysisSpec(selection=selection(args), fit=base.fit, spectrum=base.spectrum)


@contextmanager
def executor_of(args: argparse.Namespace) -> Iterator[object]:
    """The executor of :func:`add_executor_arguments`' arguments (``process`` by default: threads where they
    serve, worker processes otherwise), a Dask client held open while the command runs."""
    from netspectra.scale.executor import make_executor

    if not args.scheduler:
        yield args.executor or "process"
        return
    if args.executor not in (None, "dask") or args.workers:
        raise UsageError("--scheduler needs --executor dask, and takes the cluster's workers (no --workers)")
    with make_executor("dask", scheduler=args.scheduler) as cluster:
        yield cluster


@contextmanager
def progress_bar(description: str = "", *, quiet: bool = False) -> Iterator[ProgressCallback | None]:
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


# ------------------------------------------------------------------------- declaring and running a command


@dataclass(frozen=True)
class Command:
    """A sub-command as data; :func:`netspectra.cli.build_parser` registers each of
    :data:`netspectra.commands.COMMANDS` with :meth:`add_parser`.

    Attributes
    ----------
    name, help : str
        What the user types after ``netspectra``, and its line in ``netspectra --help``.
    description : str
        The text of ``netspectra NAME --help``, followed by :data:`INPUTS_HELP` when the command ``reads_models``.
    arguments : callable
        ``arguments(parser)`` adds the command's arguments.
    run : callable
        ``run(args)`` does the work and returns the exit code.
    reads_models : bool
        Whether the command's arguments name models (in any format :data:`INPUTS_HELP` lists).
    """

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    reads_models: bool = True

    def add_parser(self, subparsers: argparse._SubParsersAction, *, with_arguments: bool = True) -> argparse.ArgumentParser:
        """Add the command's parser to ``subparsers``, its ``func`` the command's :attr:`run`; its arguments
        only ``with_arguments`` (:func:`netspectra.cli.build_parser` adds those of the command that runs)."""
        description = f"{self.description} {INPUTS_HELP}" if self.reads_models else self.description
        p = subparsers.add_parser(self.name, help=self.help, description=description)
        if with_arguments:
            self.arguments(p)
        p.set_defaults(func=self.run)
        return p


@contextmanager
def running(args: argparse.Namespace, label: str) -> Iterator[RunKeywords]:
    """The keywords every action runs with, from ``args``: ``executor`` (:func:`executor_of`), ``workers``, and
    ``progress``, the callback of a progress bar labelled ``label`` (:func:`progress_bar`; none when quiet)."""
    with executor_of(args) as executor, progress_bar(label, quiet=is_quiet(args)) as advance:
        yield {"executor": executor, "workers": args.workers, "progress": advance}


def answer(args: argparse.Namespace, to_json: Callable[[], object]) -> Console | None:
    """Print ``to_json()`` on stdout with ``--json``; return the console of the command's tables, or None when
    it prints nothing more (``--json`` or ``--quiet``)."""
    if args.json:
        print_json(to_json())
    return None if is_quiet(args) else result_console()


def result_table(title: str, headers: Sequence[str], left: Collection[str] = ("layer",)) -> Table:
    """A rich table titled ``title`` (printed as it is, never read as markup), with bold ``headers``: those in
    ``left`` justified left, the others (numbers) right."""
    from rich.table import Table

    from netspectra.report.terminal import plain

    table = Table(title=plain(title), header_style="bold")
    for header in headers:
        table.add_column(header, justify="left" if header in left else "right")
    return table


def tensor_table(title: str, header: str = "layer") -> Table:
    """A result table (:func:`result_table`) whose first column holds the tensor names under ``header``, folded
    where long."""
    table = result_table(title, ())
    table.add_column(header, overflow="fold", min_width=16)
    return table


def print_written(console: Console, paths: Iterable[object], *, soft_wrap: bool = False) -> None:
    """``wrote PATH`` for each path that is not None or empty (the outputs asked for)."""
    from netspectra.report.terminal import plain

    for path in paths:
        if path:
            console.print(plain(f"wrote {path}"), soft_wrap=soft_wrap)


# ------------------------------------------------------------------------- HTML report and plot outputs


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--report FILE.html`` and the :func:`add_plot_arguments` (for ``netspectra analyze``)."""
    add_report_argument(p, "summary, sortable table, per-layer plots")
    add_plot_arguments(p)


def add_report_argument(p: argparse.ArgumentParser, what: str) -> None:
    """Add ``--report FILE.html``: the command's self-contained HTML view (``what`` it shows), figures with
    hover values and zoom, no network."""
    p.add_argument("--report", metavar="FILE.html", help=f"write a self-contained HTML report ({what})")


def write_report_page(text: str, path: str, *, quiet: bool) -> None:
    """Write a rendered HTML view to ``path`` atomically and say so on stdout unless ``quiet``."""
    from netspectra.report.html_views import write_page

    written = write_page(text, path)
    if not quiet:
        from netspectra.report.terminal import plain

        result_console().print(plain(f"wrote {written}"), soft_wrap=True)


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--plots DIR`` and ``--plot-format``."""
    from netspectra.report.export import PLOT_FORMATS

    p.add_argument("--plots", metavar="DIR", help="write every figure to DIR (created if missing)")
    p.add_argument("--plot-format", choices=PLOT_FORMATS, default="png", help="format of --plots files (default %(default)s)")


def check_outputs(html: str | None, plots: str | None) -> None:
    """Refuse, before any work, an HTML path or a plot directory that cannot be written."""
    if html:
        from netspectra.report.html import check_html_path

        check_html_path(html)
    if plots:
        check_plot_directory(plots)


def check_plot_directory(plots: str) -> None:
    """Refuse, before any work, a plot directory that is a file or whose folders cannot be made (it is
    created, with its missing parents, as every output's folder is: :func:`netspectra.atomic.check_parent`)."""
    from netspectra.atomic import check_parent

    directory = Path(plots)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    check_parent(directory)


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
