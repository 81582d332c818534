"""``netspectra track CKPT... | DIR``: spectra of every layer over a series of training checkpoints."""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.defaults import DEFAULT_STORE
from netspectra.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.compare.temperature import NoiseTemperature
    from netspectra.compare.track import Trajectory


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.compare.temperature import DEFAULT_LATE, DEFAULT_TOP

    p.add_argument("paths", nargs="+", metavar="CKPT", help="checkpoint files or directories, or one directory of them")
    p.add_argument("-o", "--output", help="write the long-format table (step, layer, metrics) to this .csv file")
    p.add_argument("--plots", metavar="DIR", help="write one PNG per quantity against step into this directory")
    common.add_report_argument(p, "every quantity against the step per layer, tables by step and by layer")
    p.add_argument(
        "--store",
        nargs="?",
        const=DEFAULT_STORE,
        metavar="PATH",
        help="record each checkpoint as a run in this results store (default ./netspectra.db); "
        "checkpoints already stored with the same options are not recomputed",
    )
    p.add_argument(
        "--temperature",
        action="store_true",
        help="also print each layer's eigenvalue fluctuation variance over the late checkpoints (drift removed)",
    )
    p.add_argument(
        "--late",
        type=float,
        default=DEFAULT_LATE,
        metavar="FRACTION",
        help="share of the checkpoints, the last ones, read as the stationary part (default %(default)s)",
    )
    p.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="K",
        help="fluctuations of the K largest eigenvalues (default %(default)s)",
    )
    common.add_action_arguments(p, "track", "the long-format table (records); with --temperature, {trajectory, temperature}")


def run(args: argparse.Namespace) -> int:
    from netspectra.atomic import check_parent
    from netspectra.compare.checkpoints import find_checkpoints
    from netspectra.compare.temperature import noise_temperature
    from netspectra.compare.track import track_checkpoints
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain
    from netspectra.store.db import Store

    if args.temperature and not (0.0 < args.late <= 1.0 and args.top >= 1):
        raise UsageError(f"--late must lie in (0, 1] and --top be >= 1, got {args.late:g} and {args.top}")
    if args.output and Path(args.output).suffix.lower() != ".csv":
        raise UsageError(f"{args.output}: the track table is written as .csv")
    if args.output:
        check_parent(Path(args.output))
    common.check_outputs(args.report, args.plots)
    # bad paths and an output over an input are refused before a store is opened
    check_outputs_against_inputs([args.output, args.report], [c.path for c in find_checkpoints(args.paths)], [args.store])
    spec = common.spec_of(args)
    store = Store(args.store) if args.store else nullcontext()
    with common.running(args, "tracking") as running, store as opened:
        trajectory = track_checkpoints(args.paths, spec, store=opened, **running)
    temperature = noise_temperature(trajectory, late=args.late, top=args.top) if args.temperature else None
    written = []
    if args.output:
        written.append(trajectory.write_csv(args.output))
    if args.plots:
        from netspectra.compare.track_plots import plot_trajectory

        written += plot_trajectory(trajectory, args.plots)
    if args.report:
        from netspectra.report.html_views import render_track_html, write_page

        written.append(write_page(render_track_html(trajectory), args.report))

    def to_json() -> object:
        records = json.loads(trajectory.to_frame().to_json(orient="records"))  # NaN -> null
        return records if temperature is None else {"trajectory": records, "temperature": temperature.to_dict()}

    if not (console := common.answer(args, to_json)):
        return 0
    console.print(step_table(trajectory))
    if temperature is not None:
        console.print(temperature_table(temperature))
        console.print(
            plain(
                "var(lambda) is linear in learning rate / batch size at a stationary state (Aarts et al., arXiv "
                "2411.13512); lag-1 autocorrelation near 1: checkpoints closer than the fluctuations' correlation "
                "time, or a run still drifting"
            )
        )
    common.print_written(console, written)
    return 0


def step_table(trajectory: Trajectory) -> Table:
    """Rich table: one row per checkpoint, each quantity's mean over layers (spikes: the total over layers)."""
    from netspectra.compare.dynamics import TRACKED_METRICS
    from netspectra.report.terminal import plain

    frame = trajectory.to_frame()
    means = frame.groupby("step")[list(TRACKED_METRICS)].mean()
    spikes = frame.groupby("step")["num_spikes"].sum()
    layers = frame["layer"].nunique()
    title = f"netspectra track: {layers} layers; alpha, sigma2, A, 1-A, <r>: mean over layers; spikes: total"
    headers = ("step", "checkpoint", "alpha", "sigma2", "A", "tail 1-A", "spikes", "<r>")
    table = common.result_table(title, headers, left=("checkpoint",))
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


def temperature_table(temperature: NoiseTemperature) -> Table:
    """Rich table: one row per layer, the fluctuation of its top eigenvalues over the late checkpoints."""
    from netspectra.report.terminal import plain

    first = temperature.layers[0] if temperature.layers else None
    span = f"steps {first.first_step}..{first.last_step}, {first.checkpoints} checkpoints" if first else "no layers"
    title = (
        f"SGD noise temperature: variance of the top {temperature.top} eigenvalues over the last "
        f"{temperature.late:g} of the run ({span}), linear drift removed"
    )
    table = common.result_table(title, ("layer", "N x M", "k", "var(lambda)", "var/lambda^2", "lag-1 autocorr"))
    for row in temperature.layers:
        table.add_row(
            plain(row.layer),
            f"{row.N}x{row.M}",
            str(row.top),
            common.format_number(row.variance, ".3e"),
            common.format_number(row.relative_variance, ".3e"),
            common.format_number(row.autocorrelation, ".2f"),
        )
    return table


COMMAND = common.Command(
    "track",
    help="spectra of every layer over training checkpoints",
    description="Analyze checkpoints in training order (the step number in each name: step_100.safetensors, "
    "checkpoint-200/, ...; else natural sort) and track per layer: power-law alpha, Marchenko-Pastur bulk width "
    "sigma2 and area A, tail weight 1 - A, spikes above the Tracy-Widom edge, mean level-spacing ratio <r> "
    "(GOE 0.53, Poisson 0.39). Checkpoints listed keep their order (by step when every name has one after "
    "step/checkpoint/epoch...); a single DIR stands for the checkpoints inside it, ordered by step. "
    "--temperature adds the SGD noise temperature: each layer's top-eigenvalue fluctuation over the late "
    "checkpoints, linear in learning rate / batch size at a stationary state (Aarts et al., arXiv 2411.13512).",
    arguments=arguments,
    run=run,
)
