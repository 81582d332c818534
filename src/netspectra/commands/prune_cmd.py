"""``netspectra prune``: layer-wise pruning ratios from alpha (AlphaPruning), and a magnitude-pruned model."""

from __future__ import annotations

import argparse

from netspectra.commands import common
from netspectra.errors import UsageError


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.act.pruning import DEFAULT_EPSILON, MAPPINGS, XMIN_RULES

    p.add_argument("path", help="model file or directory")
    p.add_argument("--sparsity", type=float, required=True, help="target fraction of the weights pruned, e.g. 0.5")
    spread = p.add_mutually_exclusive_group()
    spread.add_argument(
        "--epsilon",
        type=float,
        default=DEFAULT_EPSILON,
        help="relative ratios in [1 - epsilon, 1 + epsilon] (default %(default)s, the authors')",
    )
    spread.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("S1", "S2"),
        help="relative ratios of the best- and the least-trained score, instead of --epsilon",
    )
    p.add_argument(
        "--mapping",
        choices=MAPPINGS,
        default="block",
        help="score of a matrix: the mean alpha of its block, or its own (default %(default)s)",
    )
    p.add_argument(
        "--xmin",
        choices=XMIN_RULES,
        default="peak",
        help="alpha's xmin: near the ESD's peak (alpha_peak), or the KS scan of the analysis (default %(default)s)",
    )
    p.add_argument("--uniform", action="store_true", help="every layer at the target (the baseline to compare with)")
    p.add_argument("-o", "--output", help="write the ratios to this .json or .yaml file")
    p.add_argument(
        "--write", metavar="OUT.safetensors", help="also write the model with each matrix magnitude-pruned at its ratio"
    )
    common.add_action_arguments(p, "prune", "the plan")


def run(args: argparse.Namespace) -> int:
    from netspectra.actions import prune
    from netspectra.denoise.pruned import write_pruned
    from netspectra.report.export import DOCUMENT_FORMATS, check_output_path, write_document
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain

    output = check_output_path(args.output, DOCUMENT_FORMATS) if args.output else None
    if args.write and not args.write.endswith(".safetensors"):
        raise UsageError(f"{args.write}: --write takes a .safetensors file name")
    check_outputs_against_inputs([output, args.write], [args.path])
    with common.running(args, "analyzing") as running:
        plan = prune(
            args.path,
            common.spec_of(args),
            sparsity=args.sparsity,
            ratio_range=tuple(args.range) if args.range else (1.0 - args.epsilon, 1.0 + args.epsilon),
            mapping=args.mapping,
            xmin=args.xmin,
            uniform=args.uniform,
            **running,
        )
    if output is not None:
        write_document(output, plan.to_dict())
    if args.write:
        write_pruned(args.path, args.write, {layer.name: layer.sparsity for layer in plan.layers})
    if not (console := common.answer(args, plan.to_dict)):
        return 0
    options = plan.options
    how = (
        "uniform"
        if options.uniform
        else f"{'block-wise' if options.mapping == 'block' else 'per-matrix'}, alpha xmin {options.xmin}"
    )
    s1, s2 = options.ratio_range
    title = f"netspectra prune: {plan.source} at {args.sparsity:g} ({how}, ratios {s1:g}..{s2:g})"
    table = common.result_table(title, ("layer", "N x M", "alpha", "score", "sparsity"))
    for layer in plan.layers:
        cells = (f"{layer.rows}x{layer.cols}", common.format_number(layer.alpha, ".2f"), common.format_number(layer.score, ".2f"))
        table.add_row(plain(layer.name), *cells, f"{layer.sparsity:.3f}")
    console.print(table)
    console.print(plain(f"{len(plan.layers)} matrices, achieved sparsity {plan.achieved:.4f}"))
    for name, reason in plan.excluded:
        console.print(plain(f"not pruned: {name}: {reason}"))
    common.print_written(console, [output, args.write])
    return 0


COMMAND = common.Command(
    "prune",
    help="layer-wise pruning ratios from alpha (AlphaPruning), optionally a magnitude-pruned model",
    description="Analyze the model and give each weight matrix of its repeated blocks a sparsity with the "
    "defaults of AlphaPruning (Lu et al., NeurIPS 2024): alpha with xmin near the ESD's peak, averaged per "
    "block; better-trained blocks (smaller alpha) are pruned less, mapped linearly into [1 - epsilon, "
    "1 + epsilon] x the target and scaled so that the parameter-weighted mean is the target. Embeddings, "
    "the head and a pooler (outside the blocks) are not pruned. Writes the ratios as JSON or YAML for pruning "
    "tools (SparseGPT, Wanda, ...) and, with --write, a safetensors model magnitude-pruned at those ratios.",
    arguments=arguments,
    run=run,
)
