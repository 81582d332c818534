"""The ``netspectra`` command line: parses arguments, calls the library, prints; no math here.

Every :class:`~netspectra.errors.NetspectraError` ends as one line on stderr and exit code 2.  A Ctrl-C
propagates as ``KeyboardInterrupt``: the ``netspectra`` script (:mod:`netspectra_entry`, also
``python -m netspectra``) turns it into one line and death by SIGINT; outputs are written atomically,
so none is left half-written.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from netspectra import __version__
from netspectra.commands.common import INPUTS_HELP
from netspectra.errors import NetspectraError, UsageError, describe_os_error
from netspectra.report.names import printable


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, with a suggestion for a mistyped command or option."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}{_suggestion(self, message)}; see '{self.prog} --help'")


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """`` (did you mean 'analyze'?)`` for an invalid choice of ``parser``, else ``""``."""
    match = re.search(r"invalid choice: '([^']*)'", message)
    if not match:
        return ""
    choices = [c for action in parser._actions for c in (action.choices or ()) if isinstance(c, str)]
    close = difflib.get_close_matches(match.group(1), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown_options(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """The one-line error for arguments the command does not take, with the closest option of the command."""
    options = [o for action in parser._actions for o in action.option_strings]
    hints = []
    for token in extras:
        name = token.split("=", 1)[0]
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.6) if name.startswith("-") else []
        if close:
            hints.append(f"{name}: did you mean {close[0]}?")
    hint = f" ({'; '.join(hints)})" if hints else ""
    return f"unrecognized arguments: {' '.join(extras)}{hint}; see '{parser.prog} --help'"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``only``, the arguments of that command alone are added (the others
    keep their name and help): a command's arguments import what their choices and defaults come from, which
    ``netspectra --version`` and another command's run do not need."""
    from netspectra.commands import COMMANDS

    parser = _Parser(
        prog="netspectra",
        description="Random-matrix-theory diagnostics of neural-network weights, with no data. " + INPUTS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"netspectra {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub, with_arguments=only is None or command.name == only)
    return parser


def command_named(argv: Sequence[str]) -> str:
    """The sub-command ``argv`` names: its first word that is not an option (``""`` when there is none; the
    top-level parser takes no option with a value)."""
    return next((word for word in argv if not word.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``netspectra`` script; returns the exit code."""
    try:
        words = sys.argv[1:] if argv is None else argv
        parser = build_parser(only=command_named(words))
        args, extras = parser.parse_known_args(words)
        if extras:
            raise UsageError(_unknown_options(_subparser(parser, args.command), extras))
        return int(args.func(args) or 0)
    except NetspectraError as exc:
        print(f"netspectra: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a writer that met a full or read-only disk: one line, never a traceback
        print(f"netspectra: error: {printable(describe_os_error(exc))}", file=sys.stderr)
        return 2


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of sub-command ``command``."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]
