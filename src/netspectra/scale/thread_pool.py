"""Threads of this process that analyze small layers side by side, BLAS capped at one thread.

On a small model the fits after each decomposition weigh as much as the decomposition: MiniLM's 40
matrices (at most 30522 x 384) take 0.32 s of Gram + ``syevd`` and 0.22 s of fits, thousands of small
NumPy calls that hold the GIL and leave the second core idle (two BLAS threads gain nothing on them,
:mod:`.blas_threads`).  Two threads, one layer each, with BLAS at one thread: while one
thread fits, the other decomposes (LAPACK and BLAS release the GIL), so both cores work all the time.
Peak memory is ``threads`` layers at once (:func:`.workers.local_threads` sizes the pool so they fit).

Ctrl-C: the threads are started with SIGINT blocked, so the signal reaches the main thread, which raises
``KeyboardInterrupt`` within :data:`.ordered.POLL_S`; leaving the executor, queued layers are cancelled
and the ones being analyzed finish (the rule admits only layers of at most about a second).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import TypeVar

from netspectra.errors import UsageError
from netspectra.scale.blas_threads import one_blas_thread
from netspectra.scale.ordered import ordered_map

T = TypeVar("T")
R = TypeVar("R")

#: Items submitted ahead per thread: a long layer at the head must not leave the other threads idle
#: (MiniLM's 30522 x 384 embedding takes as long as ~15 of its other layers; 4 ahead per thread made the
#: analysis 5% slower).  Queued items hold no matrix; finished ones hold their row until it is yielded.
PREFETCH = 32


def _block_sigint() -> None:
    """Thread initializer: SIGINT goes to the main thread, not to this one."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


class ThreadExecutor:
    """``threads`` threads of this process, BLAS and OpenMP capped at one thread while it is open; at most
    ``ahead`` items submitted beyond the one awaited (default ``threads`` x :data:`PREFETCH`)."""

    def __init__(self, threads: int, ahead: int | None = None) -> None:
        self.threads = threads
        self.ahead = threads * PREFETCH if ahead is None else max(threads, ahead)
        self._stack = ExitStack()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ThreadExecutor:
        self._stack.enter_context(one_blas_thread())
        self._pool = self._stack.enter_context(
            ThreadPoolExecutor(self.threads, thread_name_prefix="netspectra-layer", initializer=_block_sigint)
        )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Cancel the queued items after an exception (Ctrl-C included); wait for the running ones."""
        if exc_type is not None and self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._stack.close()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Yield fn(item) for each item, in order."""
        if self._pool is None:
            raise UsageError("open the ThreadExecutor in a with-block before mapping over it")
        return ordered_map(self._pool, fn, items, ahead=self.ahead)
