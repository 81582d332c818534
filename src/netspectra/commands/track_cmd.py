"""``netspectra track CKPT... | DIR``: spectra of every layer over a series of training checkpoints."""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.errors import UsageError
from netspectra.report.terminal import plain
from netspectra.store.db import DEFAULT_STORE, Store

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.compare.track import Trajectory


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "track",
        help="spectra of every layer over training checkpoints",
        description="Analyze checkpoints in training order (the step number in each name: step_100.safetensors, "
        "checkpoint-200/, ...; else natural sort) and track per layer: power-law alpha, Marchenko-Pastur bulk width "
        "sigma2 and area A, tail weight 1 - A, spikes above the Tracy-Widom edge, mean level-spacing ratio <r> "
        "(GOE 0.53, Poisson 0.39). A single DIR stands for the checkpoints inside it." + " " + common.INPUTS_HELP,
    )
    p.add_argument("paths", nargs="+", metavar="CKPT", help="checkpoint files or directories, or one directory of them")
    p.add_argument("-o", "--output", help="write the long-format table (step, layer, metrics) to this .csv file")
    p.add_argument("--plots", metavar="DIR", help="write one PNG per quantity against step into this directory")
    p.add_argument(
        "--store",
        nargs="?",
        const=DEFAULT_STORE,
        metavar="PATH",
        help="record each checkpoint as a run in this results store (default ./netspectra.db); "
        "checkpoints already stored with the same options are not recomputed",
    )
    common.add_action_arguments(p, "track", "the long-format table (records)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspectra.compare.checkpoints import find_checkpoints
    from netspectra.compare.track import track_checkpoints
    from netspectra.report.overwrite import check_outputs_against_inputs

    if args.output and Path(args.output).suffix.lower() != ".csv":
        raise UsageError(f"{args.output}: the track table is written as .csv")
    for directory in filter(None, (args.plots, args.output and str(Path(args.output).parent))):
        if not Path(directory).is_dir():
            raise UsageError(f"{directory}: directory does not exist")
    # bad paths and an output over an input are refused before a store is opened
    check_outputs_against_inputs([args.output], [c.path for c in find_checkpoints(args.paths)], [args.store])
    spec = common.spec_of(args)
    store = Store(args.store) if args.store else nullcontext()
    with (
        common.executor_of(args) as executor,
        common.progress_bar("tracking", quiet=common.is_quiet(args)) as advance,
        store as opened,
    ):
        trajectory = track_checkpoints(args.paths, spec, store=opened, executor=executor, workers=args.workers, progress=advance)
    written = []
    if args.output:
        written.append(trajectory.write_csv(args.output))
    if args.plots:
        from netspectra.compare.track_plots import plot_trajectory

        written += plot_trajectory(trajectory, args.plots)
    if args.json:
        common.print_json(json.loads(trajectory.to_frame().to_json(orient="records")))  # NaN -> null
        return 0
    if args.quiet:
        return 0
    console = common.result_console()
    console.print(step_table(trajectory))
    for path in written:
        console.print(plain(f"wrote {path}"))
    return 0


def step_table(trajectory: Trajectory) -> Table:
    """Rich table: one row per checkpoint, each quantity's mean over layers (spikes: the total over layers)."""
    from netspectra.compare.dynamics import TRACKED_METRICS

    frame = trajectory.to_frame()
    means = frame.groupby("step")[list(TRACKED_METRICS)].mean()
    spikes = frame.groupby("step")["num_spikes"].sum()
    from rich.table import Table

    layers = frame["layer"].nunique()
    title = f"netspectra track: {layers} layers; alpha, sigma2, A, 1-A, <r>: mean over layers; spikes: total"
    table = Table(title=title, header_style="bold")
    for header in ("step", "checkpoint", "alpha", "sigma2", "A", "tail 1-A", "spikes", "<r>"):
        table.add_column(header, justify="left" if header == "checkpoint" else "right")
    checkpoints = frame.groupby("step")["checkpoint"].first()
    for step, row in means.iterrows():
        table.add_row(
            str(step),
            plain(Path(checkpoints[step]).name),
            common.format_number(row["alpha"], ".3f"),
            common.format_number(row["sigma2"], ".4g"),
            common.format_number(row["area"], ".3f"),
            common.format_number(row["tail_weight"], ".3f"),
            str(int(spikes[step])),
            common.format_number(row["spacing_ratio"], ".3f"),
        )
    return table
