"""``netspectra compress``: denoise every weight matrix with an RMT threshold and write a safetensors file."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from netspectra.commands import common

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.denoise.results import CompressionReport


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.denoise.methods import DEFAULT_MIN_DIM, SHRINK_KINDS

    p.add_argument("path", help="model file or directory")
    p.add_argument("-o", "--output", required=True, help="the .safetensors file to write (never the input)")
    p.add_argument(
        "--method",
        default="gavish-donoho",
        help="keep rule: mp-edge, gavish-donoho, bema, rank:K or energy:F (default %(default)s)",
    )
    p.add_argument(
        "--shrink",
        default="hard",
        choices=SHRINK_KINDS,
        help="shrink kept singular values with the optimal shrinker for this loss (default %(default)s)",
    )
    p.add_argument(
        "--dense", action="store_true", help="write every matrix dense with its original shape (a drop-in file, not smaller)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write the file even if the function check fails or layers are zeroed or keep less than a quarter of their energy",
    )
    common.add_action_arguments(p, "compress", "the report", fit=False, min_dim=DEFAULT_MIN_DIM)


def run(args: argparse.Namespace) -> int:
    from netspectra.denoise.methods import Method
    from netspectra.denoise.model import compress_model
    from netspectra.report.terminal import plain, warn

    method = Method.parse(args.method)
    with common.running(args, "compressing") as running:
        report = compress_model(
            args.path,
            args.output,
            common.spec_of(args),
            method=method,
            shrink=args.shrink,
            factored=not args.dense,
            force=args.force,
            **running,
        )
    if report.damaged:  # written only with --force: say it loudly, on stderr, whatever the output mode
        warn(report.damage_summary())
    if report.function is not None and not report.function.passed:
        warn(report.function.describe())
    if console := common.answer(args, report.to_dict):
        console.print(compression_table(report))
        console.print(plain(totals_line(report), multiline=True), soft_wrap=True)
    return 0


def compression_table(report: CompressionReport) -> Table:
    """One row per compressed matrix: shape, rank kept, parameters, error and predicted overlaps."""
    from netspectra.report.terminal import plain

    title = f"netspectra compress: {report.source} -> {report.output} ({report.method}, shrink {report.shrink})"
    table = common.tensor_table(title)
    for header in ("N", "M", "rank", "params", "params out", "rel err F", "energy kept", "pred cos² u/v"):
        table.add_column(header, justify="right", overflow="fold")
    for layer in report.layers:
        cos = (
            "-"
            if math.isnan(layer.mean_pred_cos2_left)
            else (f"{layer.mean_pred_cos2_left:.2f}/{layer.mean_pred_cos2_right:.2f}")
        )
        table.add_row(
            plain(f"{layer.name} *" if layer.warning else layer.name),
            str(layer.N),
            str(layer.M),
            str(layer.rank),
            f"{layer.params_before:,}",
            f"{layer.params_after:,}",
            f"{layer.rel_fro_error:.3f}",
            f"{layer.energy_kept:.0%}",
            cos,
            style="red" if layer.damage else "yellow" if layer.warning else None,
        )
    warnings = sorted({layer.warning for layer in report.layers if layer.warning})
    if warnings:
        table.caption = plain("* " + "; ".join(warnings))
    return table


def totals_line(report: CompressionReport) -> str:
    """Totals: parameters before/after, compression ratio, and what was copied unchanged."""
    from netspectra.denoise.factored import sidecar_path

    s = report.summary()
    lines = [
        f"{s['num_compressed']} matrices compressed, {s['num_copied']} tensors copied unchanged; "
        f"parameters {s['params_before']:,} -> {s['params_after']:,} "
        f"(compression ratio {s['compression_ratio']:.2f}x"
        + ("" if report.factored else f"; {s['factored_ratio']:.2f}x without --dense")
        + ")"
    ]
    if report.function is not None:
        lines.append(report.function.describe())
    if s["copied_reasons"]:
        lines.append("copied: " + ", ".join(f"{reason} ({n})" for reason, n in s["copied_reasons"].items()))
    lines.append(f"wrote {report.output}" + (f" and {sidecar_path(report.output)}" if report.factored else ""))
    return "\n".join(lines)


COMMAND = common.Command(
    "compress",
    help="low-rank denoise every weight matrix with a random-matrix threshold",
    description="Keep the singular components of each 2-D weight matrix that a random-matrix threshold "
    "separates from noise, optionally shrink them, and write a safetensors file: each matrix as factors "
    "NAME.A @ NAME.B where that is smaller (plus OUT.json; analyze and compare read OUT as the original layers), or "
    "with --dense every tensor with its original name, shape and dtype. Conv kernels, biases, norms and "
    "fused QKV tensors are copied unchanged. The compressed model is judged as a whole: where it runs "
    "(transformers installed, a folder with config.json) on 32 probe sentences against the original (mean "
    "cosine of the pooled outputs >= 0.99), else by a data-free bound on its output error. A compression that "
    "fails that check, or would zero a layer or leave it less than a quarter of its energy, is refused "
    "(nothing written, with a setting that passes where one was found) unless --force.",
    arguments=arguments,
    run=run,
)
