"""Rerun the whole round-three attack: ``cd tests && python -m round3 [PATTERN]``; one line per case."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from round3 import all_cases, verify


def main() -> int:
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    failed = 0
    cases = [(name, case) for name, case in all_cases() if pattern in name]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, case) in enumerate(cases):
            try:
                outcome = verify(case, Path(tmp) / str(i))
                print(f"pass  {outcome.seconds:6.2f} s  {name}")
            except AssertionError as exc:
                failed += 1
                print(f"FAIL            {name}: {str(exc).splitlines()[0] if str(exc) else 'assertion'}")
    print(f"{len(cases) - failed} of {len(cases)} cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
