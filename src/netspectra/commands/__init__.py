"""Sub-commands of the ``netspectra`` command line, one module each.

Each module declares its command as data, a :class:`~netspectra.commands.common.Command` named ``COMMAND``
(name, help, description, a function adding its arguments and the function running it); :data:`COMMANDS`
lists them in the order of ``netspectra --help``, and :func:`netspectra.cli.build_parser` registers them.
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

COMMANDS = [analyze_cmd.COMMAND, describe_cmd.COMMAND, compress_cmd.COMMAND]
COMMANDS += [runs_cmd.COMMAND, compare_cmd.COMMAND, track_cmd.COMMAND]
COMMANDS += [report_cmd.COMMAND]
COMMANDS += [merge_cmd.COMMAND, merge_check_cmd.COMMAND]
COMMANDS += [prune_cmd.COMMAND, select_layers_cmd.COMMAND, rank_cmd.COMMAND]
