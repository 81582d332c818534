"""Entry point of the ``netspectra`` command.

It lives outside the package so that a Ctrl-C while the package and NumPy are still being imported
ends like any other interruption (one line, exit code 130) instead of with a traceback.
"""

import sys


def main() -> int:
    try:
        from netspectra.cli import main as cli_main
    except KeyboardInterrupt:
        print("netspectra: interrupted", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
