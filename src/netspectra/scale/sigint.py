"""Starting worker processes that a Ctrl-C does not reach.

A Ctrl-C at a terminal sends SIGINT to the whole foreground process group: this process and every
worker it started.  Workers started while SIGINT is blocked in the starting thread inherit the blocked
mask (and so do threads started then, which start workers later, as Dask's do), so only this process
sees the Ctrl-C, raises ``KeyboardInterrupt`` and stops the workers itself: no worker prints a
traceback, whether it is starting, idle or busy.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the duration of the block.

    ``multiprocessing``'s resource tracker is started first: starting it (which happens on the first
    semaphore or shared-memory object of the process) unblocks SIGINT in the starting thread, which
    would undo the block for every process and thread started after it.  A SIGINT that arrives during
    the block is not lost: another thread of this process takes it, or it is delivered when the block ends.
    """
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
