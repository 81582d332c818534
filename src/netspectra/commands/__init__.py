"""Sub-commands of the ``netspectra`` command line, one module each.

Each module exposes ``add_parser(subparsers)``, which registers its parser and sets ``func`` to a
function ``(argparse.Namespace) -> int`` returning the exit code.
"""

from netspectra.commands import (
    analyze_cmd,
    compare_cmd,
    compress_cmd,
    describe_cmd,
    merge_check_cmd,
    merge_cmd,
    prune_cmd,
    rank_cmd,
    report_cmd,
    runs_cmd,
    select_layers_cmd,
    track_cmd,
)

COMMANDS = [analyze_cmd, describe_cmd, compress_cmd]
COMMANDS += [runs_cmd, compare_cmd, track_cmd]
COMMANDS += [report_cmd]
COMMANDS += [merge_cmd, merge_check_cmd]
COMMANDS += [prune_cmd, select_layers_cmd, rank_cmd]
