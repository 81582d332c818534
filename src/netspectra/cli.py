"""The ``netspectra`` command line: parses arguments, calls the library, prints; no math here.

Every :class:`~netspectra.errors.NetspectraError` ends as one line on stderr and exit code 2.  A Ctrl-C
propagates as ``KeyboardInterrupt``: the ``netspectra`` script (:mod:`netspectra_entry`, also
``python -m netspectra``) turns it into one line and death by SIGINT; outputs are written atomically,
so none is left half-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from netspectra import __version__
from netspectra.errors import NetspectraError, describe_os_error
from netspectra.report.names import printable


def build_parser() -> argparse.ArgumentParser:
    from netspectra.commands import COMMANDS

    parser = argparse.ArgumentParser(
        prog="netspectra",
        description="Random-matrix-theory diagnostics of neural-network weights, with no data.",
    )
    parser.add_argument("--version", action="version", version=f"netspectra {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``netspectra`` script; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except NetspectraError as exc:
        print(f"netspectra: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a writer that met a full or read-only disk: one line, never a traceback
        print(f"netspectra: error: {printable(describe_os_error(exc))}", file=sys.stderr)
        return 2
