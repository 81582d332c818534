"""Security round three (issue 25): every attack case as data, run by one harness.

Each area module of this package (``hub.py``, ``gguf.py``, ...) defines ``CASES``, a list of :class:`Case`:
a name, a function that builds the hostile files under a fresh folder and returns the ``netspectra``
arguments, and what must happen.  ``tests/hardening/test_round3.py`` runs every case of every module as a
test; ``python -m round3`` (from ``tests/``) reruns the whole attack and prints one line per case.

Each case runs the command line in this process under a wall-clock limit (SIGALRM, default 60 s) and an
address-space limit of the current size plus 2 GiB (RLIMIT_AS), so that a hang or an allocation sized
by a forged header fails the case instead of the machine.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pkgutil
import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: Wall-clock limit of one case, in seconds.
CASE_SECONDS = 60
#: Address space a case may use beyond what the process already holds.
CASE_MEMORY = 2 << 30

#: Characters that must never reach a terminal from a file's content: ESC, BEL, CR, and the other C0/C1
#: controls except newline and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Outcome:
    """What one run of the command line did."""

    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class Case:
    """One attack.

    Attributes
    ----------
    name : str
        Unique within its module; says what the file does (``refs/main holds ../../..``).
    build : callable
        ``build(folder) -> argv``: writes the hostile files under ``folder`` (a fresh empty directory;
        a file meant to stay unread goes in ``folder / "outside"``) and returns the arguments of
        ``netspectra`` (without the program name).  Relative paths are taken from ``folder``.
    expect : {"refused", "ok"}
        ``refused``: exit 2 and exactly one stderr line ``netspectra: error: ...``; ``ok``: exit 0 (a
        correct result; ``check`` says what correct is).
    match : str
        A regular expression the error line must contain (``refused`` only).
    check : callable, optional
        ``check(folder, outcome)``: further assertions (nothing of ``outside`` read or written, the
        result's values), raising AssertionError.
    env : mapping, optional
        Environment variables set while the command runs (``HF_HUB_CACHE`` of a hostile cache);
        relative paths in them are taken from ``folder``, the working directory of the run.
    """

    name: str
    build: Callable[[Path], Sequence[str]]
    expect: Literal["refused", "ok"] = "refused"
    match: str = ""
    check: Callable[[Path, Outcome], None] | None = field(default=None, compare=False)
    env: Mapping[str, str] = field(default_factory=dict, compare=False)


class CaseTimeout(BaseException):
    """Raised by SIGALRM (a BaseException, so that no ``except Exception`` turns a hang into an error)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CaseTimeout


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _limits(seconds: int, memory: int) -> Iterator[None]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_size() + memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: Sequence[str], cwd: Path, *, seconds: int = CASE_SECONDS, memory: int = CASE_MEMORY) -> Outcome:
    """``netspectra.cli.main(argv)`` in ``cwd`` under the limits; stdout and stderr captured.

    Raises
    ------
    AssertionError
        A hang past ``seconds``, a MemoryError, or any exception escaping ``main`` (a traceback).
    """
    from netspectra.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    start = time.perf_counter()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _limits(seconds, memory):
            code = main([str(a) for a in argv])
    except CaseTimeout:
        raise AssertionError(f"hang: more than {seconds} s") from None
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except MemoryError:
        raise AssertionError(f"out of memory (limit {memory / 2**30:.1f} GiB over the process)") from None
    except Exception as exc:  # noqa: BLE001 - the point is that nothing escapes main()
        raise AssertionError(f"traceback: {type(exc).__name__}: {exc}") from exc
    finally:
        os.chdir(here)
    return Outcome(int(code), out.getvalue(), err.getvalue(), time.perf_counter() - start)


def verify(case: Case, folder: Path) -> Outcome:
    """Build ``case`` under ``folder``, run it, and assert its expected outcome (AssertionError otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = case.build(folder)
    with _environment(case.env):
        outcome = run_cli(argv, folder)
    for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        bad = _CONTROL.search(text)
        assert bad is None, f"control character {bad.group()!r} on {stream}: {text[:300]!r}"
    lines = outcome.stderr.strip().splitlines()
    if case.expect == "refused":
        assert outcome.code == 2, f"exit {outcome.code}, expected a refusal: {outcome.stderr[-500:]!r}"
        assert len(lines) == 1 and lines[0].startswith("netspectra: error:"), f"not one error line: {outcome.stderr!r}"
        assert re.search(case.match, lines[0]), f"error line does not match {case.match!r}: {lines[0]}"
    else:
        assert outcome.code == 0, f"exit {outcome.code}: {outcome.stderr[-500:]!r}"
    if case.check is not None:
        case.check(folder, outcome)
    return outcome


def all_cases() -> list[tuple[str, Case]]:
    """``(module.case name, case)`` of every area module of this package."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += [(f"{info.name}: {case.name}", case) for case in getattr(module, "CASES", [])]
    return found
