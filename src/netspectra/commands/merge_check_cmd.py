"""``netspectra merge-check``: per-layer spectral compatibility of models to merge; writes no model."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from netspectra.merge.results import CompatibilityReport


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", help="two or more models (files or directories)")
    p.add_argument("--base", help="their common base model (needed for the interference criterion)")
    p.add_argument("--config", help="take the models, base and thresholds from this merge configuration instead")
    p.add_argument("-o", "--output", help="write the layer table to this .csv, .parquet or .json file")
    common.add_report_argument(p, "verdicts, distance and interference by layer, sortable table")
    common.add_action_arguments(p, "compare", "the report", fit=False)


def run(args: argparse.Namespace) -> int:
    from netspectra.merge.compat import DEFAULT_THRESHOLDS
    from netspectra.merge.config import load_config
    from netspectra.merge.model import check_compatibility
    from netspectra.report.export import check_output_path, write_results
    from netspectra.report.overwrite import check_outputs_against_inputs

    if args.config:
        if args.models or args.base:
            raise UsageError("give models (and --base) or --config, not both")
        config = load_config(args.config, check_paths=True)
        models, base, thresholds = [m.path for m in config.models], config.base_model, config.thresholds
    else:
        if len(args.models) < 2:
            raise UsageError("give at least two models to compare (or --config)")
        models, base, thresholds = args.models, args.base, DEFAULT_THRESHOLDS
    if args.output:
        check_output_path(args.output)
    common.check_outputs(args.report, None)
    check_outputs_against_inputs([args.output, args.report], [*models, base], [args.config])
    with common.running(args, "checking") as running:
        report = check_compatibility(models, common.spec_of(args), base=base, thresholds=thresholds, **running)
    if args.output:
        write_results(args.output, report.columns(), lambda: flat_rows(report), report.to_dict)
    if args.report:
        from netspectra.report.html_views import render_compatibility_html

        common.write_report_page(render_compatibility_html(report), args.report, quiet=common.is_quiet(args))
    if console := common.answer(args, report.to_dict):
        console.print(compatibility_table(report))
        console.print(summary_text(report), soft_wrap=True)
        common.print_written(console, [args.output])
    return 0


def flat_rows(report: CompatibilityReport) -> list[dict[str, object]]:
    """The layer rows with the ranks of the task vectors as one space-separated string (a CSV cell)."""
    return [{**row, "task_ranks": " ".join(map(str, row["task_ranks"]))} for row in report.rows()]


def compatibility_table(report: CompatibilityReport) -> Table:
    """One row per layer: shape, verdict, the criteria and the reasons."""
    from netspectra.report.terminal import plain

    base = f" (base {report.base})" if report.base else ""
    table = common.tensor_table(f"netspectra merge-check: {', '.join(report.models)}{base}")
    table.add_column("shape", justify="right")
    table.add_column("verdict")
    for header in ("erank", "‖W‖₂ ratio", "σ² ratio", "spikes", "distance", "task ranks", "interference"):
        table.add_column(header, justify="right", overflow="fold")
    table.add_column("reasons", overflow="fold")
    for x in report.layers:
        table.add_row(
            plain(x.name),
            f"{x.rows}x{x.cols}",
            plain(x.verdict, style=common.VERDICT_STYLES[x.verdict]),
            f"{x.erank_min:.1f}-{x.erank_max:.1f}",
            common.format_number(x.spectral_norm_ratio),
            common.format_number(x.sigma2_ratio),
            f"{x.spikes_min}-{x.spikes_max}",
            common.format_number(x.rel_distance),
            " ".join(map(str, x.task_ranks)) or "-",
            common.format_number(x.interference),
            plain(x.reasons),
        )
    return table


def summary_text(report: CompatibilityReport) -> Text:
    """The model verdict, counts per verdict and the extremes."""
    from netspectra.report.terminal import plain

    s = report.summary()
    text = plain("model verdict: ")
    text.append_text(plain(s["verdict"], style=common.VERDICT_STYLES[s["verdict"]]))
    text.append_text(
        plain(
            f" - {s['num_layers']} matrices: {s['num_compatible']} compatible, {s['num_caution']} caution, "
            f"{s['num_incompatible']} incompatible ({s['num_other']} other tensors not compared); max distance "
            f"{common.format_number(s['max_rel_distance'])}, max interference {common.format_number(s['max_interference'])}"
        )
    )
    if report.base is None:
        text.append_text(plain("\nno --base: task-vector interference not measured", multiline=True))
    return text


COMMAND = common.Command(
    "merge-check",
    help="spectral compatibility of models before merging them",
    description="For every 2-D weight matrix: effective-rank spread, spectral-norm and Marchenko-Pastur "
    "sigma^2 ratios, spikes above the Tracy-Widom edge, distance between the models and, with a base, the "
    "overlap of the task vectors' signal subspaces (interference); a verdict per layer (compatible, "
    "caution, incompatible) and for the model. Thresholds: docs/merge.md.",
    arguments=arguments,
    run=run,
)
