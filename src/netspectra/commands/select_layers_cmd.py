"""``netspectra select-layers``: which modules to fine-tune, by signal-to-noise above an RMT threshold."""

from __future__ import annotations

import argparse

from netspectra.commands import common
from netspectra.report.terminal import plain


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "select-layers",
        help="modules to fine-tune: top fraction by signal-to-noise above the MP edge or Gavish-Donoho threshold",
        description="Analyze the model and score every weight matrix by SNR = sum of its singular values above a "
        "random-matrix threshold / sum of those below (Spectrum's criterion with the real MP edge, or the "
        "Gavish-Donoho threshold); select the top fraction of each module type. Writes the unfrozen-parameter "
        "list fine-tuning tools read (Spectrum's unfrozen_parameters) and PEFT target_modules." + " " + common.INPUTS_HELP,
    )
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspectra.actions import select_layers
    from netspectra.report.export import DOCUMENT_FORMATS, check_output_path, write_document
    from netspectra.report.overwrite import check_outputs_against_inputs

    output = check_output_path(args.output, DOCUMENT_FORMATS) if args.output else None
    check_outputs_against_inputs([output], [args.path])
    with common.executor_of(args) as executor, common.progress_bar("analyzing", quiet=common.is_quiet(args)) as advance:
        plan = select_layers(
            args.path,
            common.spec_of(args),
            top=args.top,
            threshold=args.threshold,
            per_type=args.per_type,
            executor=executor,
            workers=args.workers,
            progress=advance,
        )
    if output is not None:
        write_document(output, plan.to_dict())
    if args.json:
        common.print_json(plan.to_dict())
        return 0
    if args.quiet:
        return 0
    from rich.table import Table

    console = common.result_console()
    table = Table(title=plain(f"netspectra select-layers: top {args.top:g} by SNR above {args.threshold}"), header_style="bold")
    for header in ("layer", "SNR", "signal", "selected"):
        table.add_column(header, justify="left" if header == "layer" else "right")
    for layer in sorted(plan.layers, key=lambda x: (x.module_type, -x.snr)):
        table.add_row(
            plain(layer.name),
            common.format_number(layer.snr, ".3g"),
            str(layer.num_signal),
            "yes" if layer.selected else "",
            style="bold" if layer.selected else None,
        )
    console.print(table)
    console.print(plain(f"{len(plan.selected)} of {len(plan.layers)} matrices selected"))
    if output is not None:
        console.print(plain(f"wrote {output}"))
    return 0
