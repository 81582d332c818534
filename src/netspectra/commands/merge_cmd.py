"""``netspectra merge``: merge models as a YAML configuration says, into a safetensors model directory."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from netspectra.commands import common

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from netspectra.merge.results import MergeResult


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.merge.registry import METHOD_NAMES

    p.add_argument("config", help=f"merge configuration (.yaml, .yml or .json); methods: {', '.join(METHOD_NAMES)}")
    p.add_argument("-o", "--output", required=True, help="output directory (must not exist, or be empty)")
    p.add_argument("--dtype", help="output dtype of merged tensors (F32, F16, BF16, F64), overriding the configuration")
    common.add_report_argument(p, "what was done to every tensor, sortable table")
    common.add_quiet_arguments(p, "the merge log")
    common.add_executor_arguments(p)


def run(args: argparse.Namespace) -> int:
    from netspectra.merge.config import load_config, parse_dtype
    from netspectra.merge.model import merge_models
    from netspectra.report.overwrite import check_outputs_against_inputs

    common.check_outputs(args.report, None)
    config = load_config(args.config, check_paths=True)
    if args.dtype:
        config = replace(config, dtype=parse_dtype(args.dtype))
    check_outputs_against_inputs([args.report], [m.path for m in config.models] + [config.base_model], [args.config])
    with common.running(args, "merging") as running:
        result = merge_models(config, args.output, **running)
    if args.report:
        from netspectra.report.html_views import render_merge_html

        common.write_report_page(render_merge_html(result), args.report, quiet=common.is_quiet(args))
    if console := common.answer(args, result.to_dict):
        console.print(merge_table(result))
        console.print(summary_text(result), soft_wrap=True)
    return 0


def merge_table(result: MergeResult) -> Table:
    """One row per tensor: shape, dtype, rule applied, why, details, verdict."""
    from netspectra.report.terminal import plain

    base = f" onto {result.base}" if result.base else ""
    table = common.tensor_table(f"netspectra merge ({result.method}): {', '.join(result.models)}{base}", "tensor")
    table.add_column("shape", justify="right")
    table.add_column("dtype")
    table.add_column("rule")
    table.add_column("reason", overflow="fold")
    table.add_column("details", overflow="fold")
    table.add_column("verdict")
    table.add_column("interference", justify="right")
    for x in result.layers:
        verdict = plain(x.verdict, style=common.VERDICT_STYLES[x.verdict]) if x.verdict else ""
        table.add_row(
            plain(x.name),
            "x".join(map(str, x.shape)) or "scalar",
            plain(x.dtype),
            x.rule,
            plain(x.reason),
            plain(x.details),
            verdict,
            common.format_number(x.interference),
        )
    return table


def summary_text(result: MergeResult) -> Text:
    """Counts per rule and per verdict, and the files written."""
    from netspectra.report.terminal import plain

    s = result.summary()
    rules = ", ".join(f"{rule} {n}" for rule, n in s["rules"].items())
    text = plain(f"{s['num_tensors']} tensors: {rules}\n", multiline=True)
    if s["verdicts"]:
        text.append_text(plain("verdicts: " + ", ".join(f"{v} {n}" for v, n in s["verdicts"].items()) + "\n", multiline=True))
        if "incompatible" in s["verdicts"]:
            text.append_text(plain("warning", style="red"))
            text.append_text(
                plain(": some layers look incompatible (see merge-check): the merge may keep neither model\n", multiline=True)
            )
    text.append_text(plain(f"wrote {result.output}: {', '.join(result.files)}"))
    return text


COMMAND = common.Command(
    "merge",
    help="merge models as a configuration says (mergekit's methods and schema too)",
    description="Merge two or more models tensor by tensor as CONFIG (YAML or JSON, this package's schema or "
    "mergekit's; docs/merge.md) says: base model, models and weights, method and parameters, per-layer overrides, "
    "output dtype. "
    "Writes a safetensors model directory sharded like the input, with model.safetensors.index.json, "
    "config.json (if the input has one) and netspectra_merge.json (what was done to every tensor).",
    arguments=arguments,
    run=run,
    reads_models=False,
)
