"""A pool of worker processes on this machine, results in input order, memory bounded by the pool size.

Workers are started with the ``spawn`` method (a fresh interpreter: safe with threads, BLAS and torch,
unlike ``fork``) and capped to ``threads`` BLAS/OpenMP threads each (:func:`.workers.limit_threads`), so
that workers x threads <= CPUs.  At most ``workers x PREFETCH`` items are submitted ahead of the one
being yielded: each worker loads one matrix at a time, so peak memory is about workers x the largest
layer (:func:`.workers.worker_peak_bytes`), and finished results wait for their turn in this process.

Items and the function must pickle (the file loaders of :mod:`netspectra.io` do).  Code that starts a
pool must sit under ``if __name__ == "__main__":`` in a script, as for any ``spawn`` pool.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from netspectra.scale.executor import ExecutorError
from netspectra.scale.workers import limit_threads, threads_per_worker

T = TypeVar("T")
R = TypeVar("R")

#: Items submitted ahead per worker (keeps workers busy while the head result is awaited).
PREFETCH = 2


class ProcessExecutor:
    """``workers`` processes with ``threads`` BLAS threads each (default CPUs // workers); 1 worker runs inline."""

    def __init__(self, workers: int, threads: int | None = None):
        self.workers = workers
        self.threads = threads_per_worker(workers) if threads is None else threads
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "ProcessExecutor":
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=limit_threads, initargs=(self.threads,),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Yield fn(item) for each item, in order."""
        if self._pool is None:
            yield from (fn(item) for item in items)
            return
        pending: deque[Future] = deque()
        upcoming = iter(items)
        for item in upcoming:
            pending.append(self._pool.submit(fn, item))
            if len(pending) >= self.workers * PREFETCH:
                break
        while pending:
            try:
                result = pending.popleft().result()
            except BrokenProcessPool:
                raise ExecutorError(
                    f"a worker process died (killed for memory?): retry with fewer workers than {self.workers}"
                ) from None
            for item in upcoming:
                pending.append(self._pool.submit(fn, item))
                break
            yield result
