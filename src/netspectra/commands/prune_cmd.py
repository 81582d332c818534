"""``netspectra prune``: layer-wise pruning ratios from alpha (AlphaPruning), and a magnitude-pruned model."""

from __future__ import annotations

import argparse

from netspectra.commands import common
from netspectra.errors import UsageError
from netspectra.report.terminal import plain


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from netspectra.act.pruning import DEFAULT_RANGE

    p = subparsers.add_parser(
        "prune",
        help="layer-wise pruning ratios from alpha (AlphaPruning), optionally a magnitude-pruned model",
        description="Analyze the model and give each weight matrix a sparsity: better-trained layers (smaller "
        "alpha) are pruned less, mapped linearly into [s1, s2] x the target and scaled so that the parameter-"
        "weighted mean is the target (Lu et al., NeurIPS 2024). Writes the ratios as JSON or YAML for pruning "
        "tools (SparseGPT, Wanda, ...) and, with --write, a safetensors model magnitude-pruned at those ratios."
        + " "
        + common.INPUTS_HELP,
    )
    p.add_argument("path", help="model file or directory")
    p.add_argument("--sparsity", type=float, required=True, help="target fraction of the weights pruned, e.g. 0.5")
    p.add_argument(
        "--range",
        nargs=2,
        type=float,
        default=DEFAULT_RANGE,
        metavar=("S1", "S2"),
        help="relative ratios of the best- and the least-trained layer (default %(default)s)",
    )
    p.add_argument("--uniform", action="store_true", help="every layer at the target (the baseline to compare with)")
    p.add_argument("-o", "--output", help="write the ratios to this .json or .yaml file")
    p.add_argument(
        "--write", metavar="OUT.safetensors", help="also write the model with each matrix magnitude-pruned at its ratio"
    )
    common.add_action_arguments(p, "prune", "the plan")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspectra.actions import prune
    from netspectra.denoise.pruned import write_pruned
    from netspectra.report.export import DOCUMENT_FORMATS, check_output_path, write_document
    from netspectra.report.overwrite import check_outputs_against_inputs

    output = check_output_path(args.output, DOCUMENT_FORMATS) if args.output else None
    if args.write and not args.write.endswith(".safetensors"):
        raise UsageError(f"{args.write}: --write takes a .safetensors file name")
    check_outputs_against_inputs([output, args.write], [args.path])
    with common.executor_of(args) as executor, common.progress_bar("analyzing", quiet=common.is_quiet(args)) as advance:
        plan = prune(
            args.path,
            common.spec_of(args),
            sparsity=args.sparsity,
            ratio_range=tuple(args.range),
            uniform=args.uniform,
            executor=executor,
            workers=args.workers,
            progress=advance,
        )
    if output is not None:
        write_document(output, plan.to_dict())
    if args.write:
        write_pruned(args.path, args.write, {layer.name: layer.sparsity for layer in plan.layers})
    if args.json:
        common.print_json(plan.to_dict())
        return 0
    if args.quiet:
        return 0
    console = common.result_console()
    from rich.table import Table

    table = Table(title=plain(f"netspectra prune: {plan.source} at {args.sparsity:g}"), header_style="bold")
    for header in ("layer", "N x M", "alpha", "sparsity"):
        table.add_column(header, justify="left" if header == "layer" else "right")
    for layer in plan.layers:
        table.add_row(
            plain(layer.name), f"{layer.rows}x{layer.cols}", common.format_number(layer.alpha, ".2f"), f"{layer.sparsity:.3f}"
        )
    console.print(table)
    console.print(plain(f"{len(plan.layers)} matrices, achieved sparsity {plan.achieved:.4f}"))
    for path in (output, args.write):
        if path:
            console.print(plain(f"wrote {path}"))
    return 0
