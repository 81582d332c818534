"""Signal tests: a ``netspectra`` command line in a subprocess that says when it is mid-run.

A signal test that sleeps a fixed time before its signal tests nothing when the run ends first (a fast
machine) and hits the interpreter's start instead of the run on a busy one.  Here the run itself
creates a marker file at a chosen point of its work, found by a Python audit hook (PEP 578: ``import``
of a module, ``open`` of a file, ``os.rename`` onto a path) installed before ``netspectra_entry`` runs,
so the code under test is unchanged.  The test waits for the marker, sends its signal, and then checks
that the signal ended the run (a run that was over would have exited 0).

With ``pause`` the hook holds the thread that reached the point until a signal ends the run (a
``KeyboardInterrupt`` raised there, as a Ctrl-C at that instant would): the signal then lands exactly
there however busy the machine is.  Only the main thread pauses; events of other threads are counted
but not held.

Events of the child processes of the run (workers) are not seen: the hook lives in the run's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: How long a paused run waits for its signal before it goes on (a test that forgot to send one).
PAUSE_SECONDS = 120

_RUN = """
import os, sys, threading, time

EVENTS, PREFIXES, COUNT, MARKER, PAUSE, LOG = {events!r}, {prefixes!r}, {count!r}, {marker!r}, {pause!r}, {log!r}
seen = 0
busy = False  # the hook's own opens (the log, the marker) are events too


def _first_path(args):
    first = args[0] if args else None
    if isinstance(first, (str, bytes, os.PathLike)):
        return os.fsdecode(first)
    return None


def _hook(event, args):
    global seen, busy
    if event not in EVENTS or seen >= COUNT or busy:
        return
    path = _first_path(args)
    if path is None or not path.startswith(PREFIXES):
        return
    busy = True
    if LOG is not None:
        with open(LOG, "a") as log:
            log.write(f"{{event}} {{path}} {{threading.current_thread().name}}\\n")
        busy = False
        return
    seen += 1
    if seen == COUNT:
        os.close(os.open(MARKER, os.O_WRONLY | os.O_CREAT))
        if PAUSE and threading.current_thread() is threading.main_thread():
            deadline = time.monotonic() + {pause_seconds}
            while time.monotonic() < deadline:
                time.sleep(0.05)  # a SIGINT raises KeyboardInterrupt here, in the audited call
    busy = False


sys.addaudithook(_hook)
import netspectra_entry

sys.exit(netspectra_entry.main())
"""


def command(
    args: Sequence[object],
    marker: Path | None = None,
    *,
    events: Sequence[str] = ("open",),
    prefixes: Sequence[str | os.PathLike[str]] = ("",),
    count: int = 1,
    pause: bool = False,
    log: Path | None = None,
) -> list[str]:
    """The argv of ``netspectra *args`` (``netspectra_entry.main``, as the installed script runs it) that
    creates ``marker`` when, in its main process, the ``count``-th audit event of ``events`` whose first
    argument (a module name, a path) starts with one of ``prefixes`` happens; with ``pause``, the main
    thread then waits there for its signal.

    With ``log`` instead of ``marker``, each such event is appended to ``log`` (``event path``, one a
    line): the points of a reference run, to choose one from.
    """
    code = _RUN.format(
        events=tuple(events),
        prefixes=tuple(map(os.fspath, prefixes)),
        count=count if log is None else sys.maxsize,
        marker=None if marker is None else os.fspath(marker),
        pause=pause,
        log=None if log is None else os.fspath(log),
        pause_seconds=PAUSE_SECONDS,
    )
    return [sys.executable, "-c", code, *map(os.fspath, args)]


def wait_for_marker(proc: subprocess.Popen, marker: Path, timeout: float = 120.0) -> None:
    """Wait until ``marker`` exists; fail if the run ends first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before it was mid-run ({marker.name})")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker.name} after {timeout:.0f} s")
        time.sleep(0.005)
