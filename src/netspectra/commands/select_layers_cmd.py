"""``netspectra select-layers``: which modules to fine-tune, by signal-to-noise above an RMT threshold."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netspectra.commands import common

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.act.selection import LayerSelectionPlan


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="model file or directory")
    p.add_argument("--top", type=float, required=True, help="fraction of each module type to select, e.g. 0.25")
    p.add_argument(
        "--threshold",
        choices=("mp-edge", "gavish-donoho"),
        default="mp-edge",
        help="the random-matrix threshold (default %(default)s)",
    )
    p.add_argument(
        "--global",
        dest="per_type",
        action="store_false",
        help="select the top fraction of all layers together, not of each module type",
    )
    p.add_argument("-o", "--output", help="write the selection to this .yaml or .json file")
    common.add_action_arguments(p, "select-layers", "the selection")


def run(args: argparse.Namespace) -> int:
    from netspectra.actions import select_layers
    from netspectra.report.export import DOCUMENT_FORMATS, check_output_path, write_document
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain

    output = check_output_path(args.output, DOCUMENT_FORMATS) if args.output else None
    check_outputs_against_inputs([output], [args.path])
    with common.running(args, "analyzing") as running:
        plan = select_layers(
            args.path, common.spec_of(args), top=args.top, threshold=args.threshold, per_type=args.per_type, **running
        )
    if output is not None:
        write_document(output, plan.to_dict())
    if console := common.answer(args, plan.to_dict):
        console.print(selection_table(plan, f"top {args.top:g} by SNR above {args.threshold}"))
        console.print(plain(f"{len(plan.selected)} of {len(plan.layers)} matrices selected"))
        common.print_written(console, [output])
    return 0


def selection_table(plan: LayerSelectionPlan, rule: str) -> Table:
    """One row per matrix, by module type and SNR, the selected ones in bold; ``rule`` in the title."""
    from netspectra.report.terminal import plain

    table = common.result_table(f"netspectra select-layers: {rule}", ("layer", "SNR", "signal", "selected"))
    for layer in sorted(plan.layers, key=lambda x: (x.module_type, -x.snr)):
        table.add_row(
            plain(layer.name),
            common.format_number(layer.snr, ".3g"),
            str(layer.num_signal),
            "yes" if layer.selected else "",
            style="bold" if layer.selected else None,
        )
    return table


COMMAND = common.Command(
    "select-layers",
    help="modules to fine-tune: top fraction by signal-to-noise above the MP edge or Gavish-Donoho threshold",
    description="Analyze the model and score every weight matrix by SNR = sum of its singular values above a "
    "random-matrix threshold / sum of those below (Spectrum's criterion with the real MP edge, or the "
    "Gavish-Donoho threshold); select the top fraction of each module type. Writes the unfrozen-parameter "
    "list fine-tuning tools read (Spectrum's unfrozen_parameters) and PEFT target_modules.",
    arguments=arguments,
    run=run,
)
