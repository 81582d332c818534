"""``netspectra compare A B``: what changed between two checkpoints, layer by layer."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.compare.result import ChangeThresholds, LayerComparison, ModelComparison

_RULES = (
    "A matched layer is flagged when ||W_B - W_A||_F / ||W_A||_F > rel_frobenius (weights), "
    "|alpha_B - alpha_A| > alpha_z * sqrt(se_A^2 + se_B^2) (alpha), |spikes_B - spikes_A| >= spikes (spikes), "
    "the phase label changes (phase, when layer rows have one) or the row status changes (status). "
    "Identical weights are never flagged."
)


def arguments(p: argparse.ArgumentParser) -> None:
    from netspectra.compare.result import ChangeThresholds

    defaults = ChangeThresholds()
    p.add_argument("a", help="reference model (file or directory)")
    p.add_argument("b", help="changed model (file or directory; a PEFT adapter folder is merged onto A)")
    p.add_argument("-o", "--output", help="write the per-layer comparison to this .csv, .parquet or .json file")
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"change a flag threshold (repeatable): rel_frobenius (default {defaults.rel_frobenius:g}), "
        f"alpha_z (default {defaults.alpha_z:g}), spikes (default {defaults.spikes})",
    )
    p.add_argument(
        "--rank",
        action="store_true",
        help="list layers most damaged first (relative error of W, then |delta alpha|): did "
        "quantization or a merge damage my model?",
    )
    common.add_report_argument(p, "summary, alpha of A and B and the change by layer, sortable table")
    common.add_action_arguments(p, "compare", "the comparison")


def parse_thresholds(items: list[str]) -> ChangeThresholds:
    """``["rel_frobenius=1e-2", "spikes=2"]`` -> ChangeThresholds with those values replaced."""
    from netspectra.compare.result import ChangeThresholds

    types = {f.name: f.type for f in fields(ChangeThresholds)}
    changes: dict[str, float | int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in types:
            raise UsageError(f"--threshold {item!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        try:
            changes[name] = int(value) if types[name] == "int" else float(value)
        except ValueError:
            raise UsageError(f"--threshold {item!r}: {value!r} is not a number") from None
    return replace(ChangeThresholds(), **changes)


def run(args: argparse.Namespace) -> int:
    from netspectra.compare.pair import compare_models
    from netspectra.report.export import check_output_path, write_results
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain, safe_console

    output = check_output_path(args.output) if args.output else None
    common.check_outputs(args.report, None)
    check_outputs_against_inputs([output, args.report], [args.a, args.b])
    thresholds = parse_thresholds(args.threshold)
    with common.running(args, "comparing") as running:
        comparison = compare_models(args.a, adapter_on(args.b, args.a), common.spec_of(args), thresholds=thresholds, **running)
    if args.rank:
        comparison = comparison.ranked_by_damage()
    if comparison.warning:
        safe_console(stderr=True).print(plain(f"warning: {comparison.warning}", style="bold yellow"))
    if output is not None:
        write_results(output, comparison.columns(), comparison.rows, comparison.to_dict)
    if args.report:
        from netspectra.report.html_views import render_comparison_html

        common.write_report_page(render_comparison_html(comparison), args.report, quiet=common.is_quiet(args))
    if not (console := common.answer(args, comparison.to_dict)):
        return 0
    console.print(comparison_table(comparison, width=console.width))
    by_name = sum(layer.matched_by == "name" for layer in comparison.layers)
    console.print(
        f"{len(comparison.layers)} layers matched ({by_name} by name, {len(comparison.layers) - by_name} by shape); "
        f"{len(comparison.flagged)} flagged"
    )
    for u in comparison.unmatched:
        console.print(plain(f"unmatched in {u.side.upper()}: {u.name} ({u.reason})", style="yellow"))
    common.print_written(console, [output])
    return 0


#: (header, cell) of the terminal table, most important first; narrow terminals drop the later ones.
_TABLE_COLUMNS: tuple[tuple[str, Callable[[LayerComparison], str]], ...] = (
    ("by", lambda c: c.matched_by),
    ("flag", lambda c: c.reasons),
    ("‖ΔW‖F/‖W‖F", lambda c: common.format_number(c.diff_rel_frobenius, ".1e")),
    ("Δalpha", lambda c: common.format_number(c.delta_alpha, "+.3f")),
    ("z", lambda c: common.format_number(c.alpha_z, ".1f")),
    ("Δspikes", lambda c: "-" if c.delta_num_spikes is None else f"{c.delta_num_spikes:+d}"),
    ("rank ΔW", lambda c: "-" if c.diff_rank < 0 else str(c.diff_rank)),
    ("‖ΔW‖₂/‖W‖₂", lambda c: common.format_number(c.diff_rel_spectral, ".1e")),
    ("alpha ΔW", lambda c: common.format_number(c.diff_alpha, ".2f")),
    ("Δalpha_w", lambda c: common.format_number(c.delta_alpha_weighted, "+.3f")),
    ("Δlog‖W‖₂", lambda c: common.format_number(c.delta_log_spectral_norm, "+.4f")),
    ("Δeff.rank", lambda c: common.format_number(c.delta_effective_rank, "+.2f")),
)
_NAME_WIDTH = 28


def comparison_table(comparison: ModelComparison, width: int = 120) -> Table:
    """Rich table, one row per matched layer (flagged rows in yellow), as many columns as fit ``width``."""
    from rich.table import Table

    from netspectra.report.terminal import plain

    table = Table(
        title=plain(f"netspectra compare: {Path(comparison.source_a).name} -> {Path(comparison.source_b).name}"),
        header_style="bold",
    )
    names = [_pair_name(c) for c in comparison.layers]
    name_width = max([len("layer"), *map(len, names)])
    table.add_column("layer", no_wrap=True, max_width=name_width)
    chosen, used = [], name_width + 4
    for header, cell in _TABLE_COLUMNS:
        need = max([len(header), *(len(cell(c)) for c in comparison.layers)]) + 3
        if used + need <= width:
            chosen.append(cell)
            table.add_column(header, justify="left" if header in ("by", "flag") else "right", no_wrap=True)
            used += need
    for name, c in zip(names, comparison.layers):
        table.add_row(plain(name), *(plain(cell(c)) for cell in chosen), style="yellow" if c.flagged else None)
    return table


def _pair_name(c: LayerComparison) -> str:
    from netspectra.report.table import short_name

    name = short_name(c.name_a, _NAME_WIDTH)
    return name if c.name_b == c.name_a else f"{name} ↔ {short_name(c.name_b, _NAME_WIDTH)}"


def adapter_on(b: str, a: str) -> object:
    """``b`` merged onto ``a`` when ``b`` is a PEFT adapter folder and ``a`` is not (compare BASE ADAPTER
    shows the fine-tuned model beside its base), else ``b`` itself."""
    from netspectra.io.adapter_source import is_adapter_dir
    from netspectra.io.sources import open_adapter

    if is_adapter_dir(Path(b)) and not is_adapter_dir(Path(a)):
        return open_adapter(b, a)
    return b


COMMAND = common.Command(
    "compare",
    help="compare two checkpoints layer by layer (did fine-tuning change or damage a layer?)",
    description="Match the weight matrices of A and B by name (else by shape, in order), report the deltas "
    "B - A of alpha, alpha_weighted, log spectral norm, effective rank and spike count, and the spectrum of "
    "W_B - W_A: numerical rank, Frobenius and spectral norm relative to W_A, power-law alpha. " + _RULES,
    arguments=arguments,
    run=run,
)
