"""Entry point of the ``netspectra`` command.

It lives outside the package so that a Ctrl-C while the package and NumPy are still being imported
ends like any other interruption (one line, exit code 130) instead of with a traceback.  It imports
nothing but the standard library before the package.
"""

import sys

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


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
    any other exception."""
    if not caused_by_interrupt(exc):
        raise exc
    print("netspectra: interrupted", file=sys.stderr)
    return INTERRUPTED


def main() -> int:
    try:
        from netspectra.cli import main as cli_main
    except BaseException as exc:
        return end_interrupted(exc)
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
