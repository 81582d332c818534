"""``netspectra track CKPT... | DIR``: spectra of every layer over a series of training checkpoints."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from netspectra.commands.compare_cmd import progress_bar
from netspectra.compare.checkpoints import find_checkpoints
from netspectra.diagnose.layer import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.store import DEFAULT_STORE, Store

if TYPE_CHECKING:
    from netspectra.compare.track import Trajectory


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "track",
        help="spectra of every layer over training checkpoints",
        description="Analyze checkpoints in training order (the step number in each name: step_100.safetensors, "
        "checkpoint-200/, ...; else natural sort) and track per layer: power-law alpha, Marchenko-Pastur bulk width "
        "sigma2 and area A, tail weight 1 - A, spikes above the Tracy-Widom edge, mean level-spacing ratio <r> "
        "(GOE 0.53, Poisson 0.39). A single DIR stands for the checkpoints inside it.",
    )
    p.add_argument("paths", nargs="+", metavar="CKPT", help="checkpoint files or directories, or one directory of them")
    p.add_argument("-o", "--output", help="write the long-format table (step, layer, metrics) to this .csv file")
    p.add_argument("--plots", metavar="DIR", help="write one PNG per quantity against step into this directory")
    p.add_argument("--store", nargs="?", const=DEFAULT_STORE, metavar="PATH",
                   help="record each checkpoint as a run in this results store (default ./netspectra.db); "
                   "checkpoints already stored with the same options are not recomputed")
    p.add_argument("--include", help="regular expression: track only tensors whose name matches")
    p.add_argument("--exclude", help="regular expression: skip tensors whose name matches")
    p.add_argument("--min-dim", type=int, default=1, help="skip matrices whose smaller dimension is below this")
    p.add_argument("--max-dim", type=int, default=None, help="skip matrices whose larger dimension is above this")
    p.add_argument("--json", action="store_true", help="print the long-format table as JSON records on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspectra.compare.track import track_checkpoints  # scipy.stats: imported only when tracking

    if args.output and Path(args.output).suffix.lower() != ".csv":
        raise UsageError(f"{args.output}: the track table is written as .csv")
    for directory in filter(None, (args.plots, args.output and str(Path(args.output).parent))):
        if not Path(directory).is_dir():
            raise UsageError(f"{directory}: directory does not exist")
    find_checkpoints(args.paths)  # refuse bad paths before opening a store
    selection = dict(include=args.include, exclude=args.exclude, min_dim=args.min_dim, max_dim=args.max_dim,
                     options=AnalysisOptions())
    with progress_bar() as advance:
        if args.store:
            with Store(args.store) as store:
                trajectory = track_checkpoints(args.paths, store=store, progress=advance, **selection)
        else:
            trajectory = track_checkpoints(args.paths, progress=advance, **selection)
    written = []
    if args.output:
        written.append(trajectory.write_csv(args.output))
    if args.plots:
        from netspectra.compare.track_plots import plot_trajectory

        written += plot_trajectory(trajectory, args.plots)
    if args.json:
        records = json.loads(trajectory.to_frame().to_json(orient="records"))  # NaN -> null
        json.dump(records, sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    console = Console()
    console.print(step_table(trajectory))
    for path in written:
        console.print(f"wrote {path}")
    return 0


def step_table(trajectory: "Trajectory") -> Table:
    """Rich table: one row per step, each quantity's mean over layers (spikes: the total)."""
    from netspectra.compare.dynamics import TRACKED_METRICS

    frame = trajectory.to_frame()
    means = frame.groupby("step")[list(TRACKED_METRICS)].mean()
    spikes = frame.groupby("step")["num_spikes"].sum()
    table = Table(title=f"netspectra track: {frame['layer'].nunique()} layers, mean over layers", header_style="bold")
    for header in ("step", "alpha", "sigma2", "A", "tail 1-A", "spikes", "<r>"):
        table.add_column(header, justify="right")
    for step, row in means.iterrows():
        table.add_row(
            str(step), _num(row["alpha"], ".3f"), _num(row["sigma2"], ".4g"), _num(row["area"], ".3f"),
            _num(row["tail_weight"], ".3f"), str(int(spikes[step])), _num(row["spacing_ratio"], ".3f"),
        )
    return table


def _num(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "-"
