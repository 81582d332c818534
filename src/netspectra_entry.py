"""Entry point of the ``netspectra`` command.

It lives outside the package so that a Ctrl-C while the package and NumPy are still being imported
ends like any other interruption instead of with a traceback.  It imports nothing but the standard
library before the package.

A Ctrl-C prints the one line ``netspectra: interrupted``; then, once Python's exit handlers have run
(pool queues, temporary files), the process dies of SIGINT.  Dying of the signal, rather than exiting
with status 130, lets a shell loop over models stop at a Ctrl-C: bash goes on to the next command when
a child exits 130 and stops when the child was killed by SIGINT (``$?`` is 130 either way).  It is also
how CPython ends on an unhandled ``KeyboardInterrupt``, and how it ends anyway when the interrupt lands
in code run by ``exec()`` of a string (dataclasses and SciPy build functions that way while importing).

A Ctrl-C is never lost: the handler notes it before raising ``KeyboardInterrupt``, so one swallowed by
a library (a bare ``except:`` around an optional import) still ends the run.
"""

import atexit
import os
import signal
import sys
from types import FrameType

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130

_sigint_received = False
_dying_of_sigint = False


def _note_sigint(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler: :func:`signal.default_int_handler`, which also remembers that it ran."""
    global _sigint_received
    _sigint_received = True
    raise KeyboardInterrupt


def _die_of_sigint() -> None:
    """Exit handler, registered by :func:`main` before the package is imported, so run after the handlers
    that the package and its libraries register (last registered, first run): end by SIGINT's default action."""
    if not _dying_of_sigint:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written to it
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a Ctrl-C or was raised because of one.

    A C extension interrupted while it initialises (NumPy, matplotlib) turns the ``KeyboardInterrupt``
    into ``ImportError("initialization failed")`` with the interrupt as its cause.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def end_interrupted(exc: BaseException) -> int:
    """For an exception caused by Ctrl-C: print the one line and return :data:`INTERRUPTED`; re-raise
    any other exception.

    An exception raised after a Ctrl-C arrived counts as caused by it even when its chain lost the
    ``KeyboardInterrupt``: NumPy interrupted while it imports ``datetime`` through ``PyCapsule_Import``
    raises a bare ``ImportError("PyCapsule_Import could not import module 'datetime'")``.
    """
    if not (_sigint_received or caused_by_interrupt(exc)):
        raise exc
    print("netspectra: interrupted", file=sys.stderr)
    return INTERRUPTED


def run(argv: list[str] | None = None) -> int:
    """Import the package and run :func:`netspectra.cli.main`; return its exit code, or
    :data:`INTERRUPTED` after the one line when a Ctrl-C (even one a library swallowed) stopped it."""
    try:
        from netspectra.cli import main as cli_main

        if _sigint_received:  # swallowed while importing
            raise KeyboardInterrupt
        code = cli_main(argv)
    except BaseException as exc:  # Ctrl-C: one line; anything else (SystemExit of --help) propagates
        return end_interrupted(exc)
    if _sigint_received and code != INTERRUPTED:
        return end_interrupted(KeyboardInterrupt())
    return code


def main() -> int:
    """Run the command line; a Ctrl-C ends the process by SIGINT (module docstring)."""
    global _dying_of_sigint
    atexit.register(_die_of_sigint)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if started with SIGINT ignored
        signal.signal(signal.SIGINT, _note_sigint)
    code = run()
    _dying_of_sigint = code == INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
