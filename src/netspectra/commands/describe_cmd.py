"""``netspectra describe``: a model's weight matrices (shapes, kinds, eigenvalue counts), nothing decomposed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netspectra.commands import common
from netspectra.report.columns import Column, columns

if TYPE_CHECKING:
    from rich.table import Table

    from netspectra.diagnose.description import ModelDescription

#: Columns of the terminal table: column, header, format (``-`` for text).
COLUMNS: tuple[Column, ...] = columns(
    """
    model_index   #      d
    name          name   -
    kind          kind   -
    shape         shape  -
    dtype         dtype  -
    N             N      d
    M             M      d
    Q             Q      .3g
    num_matrices  k      d
    num_evals     evals  d
    """
)


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="model file or directory")
    p.add_argument("-o", "--output", help="write the table to this .csv, .parquet or .json file")
    common.add_quiet_arguments(p, "the description")
    common.add_selection_arguments(p, "describe")
    p.set_defaults(ww_compat=False)


def run(args: argparse.Namespace) -> int:
    from netspectra.pipeline import describe
    from netspectra.report.export import check_output_path, write_results
    from netspectra.report.overwrite import check_outputs_against_inputs
    from netspectra.report.terminal import plain
    from netspectra.spec import AnalysisSpec

    if args.output:
        check_output_path(args.output)
    check_outputs_against_inputs([args.output], [args.path])
    description = describe(args.path, AnalysisSpec(selection=common.selection(args)))
    if args.output:
        write_results(args.output, description.columns(), description.rows, description.to_dict)
    if args.json:
        common.print_json(description.to_dict())
    elif not common.is_quiet(args):
        console = common.result_console()
        console.print(description_table(description))
        console.print(plain(f"{len(description.layers)} weight matrices, {description.num_evals:,} eigenvalues"))
        if skipped := len(description.skipped):
            console.print(
                plain(f"{skipped} tensor{'' if skipped == 1 else 's'} without a row (biases, norms, filtered out, ...)")
            )
        if args.output:
            console.print(plain(f"wrote {args.output}"))
    return 0


def description_table(description: ModelDescription) -> Table:
    """The rows of ``description`` as a rich table (names escaped)."""
    from rich.table import Table

    from netspectra.report.terminal import plain

    table = Table(title=plain(description.source))
    for column in COLUMNS:
        table.add_column(column.header, justify="left" if column.format is None else "right", no_wrap=column.key != "name")
    for row in description.layers:
        values = row.to_dict()
        table.add_row(*(plain(format(values[c.key], c.format or "")) for c in COLUMNS))
    return table


COMMAND = common.Command(
    "describe",
    help="a model's weight matrices: shapes, kinds, eigenvalue counts (nothing decomposed)",
    description="List the weight matrices an analysis would decompose, with their position in the model "
    "(#, what --layers picks), kind, stored shape and dtype, oriented N x M, stack size and eigenvalue count, "
    "from the headers alone (WeightWatcher's describe()).",
    arguments=arguments,
    run=run,
)
